import { createHash } from "node:crypto";
import { closeSync, constants, fdatasyncSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describeOsError, StorageError } from "../../errors.js";
import { syncDirectory } from "../durable-file.js";
import type { RollbackCounter } from "../rollback-counter.js";

/** The file in the store directory, beside the audit log, that keeps the copy. */
export const COMMIT_COUNTER_FILE = "commit-counter";
const MAGIC = Buffer.from("RCTR", "latin1");
const VERSION = 1;
/** Magic, version (u32), epoch (u64), SHA-256 of those 16 bytes. */
const SIZE = 48;

/**
 * The file store's rollback counter: a second copy of the highest committed epoch in the store
 * directory, outside the area files, so area files copied aside and written back later are refused.
 * It is a copy, not a counter that cannot go back: whoever can write the directory can write it
 * too (docs/spec.md §5.10 says what that leaves).
 *
 * Overwritten in place (one pwrite of 48 bytes and an fdatasync: one sync per commit, like the
 * record's own), not replaced through a renamed file, which would cost a sync of the file and one of
 * the directory. A torn or missing copy reads as none: it never refuses a good store.
 */
export class CommitCounterFile implements RollbackCounter {
  readonly description: string;
  private readonly path: string;
  /** What the file held when last read or written: the store's lock keeps other writers out. */
  private known: number | null | undefined;

  constructor(directory: string) {
    this.path = join(directory, COMMIT_COUNTER_FILE);
    this.description = `the copy of the commit counter in ${this.path}`;
  }

  async highest(): Promise<number | null> {
    if (this.known !== undefined) return this.known;
    this.known = this.read();
    return this.known;
  }

  private read(): number | null {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw this.failure("read", error);
    }
    try {
      const bytes = Buffer.alloc(SIZE + 1);
      const length = readSync(fd, bytes, 0, bytes.length, 0);
      return length === SIZE ? decode(bytes.subarray(0, SIZE)) : null;
    } catch (error) {
      throw this.failure("read", error);
    } finally {
      closeSync(fd);
    }
  }

  async advance(epoch: number): Promise<void> {
    const known = await this.highest();
    if (known === null || known < epoch) this.write(epoch);
  }

  async restart(epoch: number): Promise<void> {
    this.write(epoch);
  }

  private write(epoch: number): void {
    let created = false;
    let fd: number;
    try {
      try {
        fd = openSync(this.path, constants.O_WRONLY | constants.O_NOFOLLOW);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        fd = openSync(
          this.path,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        created = true;
      }
      try {
        writeSync(fd, encode(epoch), 0, SIZE, 0);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      // A new name must survive power loss too; later writes change the file only.
      if (created) syncDirectory(join(this.path, ".."));
      this.known = epoch;
    } catch (error) {
      // What reached the file is unknown: the next look reads it.
      this.known = undefined;
      throw this.failure("write", error);
    }
  }

  private failure(what: "read" | "write", error: unknown): StorageError {
    return new StorageError(`cannot ${what} ${this.path}: ${describeOsError(error)}`);
  }
}

function encode(epoch: number): Buffer {
  const bytes = Buffer.alloc(SIZE);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt32BE(VERSION, 4);
  bytes.writeBigUInt64BE(BigInt(epoch), 8);
  createHash("sha256").update(bytes.subarray(0, 16)).digest().copy(bytes, 16);
  return bytes;
}

/** The epoch a whole copy holds; null for anything else (torn, edited, another version). */
function decode(bytes: Buffer): number | null {
  if (!bytes.subarray(0, 4).equals(MAGIC) || bytes.readUInt32BE(4) !== VERSION) return null;
  const sum = createHash("sha256").update(bytes.subarray(0, 16)).digest();
  if (!sum.equals(bytes.subarray(16, SIZE))) return null;
  const epoch = bytes.readBigUInt64BE(8);
  return epoch <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(epoch) : null;
}
