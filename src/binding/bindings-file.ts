import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { readOptionalFile, replaceFile, syncDirectory } from "../storage/durable-file.js";
import { AesGcmSealer } from "../storage/sealer.js";

/** A user bound to this element in its device role: who may command it, and its last counter. */
export interface UserBinding {
  readonly handle: string;
  readonly ed25519: string;
  readonly x25519: string;
  readonly bound: string;
  /** The highest command counter accepted from this user: a command must carry a higher one. */
  readonly counter: number;
}

/** A device this element is bound to in its user role: where it was, its keys, our last counter. */
export interface DeviceBinding {
  readonly handle: string;
  readonly ed25519: string;
  readonly x25519: string;
  readonly address: string;
  readonly bound: string;
  /** The last counter this element used towards the device. */
  readonly counter: number;
}

export interface Bindings {
  readonly users: readonly UserBinding[];
  readonly devices: readonly DeviceBinding[];
}

export const BINDINGS_FILE = "bindings.json";
const VERSION = 1;
/** Enough for any household; a device refuses more binds rather than grow without bound. */
export const MAX_BINDINGS = 256;

/**
 * The element's bindings, in its store directory (0600), sealed with AES-256-GCM under a key derived
 * from the identifier (HKDF, "reid/v1/storage/bindings") and bound to the identifier's handle. So
 * the bindings are as safe as the identifier: a copy of the store reveals no binding, an edited
 * file fails to open, and once the identifier is reset or erased every old copy is unreadable. A
 * file left by an earlier identifier (a crash between the identifier's commit and the file's
 * removal) names another handle: it is read as no bindings, and replaced at the next write.
 * Specified in docs/spec.md §7.7.
 */
export class BindingsFile {
  private readonly path: string;
  private readonly sealer: AesGcmSealer;

  constructor(
    directory: string,
    private readonly handle: string,
    key: Uint8Array,
  ) {
    this.path = join(directory, BINDINGS_FILE);
    this.sealer = new AesGcmSealer(key);
  }

  read(): Bindings {
    let text: string | null;
    try {
      text = readOptionalFile(this.path);
    } catch (error) {
      throw new StorageError(`cannot read the bindings: ${describeOsError(error)}`);
    }
    if (text === null) return { users: [], devices: [] };
    let file: { v?: unknown; handle?: unknown; sealed?: unknown };
    try {
      file = JSON.parse(text);
    } catch {
      throw corrupt();
    }
    if (file.handle !== this.handle && typeof file.handle === "string") return { users: [], devices: [] };
    if (file.v !== VERSION || typeof file.sealed !== "string" || !/^(?:[0-9a-f]{2})+$/.test(file.sealed)) {
      throw corrupt();
    }
    const plain = this.sealer.open(Buffer.from(file.sealed, "hex"), this.associated());
    if (!plain) throw corrupt();
    try {
      const bindings = JSON.parse(Buffer.from(plain).toString("utf8")) as Bindings;
      if (!Array.isArray(bindings.users) || !Array.isArray(bindings.devices)) throw new Error("shape");
      return bindings;
    } catch {
      throw corrupt();
    } finally {
      plain.fill(0);
    }
  }

  /** Replaces the file whole and durably (written aside, synced, renamed): old or new, never torn. */
  write(bindings: Bindings): void {
    const sealed = this.sealer.seal(Buffer.from(JSON.stringify(bindings)), this.associated());
    const file = { v: VERSION, handle: this.handle, sealed: Buffer.from(sealed).toString("hex") };
    try {
      replaceFile(this.path, `${JSON.stringify(file)}\n`);
    } catch (error) {
      throw new StorageError(`cannot write the bindings: ${describeOsError(error)}`);
    }
  }

  private associated(): Uint8Array {
    return Buffer.from(`reid/v1/bindings\n${this.handle}`);
  }
}

/**
 * Removes the bindings file (after a reset or erase): the key that sealed it is gone with the old
 * identifier, so unlinking is enough; the directory is synced so the removal survives a crash.
 */
export function wipeBindings(directory: string): void {
  const path = join(directory, BINDINGS_FILE);
  // No file, no write: an element that never bound does exactly the I/O it did before bindings.
  if (!existsSync(path)) return;
  rmSync(path, { force: true });
  syncDirectory(directory);
}

function corrupt(): StorageError {
  return new StorageError(
    "the bindings file is corrupt or was sealed by another identifier's key",
    "bindings-corrupt",
  );
}
