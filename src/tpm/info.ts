import { GetCapability } from "./commands/capability.js";
import { NV_ReadPublic } from "./commands/nv.js";
import { TPM_ALG, TPM_CAP, TPM_ECC_CURVE, TPM_PT, TPMA_NV, TPMA_PERMANENT } from "./constants.js";
import { TpmResponseError } from "./errors.js";
import { readProperties } from "./properties.js";
import { hex } from "./response-code.js";
import type { Tpm } from "./tpm.js";

/** What `reid tpm info` reports: who made the TPM, and whether it has what reid needs. */
export interface TpmInfo {
  readonly manufacturer: string;
  readonly vendor: string;
  readonly firmware: string;
  readonly spec: string;
  readonly properties: {
    readonly inputBuffer: number;
    readonly nvBufferMax: number;
    readonly nvIndexMax: number;
    readonly maxDigest: number;
  };
  readonly state: {
    readonly ownerAuthSet: boolean;
    readonly inLockout: boolean;
    readonly disableClear: boolean;
  };
  /** Each requirement of reid's, and whether this TPM meets it. */
  readonly requirements: readonly { readonly what: string; readonly ok: boolean }[];
  /** The store's NV indices, what each is for, its state, and its attributes as the TPM has them. */
  readonly indices: readonly IndexInfo[];
}

/** One of the indices a store uses, and what reid defines it as. */
export interface StoreIndex {
  readonly index: number;
  /** What it is for: "area 0", "area 1", "counter", "audit key". */
  readonly role: string;
  readonly size: number;
  /** The attributes (WRITTEN aside) reid defines it with, or an earlier version did. */
  readonly attributes: readonly number[];
  /** What a written one holds ("holds a record", "counted", "holds a key"). */
  readonly written: string;
}

export interface IndexInfo {
  readonly index: string;
  readonly role: string;
  /** `free`, `reid's, holds a record` (`counted`, `holds a key`), `reid's, not written`, or `defined by someone else (…)`. */
  readonly state: string;
  /** The attributes the TPM reports, by name ("authread|authwrite|written"); null when free. */
  readonly attributes: string | null;
}

/** Reads the fixed and variable properties, algorithms and curves, and looks at reid's indices. */
export async function readTpmInfo(tpm: Tpm, storeIndices: readonly StoreIndex[]): Promise<TpmInfo> {
  const fixed = await readProperties(tpm, TPM_PT.FAMILY_INDICATOR, 0x40);
  const variable = await readProperties(tpm, TPM_PT.PERMANENT, 0x20);
  const get = (pt: number) => fixed.get(pt) ?? variable.get(pt) ?? 0;
  const algorithms = await capabilityList(tpm, TPM_CAP.ALGS, TPM_ALG.SHA256, 1);
  const curves = await capabilityList(tpm, TPM_CAP.ECC_CURVES, TPM_ECC_CURVE.NIST_P256, 1);
  const permanent = get(TPM_PT.PERMANENT);
  const fw1 = get(TPM_PT.FIRMWARE_VERSION_1);
  const fw2 = get(TPM_PT.FIRMWARE_VERSION_2);
  const properties = {
    inputBuffer: get(TPM_PT.INPUT_BUFFER),
    nvBufferMax: get(TPM_PT.NV_BUFFER_MAX),
    nvIndexMax: get(TPM_PT.NV_INDEX_MAX),
    maxDigest: get(TPM_PT.MAX_DIGEST),
  };
  const indices: IndexInfo[] = [];
  for (const index of storeIndices) indices.push(await indexInfo(tpm, index));
  const areaSize = storeIndices[0]?.size ?? 0;
  return {
    manufacturer: ascii([get(TPM_PT.MANUFACTURER)]) || hex(get(TPM_PT.MANUFACTURER)),
    vendor: ascii([1, 2, 3, 4].map((i) => get(TPM_PT.VENDOR_STRING_1 + i - 1))),
    // Vendors encode it their own way (Infineon major.minor in FW1, swtpm a date): shown raw.
    firmware: `${hex(fw1)} ${hex(fw2)}`,
    spec: `${ascii([get(TPM_PT.FAMILY_INDICATOR)])} level ${get(TPM_PT.LEVEL)} revision ${(get(TPM_PT.REVISION) / 100).toFixed(2)} (${get(TPM_PT.YEAR)}, day ${get(TPM_PT.DAY_OF_YEAR)})`,
    properties,
    state: {
      ownerAuthSet: (permanent & TPMA_PERMANENT.ownerAuthSet) !== 0,
      inLockout: (permanent & TPMA_PERMANENT.inLockout) !== 0,
      disableClear: (permanent & TPMA_PERMANENT.disableClear) !== 0,
    },
    requirements: [
      {
        what: `NV indices of ${areaSize} bytes (NV_INDEX_MAX ${properties.nvIndexMax})`,
        ok: properties.nvIndexMax >= areaSize,
      },
      {
        what: `TPM2_GetRandom of 32 bytes (MAX_DIGEST ${properties.maxDigest})`,
        ok: properties.maxDigest >= 32,
      },
      { what: "SHA-256", ok: algorithms.includes(TPM_ALG.SHA256) },
      { what: "ECC NIST P-256", ok: curves.includes(TPM_ECC_CURVE.NIST_P256) },
      { what: "not in dictionary-attack lockout", ok: (permanent & TPMA_PERMANENT.inLockout) === 0 },
    ],
    indices,
  };
}

async function capabilityList(tpm: Tpm, capability: number, first: number, count: number): Promise<number[]> {
  const { capabilityData } = await tpm.run(GetCapability, {
    capability,
    property: first,
    propertyCount: count,
  });
  if (capabilityData.capability === TPM_CAP.ALGS) return capabilityData.algorithms.map((a) => a.alg);
  if (capabilityData.capability === TPM_CAP.ECC_CURVES) return capabilityData.curves;
  return [];
}

async function indexInfo(tpm: Tpm, expected: StoreIndex): Promise<IndexInfo> {
  const { index, role } = expected;
  try {
    const { nvPublic } = await tpm.run(NV_ReadPublic, { nvIndex: index });
    const attributes = nvAttributeNames(nvPublic.attributes);
    const own =
      nvPublic.dataSize === expected.size &&
      expected.attributes.includes((nvPublic.attributes & ~TPMA_NV.WRITTEN) >>> 0);
    const state = !own
      ? `defined by someone else (${nvPublic.dataSize} bytes)`
      : (nvPublic.attributes & TPMA_NV.WRITTEN) !== 0
        ? `reid's, ${expected.written}`
        : "reid's, not written";
    return { index: hex(index), role, state, attributes };
  } catch (error) {
    if (error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE")
      return { index: hex(index), role, state: "free", attributes: null };
    throw error;
  }
}

/** TPMA_NV by name, as tpm2_nvreadpublic spells them; the index type as `counter`, `bits`… */
export function nvAttributeNames(attributes: number): string {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(TPMA_NV)) {
    if (name.startsWith("TPM_NT")) continue;
    if ((attributes & bit) >>> 0 === bit) names.push(name.toLowerCase());
  }
  const type = NV_TYPES[(attributes & TPMA_NV.TPM_NT_MASK) >>> 4];
  if (type) names.push(type);
  return names.join("|");
}

/** TPM_NT (Part 2, 13.4): the ordinary index has no name of its own here. */
const NV_TYPES: Readonly<Record<number, string>> = {
  1: "counter",
  2: "bits",
  4: "extend",
  8: "pin_fail",
  9: "pin_pass",
};

/** Vendor properties are big-endian ASCII, four characters each, NUL-padded. */
function ascii(words: readonly number[]): string {
  const bytes = Buffer.alloc(words.length * 4);
  for (const [i, word] of words.entries()) bytes.writeUInt32BE(word >>> 0, i * 4);
  return bytes
    .toString("latin1")
    .replace(/[^\x20-\x7e]/g, "")
    .trim();
}
