import { hash } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { bytesToNumberBE, numberToBytesBE } from "@noble/curves/utils.js";
import { hkdfExpand, hkdfExtract } from "./hkdf.js";
import { okpPublicKey, p256PublicKey } from "./openssl-keys.js";

/**
 * Derivation v1 (docs/spec.md §4.1, §4.2): identifier -> HKDF-SHA256 -> Ed25519, X25519 and P-256 keys and
 * the handle. This is the patent's encryption/decryption unit: it reads the identifier and hands
 * out only public material; private keys live in the returned object until wipe() zeroes them.
 * The public keys come from OpenSSL (openssl-keys.ts), which every reset's handle makes cheap.
 * Any change here is a new version (reid/v2), never an edit of v1.
 */
const encoder = new TextEncoder();
const SALT = encoder.encode("reid/v1");
const LABELS = {
  ed25519: encoder.encode("reid/v1/ed25519"),
  x25519: encoder.encode("reid/v1/x25519"),
  p256: encoder.encode("reid/v1/p256"),
} as const;
/**
 * Keys that seal the element's own files, never shown: not part of the public keys (docs/spec.md §4.3),
 * but derived the same way, so a reset or erase of the identifier makes every old copy unreadable.
 */
const STORAGE_LABELS = { bindings: encoder.encode("reid/v1/storage/bindings") } as const;
const P256_ORDER = p256.Point.CURVE().n;

export interface DerivedKeys {
  readonly handle: string;
  readonly ed25519: { readonly seed: Uint8Array; readonly publicKey: Uint8Array };
  /** The X25519 secret as derived; RFC 7748 clamping happens inside every scalar multiplication. */
  readonly x25519: { readonly secret: Uint8Array; readonly publicKey: Uint8Array };
  /** The P-256 scalar, 32 bytes big-endian, in [1, n-1]; the public key is uncompressed SEC1 (65 bytes). */
  readonly p256: { readonly scalar: Uint8Array; readonly publicKey: Uint8Array };
}

export type KeyAlgorithm = "ed25519" | "x25519" | "p256";

/** Derives the keys of `which` (all by default); the caller wipes them when done. */
export function deriveKeys(
  identifier: Uint8Array,
  which: readonly KeyAlgorithm[] = ["ed25519", "x25519", "p256"],
) {
  const prk = hkdfExtract(SALT, identifier);
  try {
    const seed = expanded(prk, LABELS.ed25519, 32);
    const edPublic = okpPublicKey("Ed25519", seed);
    const keys: { -readonly [K in keyof DerivedKeys]?: DerivedKeys[K] } & { handle: string } = {
      handle: handleOf(edPublic),
      ed25519: { seed, publicKey: edPublic },
    };
    if (which.includes("x25519")) {
      const secret = expanded(prk, LABELS.x25519, 32);
      keys.x25519 = { secret, publicKey: okpPublicKey("X25519", secret) };
    }
    if (which.includes("p256")) {
      const wide = expanded(prk, LABELS.p256, 48);
      // 48 bytes reduced mod n-1 keep the bias below 2^-128, and +1 keeps the scalar off zero.
      const scalar = numberToBytesBE((bytesToNumberBE(wide) % (P256_ORDER - 1n)) + 1n, 32);
      wide.fill(0);
      keys.p256 = { scalar, publicKey: p256PublicKey(scalar) };
    }
    return keys;
  } finally {
    prk.fill(0);
  }
}

/** All three keys and the handle. */
export function deriveAll(identifier: Uint8Array): DerivedKeys {
  return deriveKeys(identifier) as DerivedKeys;
}

/** A 32-byte key that seals one of the element's files (`purpose`); the caller zeroes it. */
export function deriveStorageKey(identifier: Uint8Array, purpose: keyof typeof STORAGE_LABELS): Uint8Array {
  const prk = hkdfExtract(SALT, identifier);
  try {
    return expanded(prk, STORAGE_LABELS[purpose], 32);
  } finally {
    prk.fill(0);
  }
}

/** Just the handle: the lowercase hex of the first 16 bytes of SHA-256(Ed25519 public key). */
export function deriveHandle(identifier: Uint8Array): string {
  const keys = deriveKeys(identifier, ["ed25519"]);
  wipe(keys);
  return keys.handle;
}

export function handleOf(ed25519PublicKey: Uint8Array): string {
  // One-shot: an import checks a million of these, and a Hash object each costs as much as the hash.
  return hash("sha256", ed25519PublicKey, "hex").slice(0, 32);
}

/** HKDF-Expand's bytes as a plain Uint8Array, as every derived key is handed out. */
function expanded(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = hkdfExpand(prk, info, length);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Zeroes every private key in `keys` (public keys and the handle stay readable). */
export function wipe(keys: Partial<DerivedKeys>): void {
  keys.ed25519?.seed.fill(0);
  keys.x25519?.secret.fill(0);
  keys.p256?.scalar.fill(0);
}
