import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { readOptionalFile, replaceFile } from "../storage/durable-file.js";
import type { RequestType } from "./request.js";

/** A request that carries a time (patent: the control unit's register of time information). */
export interface ScheduledRequest {
  readonly id: string;
  readonly type: RequestType;
  /** As the user wrote it ("digits:40"); checked when scheduled, used when it runs. */
  readonly format?: string;
  /**
   * A reset that leaves nothing linking the new identity to the old (docs/spec.md §10.9). Absent
   * in entries written before it existed, and on every other request: a linked one.
   */
  readonly unlinkable?: boolean;
  readonly at: string;
  readonly principal: string;
  readonly created: string;
}

const FILE = "schedule.json";

/**
 * The schedule register, persisted in the store directory so requests survive restarts. The file
 * is replaced whole and durably (written aside, synced, renamed, directory synced) on every change.
 * Specified in docs/spec.md §2.6.
 */
export class ScheduleRegister {
  constructor(private readonly directory: string) {}

  list(): ScheduledRequest[] {
    let text: string | null;
    try {
      text = readOptionalFile(join(this.directory, FILE));
    } catch (error) {
      throw new StorageError(`cannot read the schedule: ${describeOsError(error)}`);
    }
    if (text === null) return [];
    try {
      const entries = JSON.parse(text) as ScheduledRequest[];
      if (!Array.isArray(entries)) throw new Error("not a list");
      return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    } catch {
      throw new StorageError(`the schedule in ${this.directory} is corrupt`, "store-corrupt");
    }
  }

  add(entry: Omit<ScheduledRequest, "id">): ScheduledRequest {
    const scheduled = { id: randomBytes(4).toString("hex"), ...entry };
    this.write([...this.list(), scheduled]);
    return scheduled;
  }

  /** Removes and returns the entry, or null when there is none with this id. */
  remove(id: string): ScheduledRequest | null {
    const entries = this.list();
    const found = entries.find((entry) => entry.id === id) ?? null;
    if (found) this.write(entries.filter((entry) => entry.id !== id));
    return found;
  }

  private write(entries: readonly ScheduledRequest[]): void {
    try {
      replaceFile(join(this.directory, FILE), JSON.stringify(entries));
    } catch (error) {
      throw new StorageError(`cannot write the schedule: ${describeOsError(error)}`);
    }
  }
}
