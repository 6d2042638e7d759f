import { p256 } from "@noble/curves/nist.js";
import { publicKeySpki } from "../../derive/public-key.js";

/** A listed device's key as the registry takes it: an Ed25519 key or a P-256 point, and its bits. */
export interface ListedKey {
  readonly algorithm: "ed25519" | "p256";
  /** SubjectPublicKeyInfo DER, exactly as it came (it is DER, so it is the one encoding). */
  readonly publicKey: Uint8Array;
  /** The key's bits inside it: Ed25519's 32 bytes, P-256's uncompressed 65. */
  readonly keyBits: Uint8Array;
}

/**
 * The SubjectPublicKeyInfo of each algorithm up to the key's bits: the same bytes for every key of
 * it (the algorithm's identifier and the BIT STRING's header), taken from node:crypto's own DER of
 * a key of each kind, so the list's keys are the DER enrollment reads, in their one encoding.
 */
const PREFIXES = (() => {
  const base = p256.Point.BASE.toBytes(false);
  const ed = new Uint8Array(32).fill(1);
  const prefix = (algorithm: "ed25519" | "p256", bits: Uint8Array) => {
    const der = publicKeySpki(algorithm, bits);
    return { algorithm, prefix: der.subarray(0, der.length - bits.length), bits: bits.length };
  };
  return [prefix("ed25519", ed), prefix("p256", base)];
})();

/**
 * The key of a listed device (docs/spec.md §10.6 `registry import`): the DER SubjectPublicKeyInfo
 * of an Ed25519 key or of a P-256 point in its uncompressed form on the curve, as enrollment accepts
 * (§10.7); null for anything else. A million are read per import, so each is matched against its
 * algorithm's fixed prefix and the point checked by @noble/curves, not parsed into objects.
 */
export function listedKey(spki: Uint8Array): ListedKey | null {
  for (const { algorithm, prefix, bits } of PREFIXES) {
    if (spki.length !== prefix.length + bits || !startsWith(spki, prefix)) continue;
    const keyBits = spki.subarray(prefix.length);
    if (algorithm === "p256" && !onCurve(keyBits)) return null;
    return { algorithm, publicKey: spki, keyBits };
  }
  return null;
}

/** The SubjectPublicKeyInfo DER of a key's bits (a device list's `publicKey`, before base64). */
export function spkiOf(algorithm: ListedKey["algorithm"], keyBits: Uint8Array): Uint8Array {
  const { prefix } = PREFIXES.find((entry) => entry.algorithm === algorithm) as (typeof PREFIXES)[number];
  const spki = new Uint8Array(prefix.length + keyBits.length);
  spki.set(prefix);
  spki.set(keyBits, prefix.length);
  return spki;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** An uncompressed point (0x04, x, y) that is on P-256 and not the point at infinity. */
function onCurve(bits: Uint8Array): boolean {
  if (bits[0] !== 4) return false;
  try {
    p256.Point.fromBytes(bits).assertValidity();
    return true;
  } catch {
    return false;
  }
}
