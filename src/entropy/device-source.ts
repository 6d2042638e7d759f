import { type FileHandle, open } from "node:fs/promises";
import { describeOsError, EntropyError } from "../errors.js";
import type { EntropySource } from "./source.js";

/**
 * Samples read from a character device such as /dev/hwrng (the platform's hardware TRNG), or
 * from any readable file. A source that ends is a failed source, never a short identifier.
 */
export class DeviceSource implements EntropySource {
  readonly name: string;
  private handle: FileHandle | null = null;

  constructor(
    readonly path: string,
    readonly minEntropy: number,
  ) {
    this.name = `device:${path}`;
  }

  async fill(target: Uint8Array): Promise<void> {
    const handle = await this.open();
    let filled = 0;
    while (filled < target.length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(target, filled, target.length - filled, null));
      } catch (error) {
        throw new EntropyError(`cannot read entropy source ${this.name}: ${describeOsError(error)}`);
      }
      if (bytesRead === 0) throw new EntropyError(`entropy source ${this.name} ended (no more samples)`);
      filled += bytesRead;
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }

  private async open(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    try {
      this.handle = await open(this.path, "r");
    } catch (error) {
      throw new EntropyError(`cannot open entropy source ${this.name}: ${describeOsError(error)}`);
    }
    return this.handle;
  }
}
