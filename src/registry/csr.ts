import { verify } from "node:crypto";
import * as asn1js from "asn1js";
import { handleOf } from "../derive/derivation.js";
import { type SigningKey, spkiKey } from "../derive/public-key.js";
import { AuthError, type ReidError, UsageError } from "../errors.js";
import type { CertifiedKey } from "./issue.js";

/**
 * A device's PKCS#10 request as the registry accepts it (docs/spec.md §10.7): its signature
 * verifies, its key is Ed25519 or P-256, its subject's one CN is a handle, and for an Ed25519 key
 * that handle is reid's handle of the key itself (§4.2), so nobody enrolls under another's name.
 */
export interface CheckedRequest extends CertifiedKey {
  readonly algorithm: "ed25519" | "p256";
}

const HANDLE = /^[0-9a-f]{32}$/;
const ID_ED25519 = "1.3.101.112";
const ID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
const ID_COMMON_NAME = "2.5.4.3";

export function badRequest(message: string): ReidError {
  return new UsageError(message, "bad-csr");
}

export function handleMismatch(message: string): ReidError {
  return new AuthError("handle-mismatch", message);
}

/**
 * Checked on every enrollment's path, so read in one pass of asn1js's decoder (the signed bytes
 * and the key's as they came, nothing encoded again) and verified by OpenSSL through node:crypto.
 */
export function checkRequest(der: Uint8Array): CheckedRequest {
  const request = readRequest(der);
  if (request === null) throw badRequest("the body is not a PKCS#10 certificate request");
  const key = spkiKey(request.publicKey);
  if (key === null) throw badRequest("the request's key is neither Ed25519 nor P-256");
  const expected = key.algorithm === "ed25519" ? ID_ED25519 : ID_ECDSA_WITH_SHA256;
  if (request.signatureAlgorithm !== expected || !verifies(key, request.signed, request.signature)) {
    throw badRequest("the request's signature does not verify");
  }
  const handle = request.commonNames.length === 1 ? request.commonNames[0] : undefined;
  if (handle === undefined || !HANDLE.test(handle)) {
    throw badRequest("the request's subject needs one CN: the device's handle, 32 lowercase hex digits");
  }
  if (key.algorithm === "ed25519" && handle !== handleOf(request.keyBits)) {
    throw handleMismatch(`CN ${handle} is not the handle of the request's Ed25519 key`);
  }
  return {
    handle,
    publicKey: request.publicKey,
    keyBits: request.keyBits,
    algorithm: key.algorithm,
  };
}

/**
 * The handle a request names (its one CN) and the key it carries, read without checking its
 * signature: what a token-less enrollment is looked up and matched by before anything is verified
 * or signed for it (§10.6), so a stranger's request for a listed handle costs no signature; null
 * when the bytes name no handle. checkRequest still checks everything of the same request.
 */
export function requestedSubject(der: Uint8Array): { handle: string; publicKey: Uint8Array } | null {
  const request = readRequest(der);
  const names = request?.commonNames ?? [];
  const handle = names.length === 1 ? (names[0] as string) : null;
  return request && handle !== null && HANDLE.test(handle) ? { handle, publicKey: request.publicKey } : null;
}

interface ReadRequest {
  /** The CertificationRequestInfo's bytes: what the signature covers. */
  readonly signed: Uint8Array;
  readonly commonNames: readonly string[];
  /** SubjectPublicKeyInfo DER, and the key's bits inside it. */
  readonly publicKey: Uint8Array;
  readonly keyBits: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
}

/**
 * RFC 2986 §4: CertificationRequest ::= SEQUENCE { certificationRequestInfo SEQUENCE { version
 * INTEGER (0), subject Name, subjectPKInfo SubjectPublicKeyInfo, attributes [0] }, signatureAlgorithm
 * AlgorithmIdentifier, signature BIT STRING }. Null: the bytes are not one, or have more after it.
 */
function readRequest(der: Uint8Array): ReadRequest | null {
  // Bit strings are not searched for DER inside them (a signature, a key): nothing here needs it.
  const decoded = asn1js.fromBER(der, { parseEmbedded: false, copyInput: false });
  if (decoded.offset !== der.byteLength) return null;
  const [info, algorithm, signature] = sequence(decoded.result, 3) ?? [];
  const [version, subject, spki] = sequence(info, 4) ?? sequence(info, 3) ?? [];
  const [keyAlgorithm, keyBits] = sequence(spki, 2) ?? [];
  const signatureAlgorithm = sequence(algorithm)?.[0];
  if (
    !(version instanceof asn1js.Integer && version.valueBlock.valueDec === 0) ||
    !sequence(keyAlgorithm) ||
    !(keyBits instanceof asn1js.BitString && keyBits.valueBlock.unusedBits === 0) ||
    !(signature instanceof asn1js.BitString && signature.valueBlock.unusedBits === 0) ||
    !(signatureAlgorithm instanceof asn1js.ObjectIdentifier)
  ) {
    return null;
  }
  const commonNames = commonNamesOf(subject);
  if (commonNames === null) return null;
  return {
    signed: (info as asn1js.Sequence).valueBeforeDecodeView,
    commonNames,
    publicKey: (spki as asn1js.Sequence).valueBeforeDecodeView,
    keyBits: keyBits.valueBlock.valueHexView,
    signatureAlgorithm: signatureAlgorithm.valueBlock.toString(),
    signature: signature.valueBlock.valueHexView,
  };
}

/** A SEQUENCE's elements (exactly `length` of them when given); null for anything else. */
function sequence(block: unknown, length?: number): asn1js.AsnType[] | null {
  if (!(block instanceof asn1js.Sequence)) return null;
  const elements = block.valueBlock.value as asn1js.AsnType[];
  return length === undefined || elements.length === length ? elements : null;
}

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value }: the values of every CN in it. */
function commonNamesOf(name: unknown): string[] | null {
  const names: string[] = [];
  for (const set of sequence(name) ?? [null]) {
    if (!(set instanceof asn1js.Set)) return null;
    for (const attribute of set.valueBlock.value) {
      const [type, value] = sequence(attribute, 2) ?? [];
      if (!(type instanceof asn1js.ObjectIdentifier)) return null;
      if (type.valueBlock.toString() !== ID_COMMON_NAME) continue;
      if (!(value instanceof asn1js.BaseStringBlock)) return null;
      names.push(value.getValue());
    }
  }
  return names;
}

/** Ed25519 over the bytes; ECDSA with SHA-256 for P-256 (a DER signature). */
function verifies(key: SigningKey, signed: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(key.algorithm === "ed25519" ? null : "sha256", signed, key.key, signature);
  } catch {
    return false;
  }
}
