import { readFileSync } from "node:fs";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { describeOsError, FactoryError } from "../../errors.js";
import type { FactorySource } from "../factory-source.js";

/** Where a host keeps its identity, in the order tried: systemd's machine id, then the firmware's. */
export const HOST_ID_FILES: readonly string[] = [
  "/etc/machine-id",
  "/var/lib/dbus/machine-id",
  "/sys/class/dmi/id/product_uuid",
];
const SALT = new TextEncoder().encode("reid/factory/host/v1");
const INFO = new TextEncoder().encode("root");

/** The files to try: REID_HOST_ID_FILE when set (one path), else HOST_ID_FILES. */
export function hostIdFiles(override: string | undefined): readonly string[] {
  return override ? [override] : HOST_ID_FILES;
}

/**
 * The host's identity as a factory source: the machine id (or the DMI product UUID), never used
 * or kept raw, but through a keyed hash, as systemd asks of applications
 * (sd_id128_get_machine_app_specific): the root is HKDF-SHA-256 keyed by the id with reid's own
 * salt, so it cannot be turned back into the id nor matched with another application's.
 */
export class HostSource implements FactorySource {
  readonly kind = "host" as const;

  constructor(private readonly files: readonly string[]) {}

  async provision(): Promise<void> {
    // Nothing to keep: the id is checked readable now, so init fails rather than a later switch.
    (await this.root()).fill(0);
  }

  async root(): Promise<Uint8Array> {
    const reasons: string[] = [];
    for (const path of this.files) {
      let raw: Buffer;
      try {
        raw = readFileSync(path);
      } catch (error) {
        reasons.push(`${path}: ${describeOsError(error)}`);
        continue;
      }
      const id = normalize(raw);
      raw.fill(0);
      if (id === null) {
        reasons.push(`${path}: not a machine id or UUID`);
        continue;
      }
      try {
        return hkdf(sha256, id, SALT, INFO, 32);
      } finally {
        id.fill(0);
      }
    }
    throw new FactoryError(`no host identity could be read (${reasons.join("; ")})`, "host-id-missing");
  }
}

/**
 * The id's 16 bytes from 32 hex digits, with or without UUID dashes, any case; null for anything
 * else, or an all-zero or all-one id (an unset or placeholder value).
 */
function normalize(raw: Uint8Array): Uint8Array | null {
  const text = Buffer.from(raw).toString("latin1").trim().replaceAll("-", "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(text) || /^(0{32}|f{32})$/.test(text)) return null;
  return Buffer.from(text, "hex");
}
