import { createPublicKey, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import type { KeyAlgorithm } from "./derivation.js";

const ID_ED25519 = "1.3.101.112";
const ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const ID_PRIME256V1 = "1.2.840.10045.3.1.7";

/** A key that signs: its algorithm, its raw bytes (as reid derives them) and its KeyObject. */
export interface SigningKey {
  readonly algorithm: "ed25519" | "p256";
  /** Ed25519's 32 bytes; P-256's 65 (SEC1 uncompressed). */
  readonly publicKey: Uint8Array;
  readonly key: KeyObject;
}

/**
 * The signing key of a SubjectPublicKeyInfo (DER): Ed25519, or P-256 as an uncompressed point;
 * null for any other key or bytes that are none. Read by asn1js and imported as JWK (which checks
 * the point is on the curve): OpenSSL's DER decoder costs several times as much, and the registry
 * reads two keys for every succession.
 */
export function spkiKey(spki: Uint8Array): SigningKey | null {
  const decoded = asn1js.fromBER(spki, { parseEmbedded: false, copyInput: false });
  const outer = decoded.result;
  if (decoded.offset !== spki.byteLength || !(outer instanceof asn1js.Sequence)) return null;
  const [identifier, bits, ...more] = outer.valueBlock.value;
  if (!(identifier instanceof asn1js.Sequence) || !(bits instanceof asn1js.BitString) || more.length > 0) {
    return null;
  }
  const [oid, parameters, ...rest] = identifier.valueBlock.value;
  const name = oid instanceof asn1js.ObjectIdentifier ? oid.valueBlock.toString() : "";
  const publicKey = new Uint8Array(bits.valueBlock.valueHexView);
  let algorithm: SigningKey["algorithm"] | null = null;
  if (name === ID_ED25519 && parameters === undefined && publicKey.length === 32) algorithm = "ed25519";
  if (
    name === ID_EC_PUBLIC_KEY &&
    parameters instanceof asn1js.ObjectIdentifier &&
    parameters.valueBlock.toString() === ID_PRIME256V1 &&
    rest.length === 0 &&
    publicKey.length === 65 &&
    publicKey[0] === 4
  ) {
    algorithm = "p256";
  }
  if (algorithm === null || bits.valueBlock.unusedBits !== 0) return null;
  try {
    return { algorithm, publicKey, key: publicKeyObject(algorithm, publicKey) };
  } catch {
    return null;
  }
}

/** A derived public key as SubjectPublicKeyInfo PEM, which openssl and every TLS stack read. */
export function publicKeyPem(algorithm: KeyAlgorithm, publicKey: Uint8Array): string {
  return publicKeyObject(algorithm, publicKey).export({ type: "spki", format: "pem" }).toString();
}

/** A derived public key as SubjectPublicKeyInfo DER. */
export function publicKeySpki(algorithm: KeyAlgorithm, publicKey: Uint8Array): Uint8Array {
  return publicKeyObject(algorithm, publicKey).export({ type: "spki", format: "der" });
}

/** A derived public key as a KeyObject: what node:crypto verifies signatures and agrees keys with. */
export function publicKeyObject(algorithm: KeyAlgorithm, publicKey: Uint8Array): KeyObject {
  const jwk =
    algorithm === "p256"
      ? {
          kty: "EC",
          crv: "P-256",
          x: base64url(publicKey.subarray(1, 33)),
          y: base64url(publicKey.subarray(33, 65)),
        }
      : { kty: "OKP", crv: algorithm === "ed25519" ? "Ed25519" : "X25519", x: base64url(publicKey) };
  return createPublicKey({ key: jwk, format: "jwk" });
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64url");
}
