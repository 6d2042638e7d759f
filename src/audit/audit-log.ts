import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { replaceFile } from "../storage/durable-file.js";

/**
 * What happened, for whom, with what outcome. Public facts only: never the identifier, a key, a
 * PIN or a recovery code.
 */
export interface AuditEntry {
  readonly time: string;
  /** The request: init, reset, erase, or another owner operation (seal, config, pin-set, export...). */
  readonly request: string;
  /** Who asked: "cli", "web:pin", "web:passkey:<id>", "scheduler". */
  readonly principal: string;
  /** "ok", or the error code that refused it. */
  readonly outcome: string;
  readonly generation: number;
  readonly handle: string | null;
  /** Extra facts: a schedule id, "late", the requested type in single-type mode. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface AuditRecord extends AuditEntry {
  readonly seq: number;
  /** The hash of the record before (64 zeros for the first). */
  readonly prev: string;
  /** SHA-256 of prev and this record's canonical JSON without the hash. */
  readonly hash: string;
}

export type AuditVerdict =
  | { readonly intact: true; readonly records: number; readonly head: string }
  | { readonly intact: false; readonly records: number; readonly problem: string };

const GENESIS = "0".repeat(64);
const LOG = "audit.log";
const HEAD = "audit.head";

/**
 * An append-only, hash-chained audit log in the store directory: one JSON record per line, each
 * carrying a sequence number, the hash of the record before it and its own hash. The head (last
 * sequence number and hash) is kept in a second file, so removing records from the end is caught
 * too. A record is fsync'd before it counts; the head is replaced after it, and may lag one record
 * behind the log after a crash (that record must still chain), never run ahead of it.
 * Specified in docs/spec.md §9.
 */
export class AuditLog {
  /** The last whole record's sequence number and hash, once read (the head file may lag). */
  private last: { seq: number; hash: string } | null = null;

  constructor(readonly directory: string) {}

  /** Appends `entry` durably and returns the record as written. */
  append(entry: AuditEntry): AuditRecord {
    const path = join(this.directory, LOG);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
    } catch (error) {
      throw this.failure(path, error);
    }
    try {
      // The log's last whole record is the chain's end; the head file may lag behind it.
      const end = this.trimTornTail(fd);
      const last = this.last ?? this.chainEnd();
      const seq = last.seq + 1;
      const body = { seq, ...entry, prev: last.hash };
      const record: AuditRecord = { ...body, hash: digest(body) };
      const line = Buffer.from(`${JSON.stringify(record)}\n`);
      try {
        for (let done = 0; done < line.length; ) done += writeSync(fd, line, done);
        fdatasyncSync(fd);
      } catch (error) {
        // A record only counts once it is whole and synced: a partial one is cut off again.
        try {
          ftruncateSync(fd, end);
        } catch {}
        throw error;
      }
      this.last = { seq, hash: record.hash };
      this.writeHead(this.last);
      return record;
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw this.failure(path, error);
    } finally {
      closeSync(fd);
    }
  }

  /** Every record, oldest first; lines that do not parse are reported by verify(), skipped here. */
  read(): AuditRecord[] {
    return this.lines().flatMap((line) => {
      try {
        return [JSON.parse(line) as AuditRecord];
      } catch {
        return [];
      }
    });
  }

  /** Checks every link of the chain and the head: any edited, removed or reordered record fails it. */
  verify(): AuditVerdict {
    // The head first: a record appended between the two reads leaves it behind the log, never ahead.
    const head = this.readHead();
    let previous = { seq: 0, hash: GENESIS };
    const hashes = new Map<number, string>([[0, GENESIS]]);
    const lines = this.lines();
    for (const [index, line] of lines.entries()) {
      const where = `record ${index + 1}`;
      let record: AuditRecord;
      try {
        record = JSON.parse(line) as AuditRecord;
      } catch {
        return { intact: false, records: index, problem: `${where} is not JSON` };
      }
      const { hash, ...body } = record;
      if (record.seq !== previous.seq + 1) {
        return {
          intact: false,
          records: index,
          problem: `${where} has sequence number ${record.seq}, expected ${previous.seq + 1}`,
        };
      }
      if (record.prev !== previous.hash) {
        return { intact: false, records: index, problem: `${where} does not follow the record before it` };
      }
      if (digest(body) !== hash) return { intact: false, records: index, problem: `${where} was altered` };
      previous = { seq: record.seq, hash };
      hashes.set(record.seq, hash);
    }
    if (head.state === "unreadable") {
      return { intact: false, records: lines.length, problem: "the log's head (audit.head) is unreadable" };
    }
    if (head.seq > previous.seq) {
      return {
        intact: false,
        records: lines.length,
        problem: `the log ends at record ${previous.seq}, but its head says ${head.seq}: records were removed`,
      };
    }
    if (hashes.get(head.seq) !== head.hash) {
      return {
        intact: false,
        records: lines.length,
        problem: `record ${head.seq} does not match the log's head`,
      };
    }
    // A crash (or a failed head write) can leave the head one record behind, never more: the next
    // append brings it up. Further behind, records were added past it, or the head was removed.
    if (previous.seq - head.seq > 1) {
      return {
        intact: false,
        records: lines.length,
        problem:
          head.state === "missing"
            ? `the log's head (audit.head) is missing, yet the log holds ${previous.seq} records`
            : `the log's head says record ${head.seq}, but the log goes on to record ${previous.seq}`,
      };
    }
    return { intact: true, records: lines.length, head: previous.hash };
  }

  /** A record cut short (a crash or a full disk mid-write) never counted: it is cut off. Returns the size. */
  private trimTornTail(fd: number): number {
    const size = fstatSync(fd).size;
    if (size === 0) return 0;
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    if (tail[tail.length - 1] === 0x0a) return size;
    const newline = tail.lastIndexOf(0x0a);
    const end = newline === -1 ? (size > tail.length ? size : 0) : size - tail.length + newline + 1;
    ftruncateSync(fd, end);
    this.last = null;
    return end;
  }

  /**
   * Where the chain goes on: the log's last whole record, which the head may lag behind. A head
   * ahead of the log means records were removed from its end: the chain goes on from the head, so
   * the gap stays visible to verify() instead of being papered over by the next record.
   */
  private chainEnd(): { seq: number; hash: string } {
    const head = this.readHead();
    const last = this.lastRecord();
    if (last && last.seq > head.seq) return last;
    if (head.state !== "unreadable") return { seq: head.seq, hash: head.hash };
    return last ?? { seq: 0, hash: GENESIS };
  }

  /** The log's last record, or null when the log is empty or its last line is not a record. */
  private lastRecord(): { seq: number; hash: string } | null {
    const line = this.lines().at(-1);
    if (line === undefined) return null;
    try {
      const record = JSON.parse(line) as Partial<AuditRecord>;
      if (typeof record.seq === "number" && typeof record.hash === "string") {
        return { seq: record.seq, hash: record.hash };
      }
    } catch {}
    return null;
  }

  private failure(path: string, error: unknown): StorageError {
    this.last = null;
    return new StorageError(
      `cannot append to the audit log ${path}: ${describeOsError(error)}`,
      "audit-failure",
    );
  }

  private lines(): string[] {
    let text: string;
    try {
      text = readFileSync(join(this.directory, LOG), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new StorageError(`cannot read the audit log: ${describeOsError(error)}`);
    }
    return text.split("\n").filter((line) => line !== "");
  }

  /** The head file; a missing one stands at the start of the log, an unreadable one nowhere. */
  private readHead(): { seq: number; hash: string; state: "present" | "missing" | "unreadable" } {
    try {
      const parsed = JSON.parse(readFileSync(join(this.directory, HEAD), "utf8")) as {
        seq?: unknown;
        hash?: unknown;
      };
      if (Number.isSafeInteger(parsed.seq) && (parsed.seq as number) >= 0 && typeof parsed.hash === "string")
        return { seq: parsed.seq as number, hash: parsed.hash, state: "present" };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT")
        return { seq: 0, hash: GENESIS, state: "missing" };
    }
    return { seq: -1, hash: "unreadable", state: "unreadable" };
  }

  /**
   * Replaced durably, the directory synced too: a crash between the log's sync and this can leave
   * the head one record behind the log, which verify() accepts and the next append makes good;
   * never more, so a head that is further behind means records were removed.
   */
  private writeHead(head: { seq: number; hash: string }): void {
    replaceFile(join(this.directory, HEAD), JSON.stringify(head));
  }
}

/** SHA-256 over the record's JSON with keys in a fixed order, so the hash does not depend on how it was written. */
function digest(body: object): string {
  return createHash("sha256").update(canonical(body)).digest("hex");
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
