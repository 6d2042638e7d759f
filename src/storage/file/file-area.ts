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
 * The file backend's storage area: a 0700 directory with two preallocated 0600 files, area-0 and
 * area-1, of AREA_SIZE bytes each. The directory is the store directory, whose lock the opener
 * (storage/open.ts) holds for as long as the area is open. After provisioning, records are overwritten in place (pwrite +
 * fdatasync): no file is created, renamed or grown, so a commit needs no directory sync and cannot
 * run out of space on an ordinary file system.
 *
 * I/O is synchronous on purpose: each call is one small pwrite, pread or fdatasync, so the thread
 * pool round trip would cost more than the work, and the calls stay plain libc calls.
 * Specified in docs/spec.md §5.6.
 */
export class FileArea implements StorageArea {
  readonly areaSize = AREA_SIZE;
  readonly writable: boolean;
  private readonly fds: [number | null, number | null] = [null, null];
  /** Areas last read with the wrong size: their next write also truncates them to AREA_SIZE. */
  private readonly misfit = [false, false];
  private closed = false;
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

  async provision(contents: readonly [Uint8Array, Uint8Array]): Promise<void> {
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
            writeAll(fd, contents[index]);
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
    // One byte more than an area, so a file of the wrong size reads as one.
    const bytes = new Uint8Array(AREA_SIZE + 1);
    try {
      let length = 0;
      for (;;) {
        const n = readSync(fd, bytes, length, bytes.length - length, length);
        if (n === 0) break;
        length += n;
        if (length === bytes.length) break;
      }
      this.misfit[index] = length !== AREA_SIZE;
      return length === bytes.length ? bytes : bytes.subarray(0, length);
    } catch (error) {
      bytes.fill(0);
      throw this.failure(`cannot read ${this.path(index)}`, error);
    }
  }

  async write(index: AreaIndex, data: Uint8Array): Promise<void> {
    this.assertWritable();
    if (data.length !== AREA_SIZE) throw new RangeError(`an area takes exactly ${AREA_SIZE} bytes`);
    const fd = this.fd(index);
    try {
      writeAll(fd, data);
      // Not an fstat per write: statx after a write costs as much as half an fdatasync here.
      if (this.misfit[index]) ftruncateSync(fd, AREA_SIZE);
      fdatasyncSync(fd);
      this.misfit[index] = false;
    } catch (error) {
      throw this.failure(`cannot write ${this.path(index)}`, error);
    }
  }

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

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
}
