import { createHmac, randomBytes } from "node:crypto";
import { StorageError } from "../../errors.js";
import { hex } from "../../tpm/response-code.js";
import type { Tpm } from "../../tpm/tpm.js";
import type { AuditKey, AuditKeyHome } from "../audit-key-home.js";
import { AREA_SIZE } from "../record.js";
import { NvArea } from "./nv-area.js";

const MAGIC = Buffer.from("RAUK", "latin1");
const VERSION = 1;
const KEY_LENGTH = 32;

/**
 * The TPM backend's audit key: 32 random bytes in the NV index after the counter (I + 3), defined
 * and authorized as the areas are (nv-area.ts: the same code, so the same authorization), written
 * once by `pin set` and read through the encrypted session, so neither crosses the bus in clear.
 * The index holds `RAUK`, version 1 (u32), the first keyed seq (u64) and the key, then zeros.
 * Specified in docs/spec.md §5.7 and §9.7.
 */
export class TpmAuditKeyHome implements AuditKeyHome {
  readonly description: string;

  constructor(
    private readonly tpm: Tpm,
    private readonly index: number,
    private readonly options: {
      readonly ownerAuth?: Uint8Array;
      readonly write: boolean;
      readonly lockTimeoutMs: number;
    },
  ) {
    this.description = `the TPM's NV index ${hex(index)}`;
  }

  async load(): Promise<AuditKey | null> {
    return this.withIndex(false, async (area) => decode(await area.read(0), this.description));
  }

  async create(from: number): Promise<AuditKey> {
    return this.withIndex(true, async (area) => {
      const existing = decode(await area.read(0), this.description);
      if (existing) return existing;
      const bytes = new Uint8Array(AREA_SIZE);
      const key = randomBytes(KEY_LENGTH);
      try {
        const view = Buffer.from(bytes.buffer);
        MAGIC.copy(view, 0);
        view.writeUInt32BE(VERSION, 4);
        view.writeBigUInt64BE(BigInt(from), 8);
        view.set(key, 16);
        await area.write(0, bytes);
        return keyOf(key, from);
      } finally {
        bytes.fill(0);
        key.fill(0);
      }
    });
  }

  private async withIndex<T>(write: boolean, task: (area: NvArea) => Promise<T>): Promise<T> {
    const area = await NvArea.open(this.tpm, {
      nvIndex: this.index,
      write: write && this.options.write,
      lockTimeoutMs: this.options.lockTimeoutMs,
      ...(this.options.ownerAuth ? { ownerAuth: this.options.ownerAuth } : {}),
    });
    try {
      return await task(area);
    } finally {
      await area.close();
    }
  }
}

function decode(bytes: Uint8Array, where: string): AuditKey | null {
  try {
    if (bytes.every((byte) => byte === 0)) return null;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const from = view.readBigUInt64BE(8);
    if (
      !view.subarray(0, 4).equals(MAGIC) ||
      view.readUInt32BE(4) !== VERSION ||
      from < 1n ||
      from > BigInt(Number.MAX_SAFE_INTEGER)
    ) {
      throw new StorageError(`${where} does not hold reid's audit key`, "store-foreign");
    }
    return keyOf(view.subarray(16, 16 + KEY_LENGTH), Number(from));
  } finally {
    bytes.fill(0);
  }
}

function keyOf(bytes: Uint8Array, from: number): AuditKey {
  const key = Buffer.from(bytes);
  return { from, mac: (data) => createHmac("sha256", key).update(data).digest() };
}
