import { StateError, StorageError } from "../errors.js";
import { defaultFormat } from "../format/format.js";
import {
  type CommitOptions,
  EraseIncompleteError,
  type IdentifierStore,
  type LoadOptions,
} from "./identifier-store.js";
import { decodeJournal, encodeJournal, JOURNAL_OVERHEAD } from "./journal.js";
import {
  AREA_SIZE,
  type DecodedArea,
  decodeArea,
  encodeRecord,
  type IdentifierRecord,
  isZero,
  RECORD_CAPACITY,
  type RecordInfo,
  type RecordOwner,
  type StoredRecord,
} from "./record.js";
import { type RollbackCounter, rolledBack } from "./rollback-counter.js";
import type { Sealer } from "./sealer.js";
import type { SealingControl } from "./sealing/control.js";
import type { AreaIndex, StorageArea } from "./storage-area.js";

const NEVER_COMMITTED: RecordInfo = {
  state: "blank",
  generation: 0,
  epoch: 0,
  format: defaultFormat(RECORD_CAPACITY),
  singleType: false,
  mode: "random",
  sealed: false,
  handle: null,
};

type Newest = { readonly area: AreaIndex; readonly decoded: Extract<DecodedArea, { kind: "record" }> };

export interface DualAreaOptions {
  /** Seals identifiers under a key-encryption key. */
  readonly sealer?: Sealer | null;
  /** The store directory: where everything beside the identifier is kept. */
  readonly directory: string;
  /** Where the areas are, for messages and status ("files", "swtpm:..., NV 0x01524500"). */
  readonly description: string;
  /** How messages name the store (default: its directory). */
  readonly name?: string;
  /**
   * The store's id: every record it writes carries it, and a record of another store is refused.
   * Null for a directory that has none yet (a read-only look at a new directory): it reads only
   * records of no store.
   */
  readonly storeId: Uint8Array | null;
  /** A directory from before store ids whose areas are its own: it takes the id of the record it finds. */
  readonly adopt?: (id: Uint8Array) => void;
  /** What else the owner of a refused directory can do: "choose another nv-index". */
  readonly anotherPlace?: string;
  /** Keeps the highest committed epoch apart from the areas: an older record is refused (§5.10). */
  readonly counter?: RollbackCounter | null;
  /**
   * Called before the first use of the sealer (a load or commit): where the key lives in a TPM
   * or token it is opened then, not for a status that never needs it (docs/spec.md §5.4).
   */
  readonly beforeKeyUse?: () => Promise<void>;
  /** The id of the key that seals the store, known without opening it (store.json). */
  readonly keyId?: () => string | null;
}

/**
 * Crash-atomic commits over two areas. A commit clears the target area if anything is left in
 * it (claim 8's erase before write), writes the new record there durably, and only then erases
 * the area holding the old record. At every instant one area holds a whole record: the old one
 * until the new is durable, the new one after. Reads pick the valid record with the highest epoch.
 *
 * With a Sealer, identifiers are stored sealed; a sealed store answers info() without the key,
 * and refuses load() and commits without it, or with the wrong one.
 * Specified in docs/spec.md §5.2, §5.3.
 */
export class DualAreaStore implements IdentifierStore {
  readonly capacity = RECORD_CAPACITY;
  readonly journalCapacity: number;
  /** The owner's changes of sealing key, when the opener gives them (storage/open.ts). */
  sealing?: SealingControl;
  /** The committed record's area (null: never committed) and fields, once read. */
  private current: { area: AreaIndex | null; info: RecordInfo } | null = null;
  /** Areas that may still hold bytes (a torn write, a superseded record we failed to erase). */
  private readonly dirty = [true, true];
  /** The sealer opened a record of this store (or sealed one): it is this store's key. */
  private keyProven = false;

  readonly directory: string;
  readonly description: string;
  private sealer: Sealer | null;
  /** A re-seal in clear is under way: this one commit may write the identifier in clear. */
  private clearing = false;
  /** How messages name the store. */
  private readonly location: string;
  private storeId: Uint8Array | null;

  constructor(
    private readonly area: StorageArea,
    private readonly options: DualAreaOptions,
  ) {
    if (area.areaSize !== AREA_SIZE) throw new RangeError(`areas must be ${AREA_SIZE} bytes`);
    this.directory = options.directory;
    this.description = options.description;
    this.location = options.name ?? options.directory;
    this.sealer = options.sealer ?? null;
    this.storeId = options.storeId && Uint8Array.from(options.storeId);
    this.journalCapacity = Math.max(0, (area.journalCapacity ?? 0) - JOURNAL_OVERHEAD);
  }

  get sealingKeyId(): string | null {
    return this.options.keyId?.() ?? this.sealer?.keyId ?? null;
  }

  /** Seals with `sealer` from now on (the key a re-seal or its recovery settled on). */
  useSealer(sealer: Sealer | null): void {
    this.sealer = sealer;
    this.keyProven = false;
  }

  /**
   * Whether `sealer` opens the identifier in force: null when there is none sealed to open (a
   * blank record, or one in clear). Nothing is kept or changed.
   */
  async opensWith(sealer: Sealer): Promise<boolean | null> {
    const newest = await this.readNewest();
    const sealed = newest?.decoded.sealed;
    newest?.decoded.record.identifier?.fill(0);
    if (!sealed) return null;
    const identifier = sealer.open(sealed.payload, sealed.associated);
    identifier?.fill(0);
    return identifier !== null;
  }

  /**
   * Commits the record in force again under `sealer` (null: in clear, the sealed flag cleared),
   * the same identifier, generation and handle: the one commit that may change the key, or
   * unseal. The current identifier must open under the key in force first.
   */
  async reseal(sealer: Sealer | null): Promise<void> {
    const current = await this.load({ acceptUnsealed: true });
    const before = { sealer: this.sealer, keyProven: this.keyProven };
    this.sealer = sealer;
    // The identifier opened under the old key: the new one has nothing to prove against.
    this.keyProven = true;
    this.clearing = sealer === null;
    try {
      (await this.commit(current)).identifier?.fill(0);
    } catch (error) {
      this.sealer = before.sealer;
      this.keyProven = before.keyProven;
      throw error;
    } finally {
      this.clearing = false;
      current.identifier?.fill(0);
    }
  }

  async info(): Promise<RecordInfo> {
    if (!this.current) (await this.readNewest())?.decoded.record.identifier?.fill(0);
    return this.current?.info ?? NEVER_COMMITTED;
  }

  async load(options: LoadOptions = {}): Promise<StoredRecord> {
    // Only an identifier needs the key: a blank store loads without it.
    if (this.options.beforeKeyUse && (await this.info()).state === "set") await this.options.beforeKeyUse();
    const newest = await this.readNewest();
    if (!newest) return { ...NEVER_COMMITTED, identifier: null };
    const { record, sealed } = newest.decoded;
    if (sealed) return { ...record, identifier: this.unseal(sealed.payload, sealed.associated) };
    if (this.sealer && record.identifier && !options.acceptUnsealed) {
      // With a key configured, an identifier in clear is not trusted: anyone who can write the
      // store could have put it there. Sealing it is an explicit step.
      record.identifier.fill(0);
      throw new StorageError(
        `store ${this.location} holds its identifier unsealed, though a key-encryption key was given: run 'reid seal' to seal it`,
        "store-not-sealed",
      );
    }
    return record;
  }

  async journal(): Promise<Uint8Array | null> {
    await this.info();
    const current = this.current;
    if (current?.area == null || !this.area.journalOf) return null;
    return decodeJournal(this.area.journalOf(current.area), current.info.epoch);
  }

  async commit(next: IdentifierRecord, options: CommitOptions = {}): Promise<StoredRecord> {
    // Awaited only when there is something to wait for: a commit is on every reset's path.
    // Only what seals an identifier needs the key: an erase works without it.
    if (this.options.beforeKeyUse && next.identifier) await this.options.beforeKeyUse();
    if (!this.current) await this.info();
    const current = this.current as { area: AreaIndex | null; info: RecordInfo };
    if (next.generation < current.info.generation) {
      throw new RangeError(`generation may not go back (${current.info.generation} -> ${next.generation})`);
    }
    // Once a store seals, it keeps sealing: without the key an identifier may be erased, never
    // written in clear.
    const sealed = this.sealer !== null || (current.info.sealed && !this.clearing);
    if (sealed && next.identifier && !this.sealer) throw this.keyMissing();
    // Nor with another key: the current identifier must open under the one given before anything
    // is sealed under it, or a mistyped key file would silently re-key the store.
    if (
      this.sealer &&
      next.identifier &&
      current.info.sealed &&
      current.info.state === "set" &&
      !this.keyProven
    ) {
      (await this.load()).identifier?.fill(0);
    }
    const epoch = current.info.epoch + 1;
    const bytes = encodeRecord(
      { ...next, sealed },
      epoch,
      sealed && next.identifier ? this.sealer : null,
      this.owner(),
    );
    const { identifier: _, ...fields } = next;
    const info: RecordInfo = { ...fields, mode: next.mode ?? "random", epoch, sealed };
    const journal =
      options.journal && this.journalCapacity > 0 ? encodeJournal(epoch, options.journal) : undefined;
    try {
      if (current.area === null) {
        // No area holds a record, so there is nothing to roll back to: a counter left higher (a
        // TPM or token reused, areas removed) starts again here, before anything is written, so a
        // crash before the areas are there leaves a store that was never committed.
        await this.options.counter?.restart(epoch);
        await this.area.provision([bytes, new Uint8Array(AREA_SIZE)], journal);
        this.dirty[1] = false;
        this.current = { area: 0, info };
        return { ...info, identifier: next.identifier };
      }
      const target: AreaIndex = current.area === 0 ? 1 : 0;
      if (this.dirty[target]) await this.clear(target);
      try {
        await this.area.write(target, bytes, journal);
      } catch (error) {
        // The write may sit in a cache while its sync failed; a later read must not find it.
        this.dirty[target] = true;
        const cleared = await this.area.erase(target).then(
          () => true,
          () => false,
        );
        if (!cleared && (await this.mayHold(target, epoch))) throw uncertain(error);
        throw error;
      }
      this.current = { area: target, info };
      this.dirty[target] = true;
      this.dirty[current.area] = true;
      // The new record is durable: the request has happened. The counter follows it now, not
      // before (a crash in between would leave it above the record in force and refuse a good
      // store), and before the old record goes, so it never lags more than the commit under way.
      await this.advanceCounter(epoch);
      // Erasing the old copy may still fail; the area then stays dirty and is cleared before its
      // next use.
      try {
        await this.area.erase(current.area);
      } catch (error) {
        throw new EraseIncompleteError(info, error instanceof Error ? error.message : String(error));
      }
      this.dirty[current.area] = false;
      if (info.sealed && next.identifier) this.keyProven = true;
      return { ...info, identifier: next.identifier };
    } finally {
      bytes.fill(0);
    }
  }

  close(): Promise<void> {
    return this.area.close();
  }

  /**
   * Reads both areas and keeps the valid record with the highest epoch (null: never committed).
   * A writer also finishes what a crash or a failed erase left in the other area.
   */
  private async readNewest(): Promise<Newest | null> {
    if (!(await this.area.provisioned())) {
      this.current = { area: null, info: NEVER_COMMITTED };
      return null;
    }
    let newest: Newest | null = null;
    const problems: string[] = [];
    for (const index of [0, 1] as const) {
      const bytes = await this.area.read(index);
      const decoded = decodeArea(bytes);
      bytes.fill(0);
      this.dirty[index] = decoded.kind !== "erased";
      if (decoded.kind === "corrupt") problems.push(`area-${index}: ${decoded.reason}`);
      if (decoded.kind !== "record") continue;
      if (newest === null || decoded.record.epoch > newest.decoded.record.epoch) {
        newest?.decoded.record.identifier?.fill(0);
        newest = { area: index, decoded };
      } else {
        decoded.record.identifier?.fill(0);
      }
    }
    if (newest === null) {
      throw new StorageError(
        `store ${this.location} is corrupt: no valid record (${problems.join("; ") || "both areas are empty"})`,
        "store-corrupt",
      );
    }
    // Before anything is cleaned up: the areas of another store are not ours to touch.
    try {
      this.checkOwner(newest.decoded.owner);
    } catch (error) {
      newest.decoded.record.identifier?.fill(0);
      throw error;
    }
    try {
      await this.checkCounter(newest.decoded.record.epoch);
    } catch (error) {
      newest.decoded.record.identifier?.fill(0);
      throw error;
    }
    const { identifier: _, ...info } = newest.decoded.record;
    this.current = { area: newest.area, info };
    const other: AreaIndex = newest.area === 0 ? 1 : 0;
    if (this.area.writable && this.dirty[other]) {
      await this.area.erase(other).then(
        () => {
          this.dirty[other] = false;
        },
        () => undefined,
      );
    }
    return newest;
  }

  /**
   * A record older than the highest epoch the counter keeps was written back over a newer one.
   * One newer than it is a commit whose counter step a crash cut off: read, and a writer raises
   * the counter to it.
   */
  private async checkCounter(epoch: number): Promise<void> {
    const counter = this.options.counter;
    if (!counter) return;
    const highest = await counter.highest();
    if (highest !== null && epoch < highest)
      throw rolledBack(this.location, epoch, highest, counter.description);
    if (this.area.writable && (highest === null || epoch > highest)) {
      await counter.advance(epoch).catch(() => undefined);
    }
  }

  /**
   * Raises the counter to a commit that is durable. A failure does not undo the commit, nor fail
   * the request that made it: the record is in force, and the next writer (its open or its
   * commit) raises the counter; until then it lags by this commit, the one protection it misses.
   */
  private async advanceCounter(epoch: number): Promise<void> {
    await this.options.counter?.advance(epoch).catch(() => undefined);
  }

  /** What this store writes into its records: its id and directory (none without an id). */
  private owner(): RecordOwner | null {
    return this.storeId ? { id: this.storeId, hint: this.directory } : null;
  }

  /**
   * A record of another store (its id differs) is refused, naming the store that owns the place;
   * a record of no store (layout v1) is read, and the next commit makes it this store's.
   */
  private checkOwner(owner: RecordOwner | null): void {
    if (owner === null || (this.storeId && Buffer.from(owner.id).equals(this.storeId))) return;
    if (this.options.adopt) {
      this.storeId = Uint8Array.from(owner.id);
      this.options.adopt(this.storeId);
      return;
    }
    const instead = this.options.anotherPlace ? `, or ${this.options.anotherPlace}` : "";
    throw new StateError(
      "store-owned",
      `store ${this.directory}: its areas (${this.description}) hold the identifier of the store at ${owner.hint}; use that store (--store ${owner.hint})${instead}`,
    );
  }

  private unseal(payload: Uint8Array, associated: Uint8Array): Uint8Array {
    if (!this.sealer) throw this.keyMissing();
    const identifier = this.sealer.open(payload, associated);
    if (!identifier) {
      throw new StorageError(
        `cannot open the identifier sealed in store ${this.location}: wrong key-encryption key (or the record was altered)`,
        "store-key-wrong",
      );
    }
    this.keyProven = true;
    return identifier;
  }

  private keyMissing(): StorageError {
    return new StorageError(
      `store ${this.location} is sealed: give its key-encryption key with --kek-file or REID_KEK_FILE`,
      "store-key-missing",
    );
  }

  /** Whether `area` holds (or, unreadable, may hold) the record of `epoch`, so reads would find it. */
  private async mayHold(area: AreaIndex, epoch: number): Promise<boolean> {
    let bytes: Uint8Array;
    try {
      bytes = await this.area.read(area);
    } catch {
      return true;
    }
    const decoded = decodeArea(bytes);
    bytes.fill(0);
    if (decoded.kind !== "record") return false;
    decoded.record.identifier?.fill(0);
    return decoded.record.epoch === epoch;
  }

  private async clear(area: AreaIndex): Promise<void> {
    if (!this.dirty[area]) return;
    const bytes = await this.area.read(area);
    const clean = isZero(bytes);
    bytes.fill(0);
    if (!clean) await this.area.erase(area);
    this.dirty[area] = false;
  }
}

/**
 * A failed commit whose half-written area could not be cleared: reads may find the new record,
 * so the message must not promise that nothing changed.
 */
function uncertain(error: unknown): StorageError {
  const cause = error instanceof Error ? error.message : String(error);
  return new StorageError(
    `${cause}; the new record may be in force all the same, as the area could not be cleared afterwards: see 'reid status'`,
  );
}
