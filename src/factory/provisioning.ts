import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { readOptionalFile, replaceFile } from "../storage/durable-file.js";
import { FACTORY_KINDS, type FactoryKind } from "./factory-source.js";

/**
 * Which factory source this element was provisioned with, kept in the store directory (the
 * factory's one-time act), so `reid mode factory` restores the identity from the same source.
 * Cheap to read: status loads nothing else of the factory side.
 */
export const FACTORY_DIRECTORY = "factory";
const SOURCE_FILE = "source";

export function factoryDirectory(storeDirectory: string): string {
  return join(storeDirectory, FACTORY_DIRECTORY);
}

export function readProvisioning(storeDirectory: string): FactoryKind | null {
  const path = join(factoryDirectory(storeDirectory), SOURCE_FILE);
  let text: string | null;
  try {
    text = readOptionalFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw new StorageError(`cannot read ${path}: ${describeOsError(error)}`);
  }
  if (text === null) return null;
  const kind = FACTORY_KINDS.find((k) => k === text.trim());
  if (!kind) throw new StorageError(`${path} is corrupt: it names no known factory source`, "store-corrupt");
  return kind;
}

export function writeProvisioning(storeDirectory: string, kind: FactoryKind): void {
  const path = join(factoryDirectory(storeDirectory), SOURCE_FILE);
  try {
    replaceFile(path, `${kind}\n`);
  } catch (error) {
    throw new StorageError(`cannot write ${path}: ${describeOsError(error)}`);
  }
}
