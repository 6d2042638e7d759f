import { createHash, createHmac } from "node:crypto";
import type { TpmHash } from "../hash.js";

// The TPM's key derivation functions (TPM 2.0 Part 1, 11.4.10): counter-mode KDFs that hash a
// 32-bit counter with a NUL-terminated label and two context values until enough bits are out,
// then mask the unused high bits of the first octet. KDFa keys an HMAC with a secret (session keys,
// parameter-encryption keys); KDFe hashes an ECDH shared value Z (a salt for an ECC-salted session).

/** KDFa (SP 800-108 counter mode with HMAC): `bits` of output. */
export function kdfa(
  hash: TpmHash,
  key: Uint8Array,
  label: string,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Uint8Array {
  return kdfaWith(
    (message) => createHmac(hash, key).update(message).digest(),
    label,
    contextU,
    contextV,
    bits,
  );
}

/** KDFa with the keyed HMAC given as a function (a session keeps its key's HMAC ready). */
export function kdfaWith(
  mac: (message: Uint8Array) => Uint8Array,
  label: string,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Uint8Array {
  // One message per block, counter ‖ label ‖ 0 ‖ contextU ‖ contextV ‖ bits, hashed in one call:
  // a session derives a CFB key and IV on every command.
  const message = Buffer.concat([
    COUNTER_SLOT,
    Buffer.from(label, "latin1"),
    NUL,
    contextU,
    contextV,
    COUNTER_SLOT,
  ]);
  // counterMode refuses a bit count that is no count; until then any value fills the field.
  message.writeUInt32BE(bits >>> 0, message.length - 4);
  try {
    return counterMode(bits, (counter) => {
      message.set(counter, 0);
      return mac(message);
    });
  } finally {
    // The contexts are nonces (public), but a caller's may be anything.
    message.fill(0);
  }
}

const COUNTER_SLOT = new Uint8Array(4);
const NUL = new Uint8Array(1);

/** KDFe (SP 800-56A concatenation KDF with a hash): `bits` of output from the shared value Z. */
export function kdfe(
  hash: TpmHash,
  z: Uint8Array,
  label: string,
  partyUInfo: Uint8Array,
  partyVInfo: Uint8Array,
  bits: number,
): Uint8Array {
  return counterMode(bits, (counter) =>
    createHash(hash)
      .update(counter)
      .update(z)
      .update(labelBytes(label))
      .update(partyUInfo)
      .update(partyVInfo)
      .digest(),
  );
}

function counterMode(bits: number, block: (counter: Uint8Array) => Uint8Array): Uint8Array {
  if (!Number.isInteger(bits) || bits < 0) throw new RangeError(`a KDF cannot make ${bits} bits`);
  const bytes = Math.ceil(bits / 8);
  const out = new Uint8Array(bytes);
  const counter = Buffer.alloc(4);
  for (let i = 1, filled = 0; filled < bytes; i++) {
    counter.writeUInt32BE(i);
    const next = block(counter);
    out.set(next.subarray(0, bytes - filled), filled);
    filled += next.length;
    next.fill(0);
  }
  // Part 1, 11.4.10.2: an output that is not a whole number of octets drops its extra high bits.
  if (bits % 8 !== 0) out[0] = (out[0] as number) & ((1 << (bits % 8)) - 1);
  return out;
}

/** The label as the spec hashes it: its octets and a terminating NUL. */
function labelBytes(label: string): Uint8Array {
  return Buffer.concat([Buffer.from(label, "latin1"), Buffer.alloc(1)]);
}
