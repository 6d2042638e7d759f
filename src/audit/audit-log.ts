import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { type AuditKey, type AuditKeyHome, LOCKED } from "../storage/audit-key-home.js";
import { makeDirectories, syncDirectory } from "../storage/durable-file.js";
import { macOf, sameMac } from "./audit-mac.js";
import { fileLines, KEEP, LOG, logFiles, logLines, rotate, rotationSize } from "./log-files.js";

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
  /** "ok", the error code that refused it, or "pending" (an intent, written before anything changes). */
  readonly outcome: string;
  readonly generation: number;
  readonly handle: string | null;
  /** Extra facts: a schedule id, "late", the requested type in single-type mode. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
  /** On an outcome: the sequence number of its intent (docs/spec.md §9.3). */
  readonly of?: number;
}

export interface AuditRecord extends AuditEntry {
  readonly seq: number;
  /** HMAC-SHA-256 under the store's audit key of the record without `mac` and `hash` (§9.7). */
  readonly mac?: string;
  /** The hash of the record before (64 zeros for the first). */
  readonly prev: string;
  /** SHA-256 of prev and this record's canonical JSON without the hash. */
  readonly hash: string;
}

export type AuditVerdict =
  | {
      readonly intact: true;
      readonly records: number;
      readonly head: string;
      /** The first kept record's seq, when older files were rotated out (docs/spec.md §9.4). */
      readonly from?: number;
      /**
       * The MACs (docs/spec.md §9.7): `checked` under the store's audit key, every record from
       * `keyedFrom` on carrying one (up to the unkeyed tail); `none`: no key was made and no record
       * carries a MAC (the chain alone); `missing`: records carry MACs but there is no key to check
       * them with; `locked`: the key needs the owner's proof, which was not given.
       */
      readonly key: "checked" | "none" | "missing" | "locked";
      readonly keyedFrom?: number;
      /**
       * With `checked`: how many records after the last one keyed were appended without a MAC by a
       * process that held no proof (the unkeyed tail): intact on the chain alone, not checked.
       */
      readonly unkeyedTail?: number;
      /** With `missing`: why (the key's home, and what it said). */
      readonly why?: string;
    }
  | {
      readonly intact: false;
      readonly records: number;
      readonly problem: string;
      /** Generations the store committed that no record accounts for (docs/spec.md §9.4). */
      readonly unaccounted?: readonly number[];
      /** The chain holds, but a MAC does not: edited by someone without the audit key (§9.7). */
      readonly forged?: true;
    };

/** The record a process that holds the audit key appends before its own, over an unkeyed tail (§9.7). */
export const AUDIT_SEAL = "audit-seal";
/** The outcome of an intent: written durably before the change, its outcome follows (§9.3). */
export const PENDING = "pending";
/** The requests that bring a generation into being (§2.2, §2.4): each commits generation + 1. */
export const GENERATING: ReadonlySet<string> = new Set(["init", "reset", "mode-random", "mode-factory"]);
/** Outcomes of a generating request under which its generation may be in force. */
const COMMITTED = new Set(["ok", PENDING, "erase-incomplete"]);

const GENESIS = "0".repeat(64);

/** The last whole record: its seq, its hash, and whether it carries a MAC. */
interface Last {
  readonly seq: number;
  readonly hash: string;
  readonly keyed?: boolean;
}
const START: Last = { seq: 0, hash: GENESIS };
/** Unsynced lines kept for a journal: more than any journal holds, so past it none is kept. */
const UNSYNCED_KEPT = 16 * 1024;

/**
 * The lines appended since the log last synced, short (without `prev` and `hash`, which the chain
 * gives back), oldest first; `size` counts the journal they make, its first line included.
 */
interface Unsynced {
  readonly lines: Buffer[];
  size: number;
  /** The `prev` of the first line: the hash of the last record known durable in the log. */
  start: string | null;
}

/** No line unsynced. */
function synced(): Unsynced {
  return { lines: [], size: 0, start: null };
}
/** The head file of earlier versions: replaced per record, now the store's generation anchors the log. */
const LEGACY_HEAD = "audit.head";

/**
 * An append-only, hash-chained audit log in the store directory: one JSON record per line, each
 * carrying a sequence number, the hash of the record before it and its own hash. An operation's
 * intent (outcome `pending`) is appended and fdatasync'd before anything changes; its outcome
 * follows (`of` names the intent) and is made durable by the next synced append: a crash may lose
 * the outcome, never the intent, and the store's generation says whether a commit happened. A
 * journaled commit's intent, naming its new handle, is its one record when it succeeds.
 * Specified in docs/spec.md §9.
 */
export class AuditLog {
  /** The last whole record's sequence number and hash (and whether it carries a MAC), once read. */
  private last: Last | null = null;
  private legacyHeadGone = false;

  /**
   * The live log's size as this object left it, once known: a statx after a write costs as much
   * as an fdatasync here, so the torn-tail check (which needs the size) runs once, not per append.
   */
  private end: number | null = null;

  /**
   * The lines this object appended since it last synced the log, oldest first: what a journal must
   * carry. Null until it first syncs (lines another process left unsynced may precede ours, which no
   * journal of ours carries) and once they outgrow any journal: the next journaled append syncs.
   */
  private unsynced: Unsynced | null = null;

  /** The live log, open for appending from this object's first write until close() or a failure. */
  private fd: number | null = null;

  /** The topmost directory the last intent made (a first init's store), until a record follows it. */
  private made: string | undefined;

  /** The size at which the log is rotated. */
  private readonly rotateBytes: number;

  /** Where the store's audit key lives (none: the log is not keyed). */
  private readonly keyHome: AuditKeyHome | null;
  /** The key once loaded (null: none made; LOCKED: it needs a proof not held yet). */
  private key: AuditKey | null | typeof LOCKED | undefined;
  /** Why the key could not be loaded, when it could not. */
  private keyError: string | null = null;

  constructor(
    readonly directory: string,
    options: { readonly rotateBytes?: number; readonly keyHome?: AuditKeyHome | null } = {},
  ) {
    this.rotateBytes = options.rotateBytes ?? rotationSize();
    this.keyHome = options.keyHome ?? null;
  }

  /**
   * Loads the audit key (once) before the first record is written or the log verified: appends
   * are synchronous, its home (a TPM, a token) is not. A key that cannot be loaded fails a writer
   * (an unkeyed record would read as forged) and leaves verify() to say there is no key.
   */
  async loadKey(options: { readonly verifying?: boolean } = {}): Promise<void> {
    // Loaded, or none made: kept for the process. A key that needed a proof is asked again: the
    // proof may have come since (the daemon, once the owner proved the PIN).
    const loaded = this.key !== undefined && this.key !== LOCKED && !this.keyError;
    if (loaded && !(await this.keyHome?.due?.())) return;
    try {
      this.key = (await this.keyHome?.load()) ?? null;
      this.keyError = null;
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.key = undefined;
      this.keyError = `${this.keyHome?.description}: ${why}`;
      if (!options.verifying) throw error;
    }
  }

  /** Whether the key is there but needs the owner's proof, which this process does not hold. */
  keyLocked(): boolean {
    return this.key === LOCKED;
  }

  /**
   * Loads the key again: after a new PIN, its home moves it to the PIN's authorization when it
   * is due (the TPM's NV index, docs/spec.md §9.7).
   */
  async reloadKey(): Promise<void> {
    if (!this.keyHome) return;
    this.key = undefined;
    this.keyError = null;
    await this.loadKey();
  }

  /**
   * Makes the store's audit key (the owner's `pin set`), keying every record from the next one on;
   * a key already made is kept. Without a home (an element with no store) it does nothing.
   */
  async createKey(): Promise<void> {
    if (!this.keyHome) return;
    await this.loadKey();
    if (this.key) return;
    const last = this.last ?? this.lastRecord() ?? START;
    this.key = await this.keyHome.create(last.seq + 1);
  }

  /**
   * Appends `entry` and returns the record as written: durable on return when `sync` (an intent,
   * a refusal), else durable with the next synced append (an outcome whose intent is durable).
   */
  append(entry: AuditEntry, options: { readonly sync?: boolean } = {}): AuditRecord {
    return this.write(entry, (options.sync ?? true) ? "now" : "later").record;
  }

  /**
   * Appends `entry` (a commit's intent) unsynced and returns, with the record, the journal the
   * commit carries in its own durable write: every line this log has appended since it last synced,
   * this one last (docs/spec.md §9.3). When they would not fit in `capacity` bytes, the log is
   * synced instead and the journal is null: the intent is durable already.
   */
  appendJournaled(entry: AuditEntry, capacity: number): { record: AuditRecord; journal: Uint8Array | null } {
    return this.write(entry, { capacity });
  }

  /**
   * Takes back from `journal` (the lines a commit carried, docs/spec.md §9.3) the records a crash
   * kept from the log: those after the log's last one, when they continue its chain. Returns how
   * many were appended (synced); lines that do not continue it are left for verify() to report.
   */
  recover(journal: Uint8Array): number {
    const path = join(this.directory, LOG);
    try {
      const fd = this.open(path);
      // A torn line first: the chain goes on from the last whole record.
      const end = this.trimTornTail(fd);
      const last = this.lastRecord() ?? { seq: 0, hash: GENESIS };
      const missing = this.beyond(journal, last);
      if (missing.length === 0) {
        // What the next append would read again.
        this.last = last;
        this.end = end;
        return 0;
      }
      const bytes = Buffer.from(missing.map((line) => `${line}\n`).join(""));
      try {
        for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
        fdatasyncSync(fd);
      } catch (error) {
        ftruncateSync(fd, end);
        throw error;
      }
      this.last = null;
      this.end = null;
      this.unsynced = synced();
      return missing.length;
    } catch (error) {
      throw this.failure(path, error);
    }
  }

  /** Closes the log's file; the next append opens it again. */
  close(): void {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) closeSync(fd);
  }

  /**
   * Writes one record: synced before it returns (`now`), left for the next synced append
   * (`later`), or left for a commit to carry as a journal of at most `capacity` bytes.
   */
  private write(
    entry: AuditEntry,
    sync: "now" | "later" | { readonly capacity: number },
  ): { record: AuditRecord; journal: Uint8Array | null } {
    const path = join(this.directory, LOG);
    try {
      // A first init's intent comes before the store directory exists: it makes it. A refusal
      // does not: a store that does not exist is not made to record why nothing happened.
      this.made = this.last || entry.outcome !== PENDING ? undefined : makeDirectories(this.directory);
      let fd = this.open(path);
      let end = this.end ?? this.trimTornTail(fd);
      if (end >= this.rotateBytes) {
        // Every record of a file rotated aside is durable in it: the journals no longer cover it.
        if (this.unsynced?.size !== 0) fdatasyncSync(fd);
        this.unsynced = synced();
        this.close();
        fd = this.fd = rotate(this.directory);
        end = 0;
      }
      let last = this.last ?? this.lastRecord() ?? START;
      const key = this.writingKey();
      if (key && this.keyHome?.tails && entry.request !== AUDIT_SEAL && last.seq >= key.from && !last.keyed) {
        // An unkeyed tail (records appended without the proof): sealed before this process's own.
        this.last = last;
        this.end = end;
        this.write(this.seal(entry, key), "later");
        last = this.last as Last;
        end = this.end as number;
        fd = this.open(path);
      }
      const { record, line, short } = chained(last, entry, key);
      const pending = this.unsynced;
      // A journal opens with the chain's start: the hash its first line follows.
      const size = (pending?.size || START_LINE) + short.length;
      const journaled = typeof sync === "object" && pending !== null && size <= sync.capacity;
      const durable = sync === "now" || (typeof sync === "object" && !journaled);
      let written = 0;
      try {
        while (written < line.length) written += writeSync(fd, line, written);
        if (durable) fdatasyncSync(fd);
      } catch (error) {
        // A record only counts once it is whole (and synced, when asked): a partial one is cut off.
        try {
          ftruncateSync(fd, fstatSync(fd).size - written);
        } catch {}
        throw error;
      }
      this.last = { seq: record.seq, hash: record.hash, keyed: record.mac !== undefined };
      this.end = end + line.length;
      if (durable) this.unsynced = synced();
      else if (pending && size <= UNSYNCED_KEPT) {
        pending.start ??= last.hash;
        pending.lines.push(short);
        pending.size = size;
      } else this.unsynced = null;
      this.dropLegacyHead();
      return { record, journal: journaled && this.unsynced ? journalOf(this.unsynced) : null };
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw this.failure(path, error);
    }
  }

  /**
   * The key a new record carries a MAC under (loadKey() ran first, or there is none); none while
   * it needs a proof this process does not hold: the record joins the unkeyed tail (§9.7).
   */
  private writingKey(): AuditKey | null {
    if (this.keyError) throw new StorageError(`cannot load the audit key: ${this.keyError}`, "audit-failure");
    return this.key === LOCKED ? null : (this.key ?? null);
  }

  /**
   * The seal over the unkeyed tail (§9.7): named as `entry` is (time, principal, place), counting
   * the records it covers; its MAC covers its `prev`, and so, by the chain, every record before it.
   */
  private seal(entry: AuditEntry, key: AuditKey): AuditEntry {
    let covers = 0;
    for (const line of logLines(this.directory).reverse()) {
      try {
        const record = JSON.parse(line) as Partial<AuditRecord>;
        if (record.mac !== undefined || (record.seq as number) < key.from) break;
      } catch {
        break;
      }
      covers++;
    }
    return {
      time: entry.time,
      request: AUDIT_SEAL,
      principal: entry.principal,
      outcome: "ok",
      generation: entry.generation,
      handle: entry.handle,
      detail: { covers },
    };
  }

  /** The live log's descriptor, opened (and made) on first use. */
  private open(path: string): number {
    this.fd ??= openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
    return this.fd;
  }

  /**
   * A refused first operation on a store that did not exist leaves nothing behind: the log its
   * intent made goes again, with the directories made for it, while they hold nothing else. The
   * caller knows nothing was committed. Returns whether the log is gone.
   */
  withdraw(): boolean {
    const made = this.made;
    this.made = undefined;
    if (made === undefined) return false;
    try {
      if (readdirSync(this.directory).join() !== LOG) return false;
      this.close();
      unlinkSync(join(this.directory, LOG));
      this.last = null;
      this.end = null;
      for (let dir = this.directory; ; dir = dirname(dir)) {
        rmdirSync(dir);
        if (dir === made) break;
      }
      syncDirectory(dirname(made));
      return true;
    } catch {
      return !existsSync(join(this.directory, LOG));
    }
  }

  /**
   * Every record, oldest first, with those of `journal` the log lacks (a crash kept them from it:
   * the next writer takes them back); lines that do not parse are reported by verify(), skipped here.
   */
  read(journal?: Uint8Array | null): AuditRecord[] {
    return this.lines(journal).flatMap((line) => {
      try {
        return [JSON.parse(line) as AuditRecord];
      } catch {
        return [];
      }
    });
  }

  /**
   * Checks every link of the chain across the kept files, and, given the store's record, that every
   * generation it has committed is accounted for by a record: any edited, removed or reordered
   * record fails it, and so does a commit the log does not know. Once the oldest file was rotated
   * out, the chain is checked from the first kept record, and the generations up to the one it
   * names are left to the records that were dropped (docs/spec.md §9.4).
   */
  verify(committed?: { readonly generation: number }, journal?: Uint8Array | null): AuditVerdict {
    const lines = this.lines(journal);
    const start = this.start(lines[0]);
    if (typeof start === "string") return { intact: false, records: 0, problem: start };
    let previous = start.previous;
    const accounted = new Set<number>();
    const key = typeof this.key === "object" ? this.key : null;
    const tails = this.keyHome?.tails === true;
    let macs = 0;
    /** The records from the key's first on without a MAC since the last keyed one (a tail, §9.7). */
    let tail: { count: number; first: AuditRecord | null; index: number } = {
      count: 0,
      first: null,
      index: 0,
    };
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
      // The chain holds; only the key tells who wrote it (§9.7).
      const forged = key ? macProblem(record, key, tails) : null;
      if (forged) return forgery(where, record, forged, index);
      if (key && record.seq >= key.from) {
        if (record.mac === undefined) {
          // Only a proven process commits, so a commit's records are keyed: the tail never
          // reaches back over the last one (the store's generation anchors it). Before a keyed
          // record, a MAC stripped breaks that record's MAC through the chain.
          if (GENERATING.has(record.request) && COMMITTED.has(record.outcome))
            return forgery(where, record, unsealed(key), index);
          tail = {
            count: tail.count + 1,
            first: tail.first ?? record,
            index: tail.first ? tail.index : index,
          };
        } else if (tail.first) {
          // Records without a MAC are only ever followed by a keyed one through a seal over them.
          if (record.request !== AUDIT_SEAL || record.detail?.covers !== tail.count)
            return forgery(`record ${tail.index + 1}`, tail.first, unsealed(key), tail.index);
          tail = { count: 0, first: null, index: 0 };
        }
      }
      if (record.mac !== undefined) macs++;
      previous = { seq: record.seq, hash };
      if (GENERATING.has(record.request) && COMMITTED.has(record.outcome)) accounted.add(record.generation);
    }
    const unaccounted: number[] = [];
    for (let generation = start.floor + 1; generation <= (committed?.generation ?? 0); generation++) {
      if (!accounted.has(generation)) unaccounted.push(generation);
    }
    if (unaccounted.length > 0) {
      const shown =
        unaccounted.length > 10 ? `${unaccounted.slice(0, 10).join(", ")}...` : unaccounted.join(", ");
      return {
        intact: false,
        records: lines.length,
        problem: `the store has committed generation ${shown}, which the log does not account for: records were removed or never written`,
        unaccounted,
      };
    }
    const from = start.previous.seq > 0 ? { from: start.previous.seq + 1 } : {};
    const intact = { intact: true, records: lines.length, head: previous.hash, ...from } as const;
    if (key) {
      const unkeyed = tail.count > 0 ? { unkeyedTail: tail.count } : {};
      return { ...intact, key: "checked", keyedFrom: key.from, ...unkeyed };
    }
    if (this.key === LOCKED) {
      const why = `${this.keyHome?.description} is under the owner's PIN: give it to check the MACs`;
      return { ...intact, key: "locked", why };
    }
    if (macs === 0) return { ...intact, key: "none" };
    const why = this.keyError ?? `${this.keyHome?.description ?? "this element"} holds no audit key`;
    return { ...intact, key: "missing", why };
  }

  /**
   * Where the chain starts: at the genesis, or, once the oldest file was rotated out (only then is
   * audit.log.KEEP there), at the first kept record, trusting its `prev`; generations up to the
   * one it names were committed before it. A problem's text when the start cannot be.
   */
  private start(
    first: string | undefined,
  ): { previous: { seq: number; hash: string }; floor: number } | string {
    const genesis = { previous: { seq: 0, hash: GENESIS }, floor: 0 };
    if (first === undefined) return genesis;
    let record: Partial<AuditRecord>;
    try {
      record = JSON.parse(first) as Partial<AuditRecord>;
    } catch {
      return "record 1 is not JSON";
    }
    if (record.seq === 1 || typeof record.seq !== "number" || typeof record.prev !== "string") return genesis;
    if (!logFiles(this.directory).includes(`${LOG}.${KEEP}`)) {
      return `record 1 has sequence number ${record.seq}, expected 1: the log's first records were removed (none was rotated out, ${LOG}.${KEEP} is not there)`;
    }
    return {
      previous: { seq: record.seq - 1, hash: record.prev },
      floor: typeof record.generation === "number" ? record.generation : 0,
    };
  }

  /** The log's lines, then those of `journal` that follow its last record. */
  private lines(journal?: Uint8Array | null): string[] {
    const lines = logLines(this.directory);
    if (!journal) return lines;
    let last = { seq: 0, hash: GENESIS };
    try {
      const tail = lines.at(-1);
      if (tail !== undefined) last = JSON.parse(tail) as AuditRecord;
    } catch {
      return lines;
    }
    return [...lines, ...this.beyond(journal, last)];
  }

  /**
   * The lines of `journal` after `last`, when the first of them continues it (its sequence number
   * and its link); none otherwise.
   */
  private beyond(journal: Uint8Array, last: { readonly seq: number; readonly hash: string }): string[] {
    const lines = journalLines(journal);
    const records = lines.flatMap((line) => {
      try {
        const record = JSON.parse(line) as Partial<AuditRecord>;
        return typeof record.seq === "number" ? [{ line, record }] : [];
      } catch {
        return [];
      }
    });
    const after = records.filter(({ record }) => (record.seq as number) > last.seq);
    const first = after[0]?.record;
    if (!first || first.seq !== last.seq + 1 || first.prev !== last.hash) return [];
    return after.map(({ line }) => line);
  }

  /** A record cut short (a crash or a full disk mid-write) never counted: it is cut off. Returns the size. */
  private trimTornTail(fd: number): number {
    const size = fstatSync(fd).size;
    if (size === 0) return 0;
    // A whole log ends in a newline: one byte says so, without reading 64 KiB per append.
    const last = Buffer.alloc(1);
    if (readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a) return size;
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    if (tail[tail.length - 1] === 0x0a) return size;
    const newline = tail.lastIndexOf(0x0a);
    const end = newline === -1 ? (size > tail.length ? size : 0) : size - tail.length + newline + 1;
    ftruncateSync(fd, end);
    this.last = null;
    return end;
  }

  /** The log's last record (in the newest file that holds one), or null when there is none. */
  private lastRecord(): Last | null {
    for (const name of logFiles(this.directory).reverse()) {
      const line = fileLines(join(this.directory, name))
        .filter((l) => l !== "")
        .at(-1);
      if (line === undefined) continue;
      try {
        const record = JSON.parse(line) as Partial<AuditRecord>;
        if (typeof record.seq === "number" && typeof record.hash === "string") {
          return { seq: record.seq, hash: record.hash, keyed: record.mac !== undefined };
        }
      } catch {}
      return null;
    }
    return null;
  }

  /** The head file an earlier version kept is stale from the first append on: it goes. */
  private dropLegacyHead(): void {
    if (this.legacyHeadGone) return;
    this.legacyHeadGone = true;
    try {
      unlinkSync(join(this.directory, LEGACY_HEAD));
    } catch {}
  }

  private failure(path: string, error: unknown): StorageError {
    this.last = null;
    this.end = null;
    this.unsynced = null;
    try {
      this.close();
    } catch {}
    return new StorageError(
      `cannot append to the audit log ${path}: ${describeOsError(error)}`,
      "audit-failure",
    );
  }
}

/** The first line of a journal of short lines: `{"prev":"<64 hex>"}` and its newline. */
const START_LINE = `{"prev":"${GENESIS}"}\n`.length;

/**
 * The record that follows `last`, its line in the log, and its short line for a journal: the
 * same JSON without `prev` and `hash`, which the journal's start and the chain give back (whole()).
 */
function chained(
  last: { readonly seq: number; readonly hash: string },
  entry: AuditEntry,
  key: AuditKey | null,
): { record: AuditRecord; line: Buffer; short: Buffer } {
  const seq = last.seq + 1;
  // The MAC covers the record with its link (prev); the hash covers the MAC too. The MAC goes in
  // the short line, before the members the chain gives back (§9.3, §9.7).
  const mac = key ? macOf(key, canonical({ seq, ...entry, prev: last.hash })) : undefined;
  const keyed = mac === undefined ? { seq, ...entry } : { seq, ...entry, mac };
  const body = { ...keyed, prev: last.hash };
  const hash = digest(body);
  const short = JSON.stringify(keyed);
  return {
    record: { ...body, hash },
    line: Buffer.from(`${linked(short, last.hash, hash)}\n`),
    short: Buffer.from(`${short}\n`),
  };
}

/** A record's line in the log from its short line: the same as JSON.stringify of the record. */
function linked(short: string, prev: string, hash: string): string {
  return `${short.slice(0, -1)},"prev":"${prev}","hash":"${hash}"}`;
}

/** A journal's text (docs/spec.md §9.3): the chain's start, then the short lines. */
function journalOf(unsynced: Unsynced): Buffer {
  const start = Buffer.from(`{"prev":"${unsynced.start}"}\n`);
  return Buffer.concat([start, ...unsynced.lines], unsynced.size);
}

/**
 * A journal's lines as the log has them: short lines after their chain's start are given back
 * their `prev` and `hash`, up to the first that is not a record; a journal of whole lines (written
 * by an earlier version) is read as it is.
 */
export function journalLines(journal: Uint8Array): string[] {
  const lines = Buffer.from(journal.buffer, journal.byteOffset, journal.length)
    .toString("utf8")
    .split("\n")
    .filter((line) => line !== "");
  let start: unknown;
  try {
    start = JSON.parse(lines[0] ?? "");
  } catch {
    return lines;
  }
  if (!isStart(start)) return lines;
  let prev = start.prev;
  const out: string[] = [];
  for (const short of lines.slice(1)) {
    let body: unknown;
    try {
      body = JSON.parse(short);
    } catch {
      break;
    }
    if (!body || typeof body !== "object" || typeof (body as { seq?: unknown }).seq !== "number") break;
    const hash = digest({ ...body, prev });
    out.push(linked(short, prev, hash));
    prev = hash;
  }
  return out;
}

function isStart(value: unknown): value is { prev: string } {
  return (
    !!value &&
    typeof value === "object" &&
    Object.keys(value).length === 1 &&
    typeof (value as { prev?: unknown }).prev === "string"
  );
}

/**
 * What is wrong with a record's MAC under `key`, or null: a record from the key's first one on
 * must carry one; any MAC (also of an earlier record, made under this key) must match.
 */
function macProblem(record: AuditRecord, key: AuditKey, tails: boolean): string | null {
  const { hash: _, mac, ...signed } = record;
  // Where the key needs a proof, a record without one may be in the unkeyed tail (verify() tells).
  if (mac === undefined) return record.seq >= key.from && !tails ? unsealed(key) : null;
  if (record.seq < key.from) return null;
  return sameMac(macOf(key, canonical(signed)), mac) ? null : "has a MAC that does not match";
}

function unsealed(key: AuditKey): string {
  return `carries no MAC, though every record from ${key.from} on is keyed`;
}

/** The verdict on a record whose MAC is wrong or missing: edited by someone without the key. */
function forgery(where: string, record: AuditRecord, problem: string, index: number): AuditVerdict {
  return {
    intact: false,
    records: index,
    problem: `${where} (seq ${record.seq}) ${problem}: edited by someone without the audit key`,
    forged: true,
  };
}

/** SHA-256 over the record's JSON with keys in a fixed order, so the hash does not depend on how it was written. */
function digest(body: object): string {
  return createHash("sha256").update(canonical(body)).digest("hex");
}

/** JSON with every object's keys sorted (by UTF-16 code units) and undefined members left out. */
function canonical(value: unknown): string {
  if (!value || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const object = value as Record<string, unknown>;
  let out = "";
  for (const key of Object.keys(object).sort()) {
    const member = object[key];
    if (member === undefined) continue;
    out += `${out === "" ? "{" : ","}${JSON.stringify(key)}:${canonical(member)}`;
  }
  return out === "" ? "{}" : `${out}}`;
}
