import { StorageError } from "../errors.js";
import { defaultFormat } from "../format/format.js";
import type { IdentifierStore } from "./identifier-store.js";
import {
  AREA_SIZE,
  decodeArea,
  encodeRecord,
  type IdentifierRecord,
  isZero,
  RECORD_CAPACITY,
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
  private current: { area: AreaIndex | null; epoch: number; generation: number } | null = null;
  /** Areas that may still hold bytes (a torn write, a superseded record we failed to erase). */
  private readonly dirty = [true, true];

  constructor(private readonly area: StorageArea) {
    if (area.areaSize !== AREA_SIZE) throw new RangeError(`areas must be ${AREA_SIZE} bytes`);
  }

  get location(): string {
    return this.area.location;
  }

  async load(): Promise<StoredRecord> {
    if (!(await this.area.provisioned())) {
      this.current = { area: null, epoch: 0, generation: 0 };
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
    this.current = { area: newest.area, epoch: newest.record.epoch, generation: newest.record.generation };
    return newest.record;
  }

  async commit(next: IdentifierRecord): Promise<StoredRecord> {
    const current = this.current ?? (await this.loadMetadata());
    if (next.generation < current.generation) {
      throw new RangeError(`generation may not go back (${current.generation} -> ${next.generation})`);
    }
    const epoch = current.epoch + 1;
    const bytes = encodeRecord(next, epoch);
    try {
      if (current.area === null) {
        await this.area.provision([bytes, new Uint8Array(AREA_SIZE)]);
        this.dirty[1] = false;
        this.current = { area: 0, epoch, generation: next.generation };
        return { ...next, epoch };
      }
      const target: AreaIndex = current.area === 0 ? 1 : 0;
      await this.clear(target);
      try {
        await this.area.write(target, bytes);
      } catch (error) {
        // The write may sit in a cache while its sync failed; a later read must not find it.
        this.dirty[target] = true;
        await this.area.erase(target).catch(() => undefined);
        throw error;
      }
      this.current = { area: target, epoch, generation: next.generation };
      this.dirty[target] = true;
      this.dirty[current.area] = true;
      // The new record is durable: the request has happened. Erasing the old copy may still fail;
      // it stays marked dirty and the next commit clears it before writing there.
      await this.area.erase(current.area).then(
        () => {
          this.dirty[current.area as AreaIndex] = false;
        },
        () => undefined,
      );
      return { ...next, epoch };
    } finally {
      bytes.fill(0);
    }
  }

  close(): Promise<void> {
    return this.area.close();
  }

  private async loadMetadata() {
    const record = await this.load();
    record.identifier?.fill(0);
    return this.current ?? { area: null, epoch: 0, generation: 0 };
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
