import { createHmac, hkdfSync, randomBytes } from "node:crypto";
import { join } from "node:path";
import { describeOsError, StorageError } from "../../errors.js";
import type { AuditKey, AuditKeyHome } from "../audit-key-home.js";
import { readOptionalFile, replaceFile } from "../durable-file.js";

/** The owner secret's file in the store directory. */
export const AUDIT_KEY_FILE = "audit.key";
const SECRET_LENGTH = 32;

/**
 * The file store's audit key: derived (HKDF-SHA-256, info `reid/audit-mac/v1`) from an owner
 * secret of 32 random bytes that `pin set` makes, kept in `audit.key` (0600) in the store
 * directory: `{"v":1,"from":SEQ,"secret":HEX}`. The secret is independent of the identifier (a
 * reset keeps it) and of the PIN (scheduled requests and the device role append without one).
 * What that can promise is narrow (docs/spec.md §9.7): whoever can read the store directory can
 * key a rebuilt log; a log taken or edited without audit.key is told apart.
 */
export class FileAuditKeyHome implements AuditKeyHome {
  readonly description: string;
  private readonly path: string;

  constructor(directory: string) {
    this.path = join(directory, AUDIT_KEY_FILE);
    this.description = this.path;
  }

  async load(): Promise<AuditKey | null> {
    let text: string | null;
    try {
      text = readOptionalFile(this.path);
    } catch (error) {
      throw new StorageError(`cannot read ${this.path}: ${describeOsError(error)}`);
    }
    if (text === null) return null;
    let parsed: { v?: unknown; from?: unknown; secret?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = {};
    }
    if (
      parsed.v !== 1 ||
      typeof parsed.from !== "number" ||
      !Number.isSafeInteger(parsed.from) ||
      parsed.from < 1 ||
      typeof parsed.secret !== "string" ||
      !/^[0-9a-f]{64}$/.test(parsed.secret)
    ) {
      throw new StorageError(
        `${this.path} is corrupt: it is not {"v":1,"from":SEQ,"secret":HEX}`,
        "store-corrupt",
      );
    }
    const secret = Buffer.from(parsed.secret, "hex");
    try {
      return keyOf(secret, parsed.from);
    } finally {
      secret.fill(0);
    }
  }

  async create(from: number): Promise<AuditKey> {
    const existing = await this.load();
    if (existing) return existing;
    const secret = randomBytes(SECRET_LENGTH);
    try {
      replaceFile(this.path, `${JSON.stringify({ v: 1, from, secret: secret.toString("hex") })}\n`);
      return keyOf(secret, from);
    } catch (error) {
      throw new StorageError(`cannot write ${this.path}: ${describeOsError(error)}`);
    } finally {
      secret.fill(0);
    }
  }
}

function keyOf(secret: Uint8Array, from: number): AuditKey {
  const key = Buffer.from(hkdfSync("sha256", secret, new Uint8Array(0), "reid/audit-mac/v1", 32));
  return { from, mac: (data) => createHmac("sha256", key).update(data).digest() };
}
