import { closeSync, fsync, openSync } from "node:fs";
import { promisify } from "node:util";
import { describeOsError } from "../../../errors.js";
import { registryFailure } from "../../registry-errors.js";

const fsyncAsync = promisify(fsync);

/**
 * The WAL made durable off the event loop. The database runs with synchronous=NORMAL, so a commit
 * writes its frames to the WAL and returns without waiting for the disk; this fsyncs the WAL on
 * libuv's thread pool before anything of the commit is answered. What synchronous=FULL promises
 * holds (an answered change survives a power cut), but the server goes on with the next requests
 * while the disk works, and one fsync serves every commit made before it started.
 *
 * Linux syncs a file through any descriptor of it: a read-only one, held for the connection's
 * life (SQLite keeps the WAL's inode while a connection is open; a checkpoint rewinds it in place).
 */
export class WalSync {
  private fd: number | null = null;
  private current: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(private readonly walPath: string) {}

  /** Resolves once every commit made before the call is on disk. */
  durable(): Promise<void> {
    if (this.next) return this.next;
    if (!this.current) {
      this.current = this.start();
      return this.current;
    }
    // One is under way and may have begun before the last commit: the one after it covers this.
    const after = () => {
      this.next = null;
      this.current = this.start();
      return this.current;
    };
    this.next = this.current.then(after, after);
    return this.next;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private start(): Promise<void> {
    const started = this.sync().finally(() => {
      if (this.current === started) this.current = null;
    });
    return started;
  }

  private async sync(): Promise<void> {
    try {
      this.fd ??= openSync(this.walPath, "r");
      await fsyncAsync(this.fd);
    } catch (error) {
      // No log yet: nothing was written through it.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw registryFailure(`the registry database's log cannot be made durable: ${describeOsError(error)}`);
    }
  }
}
