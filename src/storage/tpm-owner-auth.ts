import { AuthError } from "../errors.js";

/**
 * The audit key's NV index, named beside the areas 0 and 1 where the indices under the previous
 * authValue are listed (owner.json's `nv.areas`): it moves with them (docs/spec.md §9.7).
 */
export const AUDIT_KEY_AREA = 2;

/** What the NV area tells the holder: which of its areas are defined now (under whichever authValue). */
export type DefinedAreas = () => Promise<number[]>;

/**
 * The authValue of reid's TPM NV indices, held in memory only, for as long as the element is open
 * (one command, or the daemon's life): the owner gate puts it here when a PIN proves the owner, the
 * NV area takes it from here for each command that authorizes an index. While the indices move to a
 * new PIN's authValue (pin set, pin change), the areas defined before the move keep the previous one
 * until they are undefined. Before a PIN is set the authValue is empty; once one is set and none is
 * held, nothing is sent to the TPM (a wrong try would count towards its lockout): the operation is
 * refused, `pin-required`. docs/spec.md §2.8, §5.7.
 */
export class TpmOwnerAuth {
  private current: Uint8Array | null = null;
  private previous: { value: Uint8Array; areas: Set<number> } | null = null;
  private probe: DefinedAreas | null = null;
  private keyProbe: DefinedAreas | null = null;
  private readonly held = new Set<() => void>();
  private readonly settled = new Set<() => void>();
  private readonly moved = new Set<(areas: number[]) => void>();

  /** `pinSet`: whether a PIN is set, so that the indices are under its authValue. */
  constructor(private readonly pinSet: () => boolean) {}

  /**
   * Whether the store's NV indices need the PIN's authValue and it is not held: reading the
   * identifier needs a proof first. Never on a store whose areas are not NV indices.
   */
  missing(): boolean {
    return this.probe !== null && this.current === null && this.pinSet();
  }

  /** The authValue now in force (empty before a PIN is set), or null when a PIN is set and it is not held. */
  value(): Uint8Array | null {
    if (this.current) return this.current;
    return this.pinSet() ? null : new Uint8Array(0);
  }

  /** The authValue `area`'s index was defined with, or null when a PIN is set and it is not held. */
  known(area: number): Uint8Array | null {
    return this.previous?.areas.has(area) ? this.previous.value : this.value();
  }

  /** The authValue `area`'s index was defined with; throws `pin-required` when it is not held. */
  forArea(area: number): Uint8Array {
    const value = this.known(area);
    if (value === null) {
      throw new AuthError(
        "pin-required",
        "the TPM keeps the identifier under the owner's authorization: give the PIN (--pin-file FILE, REID_PIN or at the prompt), or to 'reid serve' once",
      );
    }
    return value;
  }

  /** Holds a proven PIN's authValue; `previous`: the areas that still carry the one before (a move). */
  hold(value: Uint8Array, previous: { value: Uint8Array; areas: readonly number[] } | null = null): void {
    this.current?.fill(0);
    this.current = Uint8Array.from(value);
    this.previous?.value.fill(0);
    this.previous =
      previous && previous.areas.length > 0
        ? { value: Uint8Array.from(previous.value), areas: new Set(previous.areas) }
        : null;
    for (const listener of [...this.held]) listener();
  }

  /** The area's index is undefined: whatever authValue it had is gone with it. */
  undefined(area: number): void {
    if (!this.previous?.areas.delete(area)) return;
    if (this.previous.areas.size > 0) {
      // The others still carry it: the list is written without this one, as its index is gone
      // (and will be defined under the value in force, the audit key's before the areas' maybe).
      for (const listener of [...this.moved]) listener([...this.previous.areas]);
      return;
    }
    this.previous.value.fill(0);
    this.previous = null;
    for (const listener of [...this.settled]) listener();
  }

  /** Whether `area`'s index still carries the previous authValue. */
  movingArea(area: number): boolean {
    return this.previous?.areas.has(area) === true;
  }

  /** Whether one of the areas (the record's indices) still carries the previous authValue. */
  moving(): boolean {
    return this.previous !== null && [...this.previous.areas].some((area) => area !== AUDIT_KEY_AREA);
  }

  /** Set by the NV area: which of its areas are defined now. */
  attach(probe: DefinedAreas): void {
    this.probe = probe;
  }

  /** Set by the audit key's home: [AUDIT_KEY_AREA] while its index is defined under the PIN's authValue. */
  attachKey(probe: DefinedAreas): void {
    this.keyProbe = probe;
  }

  /** The areas defined now (none on a store whose areas are not NV indices), the audit key's included. */
  async definedAreas(): Promise<number[]> {
    const areas = this.probe ? await this.probe() : [];
    return this.keyProbe ? [...areas, ...(await this.keyProbe())] : areas;
  }

  /** Called each time an authValue is held (a due scheduled request that waited can run). */
  onHeld(listener: () => void): () => void {
    this.held.add(listener);
    return () => this.held.delete(listener);
  }

  /** Called when an index under the previous authValue is undefined and others still carry it. */
  onMoved(listener: (areas: number[]) => void): () => void {
    this.moved.add(listener);
    return () => this.moved.delete(listener);
  }

  /** Called when the last index under the previous authValue is undefined (the move is done). */
  onSettled(listener: () => void): () => void {
    this.settled.add(listener);
    return () => this.settled.delete(listener);
  }

  /** Forgets what it holds. */
  clear(): void {
    this.current?.fill(0);
    this.current = null;
    this.previous?.value.fill(0);
    this.previous = null;
  }
}
