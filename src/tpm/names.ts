import { createHash } from "node:crypto";
import { hashOf } from "./hash.js";
import { TpmWriter } from "./marshal/buffer.js";
import type { Codec } from "./marshal/codec.js";
import { type NvPublic, nvPublic } from "./structures/nv.js";
import { type PublicArea, publicArea } from "./structures/public.js";

/**
 * Entity names (TPM 2.0 Part 1, 16): what a command's cpHash binds each handle to, so a session's
 * HMAC covers which entities a command acts on, not only their handles. An object or NV index is
 * named by its nameAlg and the hash of its public area; every other entity by its handle.
 */
export function objectName(area: PublicArea): Uint8Array {
  return hashedName(area.nameAlg, publicArea, area);
}

/** An NV index's name: it changes when the index is first written (TPMA_NV_WRITTEN is in it). */
export function nvName(area: NvPublic): Uint8Array {
  return hashedName(area.nameAlg, nvPublic, area);
}

/** The name of a permanent entity, PCR or session: its handle, big-endian. */
export function handleName(handle: number): Uint8Array {
  const name = new Uint8Array(4);
  new DataView(name.buffer).setUint32(0, handle);
  return name;
}

function hashedName<T>(nameAlg: number, codec: Codec<T>, value: T): Uint8Array {
  const w = new TpmWriter();
  codec.write(w, value);
  const digest = createHash(hashOf(nameAlg)).update(w.finish()).digest();
  const name = new Uint8Array(2 + digest.length);
  new DataView(name.buffer).setUint16(0, nameAlg);
  name.set(digest, 2);
  return name;
}
