import type { KeyObject } from "node:crypto";
import type { DerivedKeys } from "./derivation.js";
import { publicKeySpki } from "./public-key.js";
import { privateKeyObject, type SigningAlgorithm, signBytes, signingPublicKey } from "./signature.js";

const KEY_ALGORITHMS = {
  ed25519: { name: "Ed25519" },
  p256: { name: "ECDSA", namedCurve: "P-256" },
} as const;

/** The WebCrypto algorithm @peculiar/x509 names in the signature and hands back to sign(). */
export const SIGNING_ALGORITHMS = {
  ed25519: { name: "Ed25519" },
  p256: { name: "ECDSA", hash: "SHA-256" },
} as const;

/** A derived key pair in the shape @peculiar/x509 passes around in place of WebCrypto keys. */
export interface SignerKeys {
  readonly privateKey: { readonly algorithm: object; readonly type: "private"; readonly key: KeyObject };
  readonly publicKey: { readonly algorithm: object; readonly type: "public"; readonly spki: Uint8Array };
}

export function signerKeys(keys: DerivedKeys, algorithm: SigningAlgorithm): SignerKeys {
  const publicKey = signingPublicKey(keys, algorithm);
  return {
    privateKey: {
      algorithm: KEY_ALGORITHMS[algorithm],
      type: "private",
      key: privateKeyObject(keys, algorithm),
    },
    publicKey: {
      algorithm: KEY_ALGORITHMS[algorithm],
      type: "public",
      spki: publicKeySpki(algorithm, publicKey),
    },
  };
}

/**
 * The slice of WebCrypto that @peculiar/x509 calls to make certificates and requests (sign,
 * exportKey of a public key), answered by node:crypto's synchronous calls; passed to each
 * generator call, never installed as the library's global provider. Node's own WebCrypto
 * runs every call on the thread pool, and those round trips cost more than the signing itself.
 * ECDSA signatures come back as r || s, as WebCrypto gives them; the library DER-encodes them.
 */
export const signerProvider = {
  subtle: {
    async sign(
      algorithm: { name: string },
      key: SignerKeys["privateKey"],
      data: ArrayBuffer,
    ): Promise<ArrayBuffer> {
      const signature = signBytes(
        algorithm.name === "Ed25519" ? "ed25519" : "p256",
        key.key,
        data,
        "ieee-p1363",
      );
      return new Uint8Array(signature).buffer;
    },
    async exportKey(format: string, key: SignerKeys["publicKey"]): Promise<ArrayBuffer> {
      if (format !== "spki" || key.type !== "public")
        throw new Error(`cannot export a ${key.type} key as ${format}`);
      return new Uint8Array(key.spki).buffer;
    },
  },
};
