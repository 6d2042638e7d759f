import { createHmac, randomBytes } from "node:crypto";
import { StorageError } from "../../errors.js";
import { password } from "../../tpm/command.js";
import { NV_DefineSpace, NV_Read, NV_ReadPublic } from "../../tpm/commands/nv.js";
import { TPM_ALG, TPM_RH, TPMA_NV } from "../../tpm/constants.js";
import { TpmResponseError } from "../../tpm/errors.js";
import { nvName } from "../../tpm/names.js";
import { hex } from "../../tpm/response-code.js";
import type { Tpm } from "../../tpm/tpm.js";
import type { AuditKey, AuditKeyHome } from "../audit-key-home.js";
import { AREA_SIZE } from "../record.js";
import { NvArea, REID_NV_ATTRIBUTES } from "./nv-area.js";
import type { KeyProbe, NvPlaces } from "./nv-places.js";

const MAGIC = Buffer.from("RAUK", "latin1");
const VERSION = 1;
const KEY_LENGTH = 32;

/**
 * The TPM backend's audit key: 32 random bytes in an NV index the store chose when `pin set` first
 * made the key (nv-places.ts, remembered in store.json), defined and authorized as the areas are
 * (nv-area.ts: the same code, so the same authorization, with the empty authValue), and read
 * through the encrypted session, so neither crosses the bus in clear. The index holds `RAUK`,
 * version 1 (u32), the first keyed seq (u64) and the key, then zeros.
 * Specified in docs/spec.md §5.7 and §9.7.
 */
export class TpmAuditKeyHome implements AuditKeyHome {
  readonly description = "the TPM's audit key index";

  constructor(
    private readonly tpm: Tpm,
    private readonly places: NvPlaces,
    private readonly options: {
      readonly ownerAuth?: Uint8Array;
      readonly write: boolean;
      readonly lockTimeoutMs: number;
    },
  ) {}

  async load(): Promise<AuditKey | null> {
    const index = await this.places.auditKey();
    if (index === null) return null;
    return this.withIndex(index, false, async (area) => decode(await area.read(0), where(index)));
  }

  /**
   * Whether `index` holds a key an earlier version wrote (nv-places.ts): its head read with the
   * empty authValue the key's index has, without the index's place lock (another store's daemon may
   * hold it for good). A refused authorization is another store's index (the TPM counts it, once:
   * the answer is recorded), and so is anything that is not `RAUK`; a lockout or failure cannot
   * tell, and throws.
   */
  async probe(index: number): Promise<KeyProbe> {
    const { nvPublic } = await this.tpm.run(NV_ReadPublic, { nvIndex: index });
    const rest = (nvPublic.attributes & ~TPMA_NV.WRITTEN) >>> 0;
    if (rest !== REID_NV_ATTRIBUTES || nvPublic.dataSize !== AREA_SIZE) return "not-ours";
    if ((nvPublic.attributes & TPMA_NV.WRITTEN) === 0) return "not-ours";
    try {
      const named = { handle: index, name: nvName(nvPublic) };
      const { data } = await this.tpm.run(NV_Read, {
        authHandle: { ...named, password: new Uint8Array(0) },
        nvIndex: named,
        size: MAGIC.length,
        offset: 0,
      });
      return Buffer.from(data).equals(MAGIC) ? "ours" : "not-ours";
    } catch (error) {
      const refused = ["TPM_RC_BAD_AUTH", "TPM_RC_AUTH_FAIL", "TPM_RC_NV_UNINITIALIZED"];
      if (error instanceof TpmResponseError && refused.includes(error.rc)) return "not-ours";
      throw error;
    }
  }

  async create(from: number): Promise<AuditKey> {
    const index =
      (await this.places.auditKey()) ?? (await this.places.choose("auditKey", (free) => this.define(free)));
    return this.withIndex(index, true, async (area) => {
      const existing = decode(await area.read(0), where(index));
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

  /** Defines the key's index as NvArea defines one (TPM_RC_NV_DEFINED: the chooser tries another). */
  private async define(index: number): Promise<void> {
    await this.tpm.run(NV_DefineSpace, {
      authHandle: password(TPM_RH.OWNER, this.options.ownerAuth),
      auth: new Uint8Array(0),
      publicInfo: {
        nvIndex: index,
        nameAlg: TPM_ALG.SHA256,
        attributes: REID_NV_ATTRIBUTES,
        authPolicy: new Uint8Array(0),
        dataSize: AREA_SIZE,
      },
    });
  }

  private async withIndex<T>(index: number, write: boolean, task: (area: NvArea) => Promise<T>): Promise<T> {
    const area = await NvArea.open(this.tpm, {
      nvIndex: index,
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

function where(index: number): string {
  return `the TPM's NV index ${hex(index)}`;
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
