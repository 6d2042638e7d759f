import {
  closeSync,
  constants,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { describeOsError, StorageError } from "../../errors.js";
import { makeDirectories } from "../durable-file.js";
import { AREA_SIZE, isZero } from "../record.js";
import type { AreaIndex, StorageArea } from "../storage-area.js";

export interface FileAreaOptions {
  /** Open for commits (read-write) or only to look (read-only, works on a read-only mount). */
  readonly write: boolean;
}

/**
 * An area file with a journal: the record, then the journal's room, one page in all (an operation's
 * two audit lines take ~600 bytes: the log is synced about once every six). Larger files measured
 * slower per commit than the syncs they save.
 */
export const AREA_FILE = 4096;

/**
 * The file backend's storage area: a 0700 directory with two preallocated 0600 files, area-0 and
 * area-1, of AREA_FILE bytes each (a store from before journals has AREA_SIZE, until its first
 * commit with a journal): an audit journal follows the record in the same pwrite and fdatasync
 * (docs/spec.md §9.3).
 * The directory is the store directory, whose lock the opener (storage/open.ts) holds for as long
 * as the area is open. After provisioning, records are overwritten in place (pwrite + fdatasync):
 * no file is created or renamed, and none grows past AREA_FILE, so a commit needs no directory sync
 * and cannot run out of space on an ordinary file system.
 *
 * I/O is synchronous on purpose: each call is one small pwrite, pread or fdatasync, so the thread
 * pool round trip would cost more than the work, and the calls stay plain libc calls.
 * Specified in docs/spec.md §5.6.
 */
export class FileArea implements StorageArea {
  readonly areaSize = AREA_SIZE;
  readonly journalCapacity = AREA_FILE - AREA_SIZE;
  readonly writable: boolean;
  private readonly fds: [number | null, number | null] = [null, null];
  /** Areas last read with the wrong size: their next write also truncates them to what it wrote. */
  private readonly misfit = [false, false];
  /** What the last read of each area found after its record. */
  private readonly journals: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
  private closed = false;
  /** An area file's bytes as a journaled write assembles them; zeroed after every use. */
  private readonly whole = new Uint8Array(AREA_FILE);
  /** Known once true: we hold the lock, and stat after a write costs as much as half an fdatasync. */
  private known = false;

  /** The store directory, which holds the area files. */
  readonly location: string;

  constructor(
    directory: string,
    private readonly options: FileAreaOptions,
  ) {
    this.location = resolve(directory);
    this.writable = options.write;
  }

  async provisioned(): Promise<boolean> {
    if (this.known) return true;
    const has0 = this.exists(0);
    const has1 = this.exists(1);
    if (has0 && has1) {
      this.known = true;
      return true;
    }
    if (has0) throw this.damaged("area-1 is missing");
    if (!has1) return false;
    // area-1 is written first when provisioning: alone and zeroed, it is an interrupted start.
    const bytes = await this.read(1);
    const leftover = isZero(bytes);
    bytes.fill(0);
    if (!leftover) throw this.damaged("area-0 is missing");
    this.closeArea(1);
    return false;
  }

  async provision(contents: readonly [Uint8Array, Uint8Array], journal?: Uint8Array): Promise<void> {
    this.assertWritable();
    this.makeDirectory();
    try {
      // area-1 first: until area-0 exists, the store counts as never provisioned.
      for (const index of [1, 0] as const) {
        const path = this.path(index);
        const temporary = `${path}.tmp`;
        try {
          const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
          try {
            // Whole from the start: a journal never grows the file (nor needs space) later.
            const whole = new Uint8Array(AREA_FILE);
            whole.set(contents[index]);
            if (index === 0 && journal) whole.set(this.fitting(journal), AREA_SIZE);
            writeAll(fd, whole);
            whole.fill(0);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          renameSync(temporary, path);
        } catch (error) {
          try {
            unlinkSync(temporary);
          } catch {}
          throw this.failure(`cannot create ${path}`, error);
        }
      }
      this.syncDirectory(this.location);
    } catch (error) {
      // A refused first commit must leave the store never provisioned: the areas may already be in
      // place when only a directory sync failed, and a later load would find the record in force.
      this.unprovision();
      throw error;
    }
  }

  async read(index: AreaIndex): Promise<Uint8Array> {
    const fd = this.fd(index);
    // One byte more than the file, so a file of the wrong size reads as one.
    const bytes = new Uint8Array(AREA_FILE + 1);
    try {
      let length = 0;
      for (;;) {
        const n = readSync(fd, bytes, length, bytes.length - length, length);
        if (n === 0) break;
        length += n;
        if (length === bytes.length) break;
      }
      const read = bytes.subarray(0, length);
      this.misfit[index] = !fits(read);
      this.journals[index] = fits(read) ? read.slice(AREA_SIZE) : new Uint8Array(0);
      return recordOfAreaFile(read).slice();
    } catch (error) {
      throw this.failure(`cannot read ${this.path(index)}`, error);
    } finally {
      bytes.fill(0);
    }
  }

  async write(index: AreaIndex, data: Uint8Array, journal?: Uint8Array): Promise<void> {
    this.assertWritable();
    if (data.length !== AREA_SIZE) throw new RangeError(`an area takes exactly ${AREA_SIZE} bytes`);
    const fd = this.fd(index);
    // With a journal, the whole file: the record and its journal in one write, one sync. The
    // buffer is this area's own, all zeros between writes (cleared after each).
    const bytes = journal ? this.whole : data;
    if (journal) {
      bytes.set(data);
      bytes.set(this.fitting(journal), AREA_SIZE);
    }
    try {
      writeAll(fd, bytes);
      // Not an fstat per write: statx after a write costs as much as half an fdatasync here.
      if (this.misfit[index]) ftruncateSync(fd, bytes.length);
      fdatasyncSync(fd);
      this.misfit[index] = false;
    } catch (error) {
      throw this.failure(`cannot write ${this.path(index)}`, error);
    } finally {
      if (journal) bytes.fill(0);
    }
  }

  journalOf(index: AreaIndex): Uint8Array {
    return this.journals[index];
  }

  private fitting(journal: Uint8Array): Uint8Array {
    if (journal.length > this.journalCapacity) {
      throw new RangeError(`a journal takes at most ${this.journalCapacity} bytes`);
    }
    return journal;
  }

  /**
   * Zeroes the record. A journal beside it stays: audit lines, public like the log they copy, and
   * bound to the epoch of the record they came with, so never read beside another.
   */
  async erase(index: AreaIndex): Promise<void> {
    await this.write(index, new Uint8Array(AREA_SIZE));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeArea(0);
    this.closeArea(1);
  }

  /**
   * Best-effort undo of a failed provision: area-0 goes first, so whatever is left (nothing, or a
   * lone area-1) reads as never provisioned; area-1 goes only once area-0 is gone, because a lone
   * area-0 would read as a damaged store.
   */
  private unprovision(): void {
    try {
      unlinkSync(this.path(0));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return;
    }
    try {
      unlinkSync(this.path(1));
    } catch {}
  }

  /** Creates the store directory (and missing parents, all 0700, durably). */
  private makeDirectory(): void {
    try {
      makeDirectories(this.location);
    } catch (error) {
      throw this.failure(`cannot create store ${this.location}`, error);
    }
  }

  private exists(index: AreaIndex): boolean {
    try {
      statSync(this.path(index));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw this.failure(`cannot open ${this.path(index)}`, error);
    }
  }

  private fd(index: AreaIndex): number {
    const open = this.fds[index];
    if (open !== null) return open;
    if (this.closed) throw new Error("store is closed");
    const flags = this.options.write ? constants.O_RDWR : constants.O_RDONLY;
    try {
      const fd = openSync(this.path(index), flags);
      this.fds[index] = fd;
      return fd;
    } catch (error) {
      throw this.failure(`cannot open ${this.path(index)}`, error);
    }
  }

  private closeArea(index: AreaIndex): void {
    const fd = this.fds[index];
    this.fds[index] = null;
    if (fd !== null) closeSync(fd);
  }

  private syncDirectory(path: string): void {
    try {
      const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw this.failure(`cannot sync directory ${path}`, error);
    }
  }

  private path(index: AreaIndex): string {
    return join(this.location, `area-${index}`);
  }

  private assertWritable(): void {
    if (!this.options.write) throw new Error("store was opened read-only");
  }

  private damaged(detail: string): StorageError {
    return new StorageError(`store ${this.location} is damaged: ${detail}`, "store-corrupt");
  }

  private failure(what: string, error: unknown): StorageError {
    return new StorageError(`${what}: ${describeOsError(error)}`);
  }
}

/** An area file's size: its record alone (a store from before journals), or AREA_FILE. */
function fits(file: Uint8Array): boolean {
  return file.length === AREA_SIZE || file.length === AREA_FILE;
}

/**
 * The record in an area file's bytes; a file of another size is returned as it is (at most a byte
 * over an area), which the record's decoder refuses as the wrong size.
 */
export function recordOfAreaFile(file: Uint8Array): Uint8Array {
  return file.subarray(0, fits(file) ? AREA_SIZE : Math.min(file.length, AREA_SIZE + 1));
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
}
