import { createHash } from "node:crypto";
import { closeSync, constants, fdatasyncSync, openSync, readFileSync, writeSync } from "node:fs";
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
 * too. A record is fsync'd before it counts; the head is replaced after it, and may lag behind the
 * log after a crash (the records past it must still chain), never run ahead of it.
 */
export class AuditLog {
  private head: { seq: number; hash: string } | null = null;

  constructor(readonly directory: string) {}

  /** Appends `entry` durably and returns the record as written. */
  append(entry: AuditEntry): AuditRecord {
    const head = this.head ?? this.readHead();
    const seq = head.seq + 1;
    const body = { seq, ...entry, prev: head.hash };
    const record: AuditRecord = { ...body, hash: digest(body) };
    const path = join(this.directory, LOG);
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      try {
        writeSync(fd, `${JSON.stringify(record)}\n`);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      this.writeHead({ seq, hash: record.hash });
    } catch (error) {
      this.head = null;
      throw new StorageError(
        `cannot append to the audit log ${path}: ${describeOsError(error)}`,
        "audit-failure",
      );
    }
    this.head = { seq, hash: record.hash };
    return record;
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
    const head = this.readHead();
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
    return { intact: true, records: lines.length, head: previous.hash };
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

  private readHead(): { seq: number; hash: string } {
    try {
      const parsed = JSON.parse(readFileSync(join(this.directory, HEAD), "utf8")) as {
        seq?: unknown;
        hash?: unknown;
      };
      if (typeof parsed.seq === "number" && typeof parsed.hash === "string")
        return { seq: parsed.seq, hash: parsed.hash };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { seq: 0, hash: GENESIS };
    }
    return { seq: -1, hash: "unreadable" };
  }

  /** The directory is not synced: a rename lost to a crash leaves the head behind the log, which verify() accepts. */
  private writeHead(head: { seq: number; hash: string }): void {
    replaceFile(join(this.directory, HEAD), JSON.stringify(head), { syncDirectory: false });
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
