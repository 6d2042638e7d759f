import { StorageError } from "../errors.js";
import { defaultFormat } from "../format/format.js";
import { EraseIncompleteError, type IdentifierStore } from "./identifier-store.js";
import {
  AREA_SIZE,
  decodeArea,
  encodeRecord,
  type IdentifierRecord,
  isZero,
  RECORD_CAPACITY,
  type RecordInfo,
  type StoredRecord,
} from "./record.js";
import type { AreaIndex, StorageArea } from "./storage-area.js";

const NEVER_COMMITTED: StoredRecord = {
  state: "blank",
  generation: 0,
  epoch: 0,
  format: defaultFormat(RECORD_CAPACITY),
  singleType: false,
  identifier: null,
};

/**
 * Crash-atomic commits over two areas. A commit clears the target area if anything is left in
 * it (claim 8's erase before write), writes the new record there durably, and only then erases
 * the area holding the old record. At every instant one area holds a whole record: the old one
 * until the new is durable, the new one after. Reads pick the valid record with the highest epoch.
 */
export class DualAreaStore implements IdentifierStore {
  readonly capacity = RECORD_CAPACITY;
  /** The committed record's area (null: never committed) and fields, once read. */
  private current: { area: AreaIndex | null; info: RecordInfo } | null = null;
  /** Areas that may still hold bytes (a torn write, a superseded record we failed to erase). */
  private readonly dirty = [true, true];

  constructor(private readonly area: StorageArea) {
    if (area.areaSize !== AREA_SIZE) throw new RangeError(`areas must be ${AREA_SIZE} bytes`);
  }

  get location(): string {
    return this.area.location;
  }

  async info(): Promise<RecordInfo> {
    if (this.current) return this.current.info;
    const { identifier, ...info } = await this.load();
    identifier?.fill(0);
    return info;
  }

  async load(): Promise<StoredRecord> {
    if (!(await this.area.provisioned())) {
      const { identifier: _, ...info } = NEVER_COMMITTED;
      this.current = { area: null, info };
      return { ...NEVER_COMMITTED };
    }
    let newest: { area: AreaIndex; record: StoredRecord } | null = null;
    const problems: string[] = [];
    for (const index of [0, 1] as const) {
      const bytes = await this.area.read(index);
      const decoded = decodeArea(bytes);
      bytes.fill(0);
      this.dirty[index] = decoded.kind !== "erased";
      if (decoded.kind === "corrupt") problems.push(`area-${index}: ${decoded.reason}`);
      if (decoded.kind !== "record") continue;
      if (newest === null || decoded.record.epoch > newest.record.epoch) {
        newest?.record.identifier?.fill(0);
        newest = { area: index, record: decoded.record };
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
    const { identifier: _, ...info } = newest.record;
    this.current = { area: newest.area, info };
    // A writer finishes what a crash or a failed erase left: the other area holds an old record
    // or a torn one. If it cannot, the area stays dirty and the next commit clears it first.
    const other: AreaIndex = newest.area === 0 ? 1 : 0;
    if (this.area.writable && this.dirty[other]) {
      await this.area.erase(other).then(
        () => {
          this.dirty[other] = false;
        },
        () => undefined,
      );
    }
    return newest.record;
  }

  async commit(next: IdentifierRecord): Promise<StoredRecord> {
    await this.info();
    const current = this.current as { area: AreaIndex | null; info: RecordInfo };
    if (next.generation < current.info.generation) {
      throw new RangeError(`generation may not go back (${current.info.generation} -> ${next.generation})`);
    }
    const epoch = current.info.epoch + 1;
    const bytes = encodeRecord(next, epoch);
    const { identifier: _, ...info } = { ...next, epoch };
    try {
      if (current.area === null) {
        await this.area.provision([bytes, new Uint8Array(AREA_SIZE)]);
        this.dirty[1] = false;
        this.current = { area: 0, info };
        return { ...next, epoch };
      }
      const target: AreaIndex = current.area === 0 ? 1 : 0;
      await this.clear(target);
      try {
        await this.area.write(target, bytes);
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
      // The new record is durable: the request has happened. Its other half, erasing the old
      // copy, may still fail; the area then stays dirty and is cleared before its next use.
      try {
        await this.area.erase(current.area);
      } catch (error) {
        throw new EraseIncompleteError(info, error instanceof Error ? error.message : String(error));
      }
      this.dirty[current.area] = false;
      return { ...next, epoch };
    } finally {
      bytes.fill(0);
    }
  }

  close(): Promise<void> {
    return this.area.close();
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
