/** The two areas of a store; records alternate between them so one is always whole. */
export type AreaIndex = 0 | 1;

/**
 * The bus between the processing unit and a backend's predetermined storage area (claims 12
 * and 24): read, write and erase of a fixed-size area by address. Every backend (file slots,
 * TPM NV indices, PKCS#11 objects) offers exactly this, and DualAreaStore builds crash-atomic
 * commits on top of it.
 */
export interface StorageArea {
  readonly areaSize: number;
  /** Opened for writing (commits and clean-ups), not just to look. */
  readonly writable: boolean;
  /** False until provision() has created the areas. */
  provisioned(): Promise<boolean>;
  /**
   * Creates both areas with these contents, durably and so that a crash leaves none or both, with
   * `journal` beside area 0's record when the backend keeps one.
   */
  provision(contents: readonly [Uint8Array, Uint8Array], journal?: Uint8Array): Promise<void>;
  read(area: AreaIndex): Promise<Uint8Array>;
  /**
   * Resolves once `data` (areaSize bytes) is durable in `area`, with `journal` (at most
   * journalCapacity bytes) beside it in the same durable write, when the backend keeps one.
   */
  write(area: AreaIndex, data: Uint8Array, journal?: Uint8Array): Promise<void>;
  /** Bytes a write can keep beside the record; absent: none (the audit log is then synced first). */
  readonly journalCapacity?: number;
  /** What the last read of `area` found beside its record (empty: nothing). */
  journalOf?(area: AreaIndex): Uint8Array;
  /** Overwrites `area` with zeros, durably: the bytes go, not just a name. */
  erase(area: AreaIndex): Promise<void>;
  /** Ends this writer's exclusive hold (the backend's connection is closed after, by its opener). */
  close(): Promise<void>;
}
