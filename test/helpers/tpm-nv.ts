import { REID_NV_ATTRIBUTES } from "../../src/storage/tpm/nv-area.js";
import { password } from "../../src/tpm/command.js";
import {
  NV_DefineSpace,
  NV_Read,
  NV_ReadPublic,
  NV_UndefineSpace,
  NV_Write,
} from "../../src/tpm/commands/nv.js";
import { TPM_ALG, TPM_RH, TPMA_NV } from "../../src/tpm/constants.js";
import { TpmResponseError } from "../../src/tpm/errors.js";
import { nvName } from "../../src/tpm/names.js";
import type { NvPublic } from "../../src/tpm/structures/nv.js";
import type { Tpm } from "../../src/tpm/tpm.js";

/** An index's public area, or null when it is not defined. */
export async function nvPublic(tpm: Tpm, index: number) {
  try {
    return (await tpm.run(NV_ReadPublic, { nvIndex: index })).nvPublic;
  } catch (error) {
    if (error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE") return null;
    throw error;
  }
}

/** The index with its name (what a connection with encrypted sessions needs), written or not. */
function named(pub: NvPublic, written: boolean) {
  const attributes = written
    ? (pub.attributes | TPMA_NV.WRITTEN) >>> 0
    : (pub.attributes & ~TPMA_NV.WRITTEN) >>> 0;
  return { handle: pub.nvIndex, name: nvName({ ...pub, attributes }) };
}

/**
 * Who authorizes reading (or writing) the index: the owner, for an index with ownerread (ownerwrite);
 * else the index itself with `indexAuth` (reid's indices: empty before a PIN is set).
 */
function authorizing(
  pub: NvPublic,
  written: boolean,
  read: boolean,
  ownerAuth?: Uint8Array,
  indexAuth?: Uint8Array,
) {
  const owner = read ? TPMA_NV.OWNERREAD : TPMA_NV.OWNERWRITE;
  if (pub.attributes & owner) return password(TPM_RH.OWNER, ownerAuth);
  return { ...named(pub, written), password: indexAuth ?? new Uint8Array(0) };
}

/**
 * What an index holds, read behind the store's back (with the owner's authorization for an index
 * with ownerread, else the index's own, `indexAuth`): empty when the index is not defined, zeros
 * when it is defined but never written.
 */
export async function readIndex(
  tpm: Tpm,
  index: number,
  ownerAuth?: Uint8Array,
  indexAuth?: Uint8Array,
): Promise<Uint8Array> {
  const pub = await nvPublic(tpm, index);
  if (!pub) return new Uint8Array(0);
  if ((pub.attributes & TPMA_NV.WRITTEN) === 0) return new Uint8Array(pub.dataSize);
  const out = new Uint8Array(pub.dataSize);
  for (let offset = 0; offset < pub.dataSize; offset += 512) {
    const size = Math.min(512, pub.dataSize - offset);
    const { data } = await tpm.run(NV_Read, {
      authHandle: authorizing(pub, true, true, ownerAuth, indexAuth),
      nvIndex: named(pub, true),
      size,
      offset,
    });
    out.set(data, offset);
  }
  return out;
}

/** Defines an index without writing it, as a crash between NV_DefineSpace and NV_Write leaves it. */
export async function defineIndex(
  tpm: Tpm,
  index: number,
  size: number,
  attributes = REID_NV_ATTRIBUTES,
  indexAuth: Uint8Array = new Uint8Array(0),
): Promise<void> {
  await tpm.run(NV_DefineSpace, {
    authHandle: password(TPM_RH.OWNER),
    auth: indexAuth,
    publicInfo: {
      nvIndex: index,
      nameAlg: TPM_ALG.SHA256,
      attributes,
      authPolicy: new Uint8Array(0),
      dataSize: size,
    },
  });
}

/**
 * Writes `bytes` into an index, defining it first (with `attributes` and `indexAuth`, empty when
 * not given) when it is not there.
 */
export async function writeIndex(
  tpm: Tpm,
  index: number,
  bytes: Uint8Array,
  attributes = REID_NV_ATTRIBUTES,
  indexAuth?: Uint8Array,
): Promise<void> {
  if (!(await nvPublic(tpm, index))) await defineIndex(tpm, index, bytes.length, attributes, indexAuth);
  for (let offset = 0; offset < bytes.length; offset += 512) {
    const pub = (await nvPublic(tpm, index)) as NvPublic;
    const data = bytes.subarray(offset, Math.min(offset + 512, bytes.length));
    const written = (pub.attributes & TPMA_NV.WRITTEN) !== 0;
    await tpm.run(NV_Write, {
      authHandle: authorizing(pub, written, false, undefined, indexAuth),
      nvIndex: named(pub, written),
      data,
      offset,
    });
  }
}

/** Undefines an index behind the store's back, as tpm2_nvundefine does with the owner's authorization. */
export async function undefineIndex(tpm: Tpm, index: number, ownerAuth?: Uint8Array): Promise<void> {
  const pub = await nvPublic(tpm, index);
  if (!pub) return;
  await tpm.run(NV_UndefineSpace, {
    authHandle: password(TPM_RH.OWNER, ownerAuth),
    nvIndex: named(pub, (pub.attributes & TPMA_NV.WRITTEN) !== 0),
  });
}
