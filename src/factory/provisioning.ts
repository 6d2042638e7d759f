import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { formatName, type IdentifierFormat, parseFormat } from "../format/format.js";
import { readOptionalFile, replaceFile } from "../storage/durable-file.js";
import { RECORD_CAPACITY } from "../storage/record.js";
import { FACTORY_KINDS, type FactoryKind } from "./factory-source.js";

/**
 * What the factory did once (init --factory), kept in the store directory: which factory source
 * gives the identity and in which format, so `reid mode factory` restores exactly that identifier
 * whatever format random mode used since. Cheap to read: status loads nothing else of the factory.
 */
export interface Provisioning {
  readonly kind: FactoryKind;
  readonly format: IdentifierFormat;
}

export const FACTORY_DIRECTORY = "factory";
const PROVISIONING_FILE = "provisioning.json";

export function factoryDirectory(storeDirectory: string): string {
  return join(storeDirectory, FACTORY_DIRECTORY);
}

export function readProvisioning(storeDirectory: string): Provisioning | null {
  const path = join(factoryDirectory(storeDirectory), PROVISIONING_FILE);
  let text: string | null;
  try {
    text = readOptionalFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw new StorageError(`cannot read ${path}: ${describeOsError(error)}`);
  }
  if (text === null) return null;
  const corrupt = () =>
    new StorageError(`${path} is corrupt: it names no known factory source and format`, "store-corrupt");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt();
  }
  const { source, format } = (parsed ?? {}) as Record<string, unknown>;
  const kind = FACTORY_KINDS.find((k) => k === source);
  if (!kind || typeof format !== "string") throw corrupt();
  try {
    return { kind, format: parseFormat(format, RECORD_CAPACITY) };
  } catch {
    throw corrupt();
  }
}

export function writeProvisioning(storeDirectory: string, provisioning: Provisioning): void {
  const path = join(factoryDirectory(storeDirectory), PROVISIONING_FILE);
  try {
    replaceFile(
      path,
      `${JSON.stringify({ source: provisioning.kind, format: formatName(provisioning.format) })}\n`,
    );
  } catch (error) {
    throw new StorageError(`cannot write ${path}: ${describeOsError(error)}`);
  }
}
