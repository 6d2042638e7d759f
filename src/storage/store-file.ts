import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describeOsError, StorageError } from "../errors.js";
import { makeDirectories, readOptionalFile, replaceFile, syncDirectory } from "./durable-file.js";
import { STORE_ID_LENGTH } from "./record.js";
import { SEALING_KEY_KINDS, type SealingKeyRef } from "./sealing/key-home.js";

/**
 * What a store directory remembers about itself, in store.json (0600, replaced durably):
 * `{"v":1,"id":"<32 hex>","backend":"files|tpm|...","spec":"<canonical spec>","committed":bool}`.
 * The backend and its spec let later commands (and the daemon) open the store without naming it
 * again, and keep a store from silently reading as blank because an option was forgotten. The id
 * is written into every record the store commits, so a second directory naming the same TPM index
 * or token objects is told whose they are. `committed` says a record was committed once to a
 * backend whose areas live outside the directory: a backend that then holds none lost it, which is
 * an error, not a store that was never used (whose generations would start again at 1). A file
 * store's areas go wherever its directory goes, so it stays false there.
 * Specified in docs/spec.md §5.5.
 */
export const STORE_FILE = "store.json";
/** The form of earlier versions, for TPM stores only: the spec, then "committed" once committed. */
const LEGACY_TPM_FILE = "tpm";

export interface StoreFile {
  /** The store id, 32 hex digits; null in the legacy form, which had none. */
  readonly id: string | null;
  readonly backend: string;
  readonly spec: string;
  readonly committed: boolean;
  /** Read from the legacy `tpm` file: the next write replaces it with store.json. */
  readonly legacy: boolean;
  /** The key that seals the store (absent: none, or a key-encryption key from before this field). */
  readonly sealing?: SealingKeyRef | null;
  /** A change of sealing key under way (§5.4): the key it goes to, null for unsealing. */
  readonly pending?: PendingSealing | null;
  /** A TPM store's counter and audit key indices (absent: not recorded yet, §5.7). */
  readonly nv?: NvPlacesRecord | null;
}

/**
 * Where a TPM store's rollback counter and audit key are (null: none made yet, chosen at first
 * need): `{"counter":"0x01524502","auditKey":null}` in store.json.
 */
export interface NvPlacesRecord {
  readonly counter: number | null;
  readonly auditKey: number | null;
  /**
   * The audit key's index is under the owner PIN's authValue (`"auditKeyAuth":"pin"`), as this
   * version defines it; absent: the empty authValue an earlier version gave it (§9.7).
   */
  readonly auditKeyBound?: boolean;
}

/** A re-sealing under way: the record may be under the old key (`sealing`) or under `to`. */
export interface PendingSealing {
  readonly to: SealingKeyRef | null;
}

/** store.json, else the legacy `tpm` file, else null (a new store, or a file store from before store.json). */
export function readStoreFile(directory: string): StoreFile | null {
  const text = readText(directory, STORE_FILE);
  if (text !== null) return parseStoreFile(directory, text);
  const legacy = readText(directory, LEGACY_TPM_FILE);
  if (legacy === null) return null;
  const [spec = "", ...rest] = legacy.split("\n").map((line) => line.trim());
  return { id: null, backend: "tpm", spec, committed: rest.includes("committed"), legacy: true };
}

/** Replaces store.json durably (creating the directory if needed) and drops the legacy file. */
export function writeStoreFile(directory: string, file: Omit<StoreFile, "legacy"> & { id: string }): void {
  const path = join(directory, STORE_FILE);
  const content = {
    v: 1,
    id: file.id,
    backend: file.backend,
    spec: file.spec,
    committed: file.committed,
    ...(file.sealing ? { sealing: file.sealing } : {}),
    ...(file.pending ? { pending: file.pending } : {}),
    ...(file.nv
      ? {
          nv: {
            counter: nvText(file.nv.counter),
            auditKey: nvText(file.nv.auditKey),
            ...(file.nv.auditKeyBound ? { auditKeyAuth: "pin" } : {}),
          },
        }
      : {}),
  };
  try {
    makeDirectories(directory);
    replaceFile(path, `${JSON.stringify(content)}\n`);
    if (readOptionalFile(join(directory, LEGACY_TPM_FILE)) !== null) {
      rmSync(join(directory, LEGACY_TPM_FILE), { force: true });
      syncDirectory(directory);
    }
  } catch (error) {
    throw new StorageError(`cannot write ${path}: ${describeOsError(error)}`);
  }
}

/** A new store id: 16 random bytes, in hex. */
export function newStoreId(): string {
  return randomBytes(STORE_ID_LENGTH).toString("hex");
}

function readText(directory: string, name: string): string | null {
  try {
    return readOptionalFile(join(directory, name));
  } catch (error) {
    // A store path that is a file, or under one: no store there (the opener says what is wrong).
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw new StorageError(`cannot read ${join(directory, name)}: ${describeOsError(error)}`);
  }
}

function parseStoreFile(directory: string, text: string): StoreFile {
  const corrupt = (why: string) =>
    new StorageError(
      `${join(directory, STORE_FILE)} is corrupt: ${why}; it names the store's backend and id, restore it from a backup`,
      "store-corrupt",
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt("it is not JSON");
  }
  const file = value as Record<string, unknown> | null;
  if (typeof file !== "object" || file === null || Array.isArray(file) || file.v !== 1) {
    throw corrupt("it is not a version 1 store file");
  }
  const { id, backend, spec, committed } = file;
  if (typeof id !== "string" || !/^[0-9a-f]{32}$/.test(id) || /^0+$/.test(id))
    throw corrupt("its id is malformed");
  if (typeof backend !== "string" || !/^[a-z][a-z0-9]*$/.test(backend))
    throw corrupt("its backend is malformed");
  if (typeof spec !== "string" || spec.length > 4096) throw corrupt("its spec is malformed");
  if (typeof committed !== "boolean") throw corrupt("its committed flag is malformed");
  const sealing = file.sealing === undefined ? null : keyRef(file.sealing);
  if (sealing === undefined) throw corrupt("its sealing key is malformed");
  let pending: PendingSealing | null = null;
  if (file.pending !== undefined) {
    const value = file.pending as Record<string, unknown> | null;
    const to =
      typeof value === "object" && value !== null ? (value.to === null ? null : keyRef(value.to)) : undefined;
    if (to === undefined) throw corrupt("its pending sealing is malformed");
    pending = { to };
  }
  let nv: NvPlacesRecord | null = null;
  if (file.nv !== undefined) {
    const value = file.nv as Record<string, unknown> | null;
    const counter = typeof value === "object" && value !== null ? nvIndexOf(value.counter) : undefined;
    const auditKey = typeof value === "object" && value !== null ? nvIndexOf(value.auditKey) : undefined;
    const keyAuth = typeof value === "object" && value !== null ? value.auditKeyAuth : undefined;
    if (counter === undefined || auditKey === undefined || (keyAuth !== undefined && keyAuth !== "pin"))
      throw corrupt("its NV indices are malformed");
    nv = { counter, auditKey, ...(keyAuth === "pin" ? { auditKeyBound: true } : {}) };
  }
  return { id, backend, spec, committed, legacy: false, sealing, pending, nv };
}

function nvText(index: number | null): string | null {
  return index === null ? null : `0x${index.toString(16).padStart(8, "0")}`;
}

/** An NV index as store.json keeps it ("0x01524502", or null), or undefined when it is not one. */
function nvIndexOf(value: unknown): number | null | undefined {
  if (value === null) return null;
  if (typeof value !== "string" || !/^0x01[0-9a-f]{6}$/.test(value)) return undefined;
  return Number.parseInt(value.slice(2), 16);
}

/** A sealing key's reference as store.json keeps it, or undefined when it is not one. */
function keyRef(value: unknown): SealingKeyRef | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { key, id } = value as Record<string, unknown>;
  if (!SEALING_KEY_KINDS.includes(key as SealingKeyRef["key"])) return undefined;
  if (typeof id !== "string" || !/^[0-9a-f]{16}$/.test(id)) return undefined;
  return { key: key as SealingKeyRef["key"], id };
}
