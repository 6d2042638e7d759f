import { verify } from "node:crypto";
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

export function badRequest(message: string): ReidError {
  return new UsageError(message, "bad-csr");
}

export function handleMismatch(message: string): ReidError {
  return new AuthError("handle-mismatch", message);
}

/**
 * Checked on every enrollment's path, so read in one walk over its DER (the signed bytes and the
 * key's as they came, nothing encoded again) and verified by OpenSSL through node:crypto.
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

/** A request's parts as readRequest finds them, unchecked (exported for its test, beside a decoder's reading). */
export interface ReadRequest {
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
 * AlgorithmIdentifier, signature BIT STRING }. Null: the bytes are not one in DER, or have more after
 * it. Read by a walk over the DER in place (every constructed element's content must be whole
 * elements, down to the leaves): a decoder's object per element was a fifth of the certifying
 * thread's time. Bit strings are not searched for DER inside them (a signature, a key).
 */
export function readRequest(der: Uint8Array): ReadRequest | null {
  const outer = element(der, 0, der.length);
  if (outer === null || outer.end !== der.length || !wellFormed(der, outer)) return null;
  const [info, algorithm, signature] = sequence(der, outer, 3) ?? [];
  const [version, subject, spki] = sequence(der, info, 4) ?? sequence(der, info, 3) ?? [];
  const [keyAlgorithm, keyBits] = sequence(der, spki, 2) ?? [];
  const signatureAlgorithm = sequence(der, algorithm)?.[0];
  const key = bitString(der, keyBits);
  const signatureBits = bitString(der, signature);
  if (
    !(version?.tag === INTEGER && version.end - version.content === 1 && der[version.content] === 0) ||
    !sequence(der, keyAlgorithm) ||
    key === null ||
    signatureBits === null ||
    signatureAlgorithm?.tag !== OBJECT_IDENTIFIER
  ) {
    return null;
  }
  const commonNames = commonNamesOf(der, subject);
  const algorithmId = objectIdentifier(der, signatureAlgorithm);
  if (commonNames === null || algorithmId === null) return null;
  return {
    signed: der.subarray((info as Element).start, (info as Element).end),
    commonNames,
    publicKey: der.subarray((spki as Element).start, (spki as Element).end),
    keyBits: key,
    signatureAlgorithm: algorithmId,
    signature: signatureBits,
  };
}

/** A DER element within its parent's bytes: its tag, where it starts, where its content starts and ends. */
interface Element {
  readonly tag: number;
  readonly start: number;
  readonly content: number;
  readonly end: number;
}

const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OBJECT_IDENTIFIER = 0x06;
const RELATIVE_OID = 0x0d;
const SEQUENCE = 0x30;
const SET = 0x31;
const CONSTRUCTED = 0x20;
/** CN's type, 2.5.4.3, as DER content. */
const COMMON_NAME = Uint8Array.of(0x55, 0x04, 0x03);

/**
 * The element at `at`, ending by `limit`: a one-byte tag (a request has no other) and a definite
 * length in DER's fewest bytes (up to 16 MiB, far beyond any request). Null: anything else.
 */
function element(der: Uint8Array, at: number, limit: number): Element | null {
  if (at + 2 > limit) return null;
  const tag = der[at] as number;
  if (!derTag(tag)) return null;
  let length = der[at + 1] as number;
  let content = at + 2;
  if (length >= 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || content + count > limit || der[content] === 0) return null;
    length = 0;
    for (const end = content + count; content < end; content++)
      length = length * 256 + (der[content] as number);
    if (length < 0x80) return null;
  }
  return content + length <= limit ? { tag, start: at, content, end: content + length } : null;
}

/**
 * A tag DER allows: of one byte, and of a universal type in its own form (SEQUENCE and SET
 * constructed, every other primitive: no strings in pieces), never end-of-contents (0) nor the
 * reserved 15.
 */
function derTag(tag: number): boolean {
  if ((tag & 0x1f) === 0x1f) return false;
  if ((tag & 0xc0) !== 0) return true;
  const type = tag & 0x1f;
  return type !== 0 && type !== 15 && ((tag & CONSTRUCTED) !== 0) === (type === 0x10 || type === 0x11);
}

/** The elements that make up a constructed element's content, exactly; null if they do not. */
function children(der: Uint8Array, parent: Element): Element[] | null {
  const elements: Element[] = [];
  for (let at = parent.content; at < parent.end; ) {
    const child = element(der, at, parent.end);
    if (child === null) return null;
    elements.push(child);
    at = child.end;
  }
  return elements;
}

/**
 * Whether every constructed element inside `parent`, at any depth, is made of whole elements, and
 * every object identifier (relative too), bit string and integer is one (the attributes' and algorithms' too).
 */
function wellFormed(der: Uint8Array, parent: Element): boolean {
  if (parent.tag === OBJECT_IDENTIFIER) return objectIdentifier(der, parent) !== null;
  if (parent.tag === BIT_STRING) return parent.end > parent.content && (der[parent.content] as number) < 8;
  if (parent.tag === INTEGER) return parent.end > parent.content;
  if (parent.tag === RELATIVE_OID)
    return parent.end > parent.content && !((der[parent.end - 1] as number) & 0x80);
  if ((parent.tag & CONSTRUCTED) === 0) return true;
  const elements = children(der, parent);
  return elements?.every((child) => wellFormed(der, child)) ?? false;
}

/** A SEQUENCE's elements (exactly `length` of them when given); null for anything else. */
function sequence(der: Uint8Array, block: Element | undefined, length?: number): Element[] | null {
  if (block?.tag !== SEQUENCE) return null;
  const elements = children(der, block);
  return elements !== null && (length === undefined || elements.length === length) ? elements : null;
}

/** A BIT STRING's bits without unused bits at the end; null for anything else. */
function bitString(der: Uint8Array, block: Element | undefined): Uint8Array | null {
  if (block?.tag !== BIT_STRING || block.end === block.content || der[block.content] !== 0) return null;
  return der.subarray(block.content + 1, block.end);
}

/** An OBJECT IDENTIFIER's dotted decimal; null when its content is not one (X.690 §8.19). */
function objectIdentifier(der: Uint8Array, block: Element): string | null {
  const arcs: number[] = [];
  let arc = 0;
  for (let at = block.content; at < block.end; at++) {
    const byte = der[at] as number;
    if (arc === 0 && byte === 0x80) return null;
    arc = arc * 128 + (byte & 0x7f);
    if (arc > Number.MAX_SAFE_INTEGER / 128) return null;
    if ((byte & 0x80) === 0) {
      arcs.push(arc);
      arc = 0;
    }
  }
  const first = arcs[0];
  if (first === undefined || arc !== 0 || (der[block.end - 1] as number) & 0x80) return null;
  const top = first < 40 ? 0 : first < 80 ? 1 : 2;
  return [top, first - 40 * top, ...arcs.slice(1)].join(".");
}

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value }: the values of every CN in it. */
function commonNamesOf(der: Uint8Array, name: Element | undefined): string[] | null {
  const names: string[] = [];
  const sets = sequence(der, name);
  if (sets === null) return null;
  for (const set of sets) {
    const attributes = set.tag === SET ? children(der, set) : null;
    if (attributes === null) return null;
    for (const attribute of attributes) {
      const [type, value] = sequence(der, attribute, 2) ?? [];
      if (type?.tag !== OBJECT_IDENTIFIER || value === undefined) return null;
      if (!sameBytes(der.subarray(type.content, type.end), COMMON_NAME)) continue;
      const text = directoryString(der, value);
      if (text === null) return null;
      names.push(text);
    }
  }
  return names;
}

/**
 * A string of one of ASN.1's string types, decoded as its type says: UTF8String as UTF-8,
 * BMPString as UTF-16 and UniversalString as UTF-32 (both big-endian), the others byte by byte.
 * Null: not a string type.
 */
function directoryString(der: Uint8Array, block: Element): string | null {
  const bytes = der.subarray(block.content, block.end);
  switch (block.tag) {
    case 0x0c:
      return new TextDecoder().decode(bytes);
    case 0x1e: {
      let text = "";
      for (let at = 0; at + 1 < bytes.length; at += 2) {
        text += String.fromCharCode(((bytes[at] as number) << 8) | (bytes[at + 1] as number));
      }
      return text;
    }
    case 0x1c: {
      let text = "";
      for (let at = 0; at + 3 < bytes.length; at += 4) {
        const point = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
        text += point <= 0x10ffff ? String.fromCodePoint(point) : "\ufffd";
      }
      return text;
    }
    case 0x12:
    case 0x13:
    case 0x14:
    case 0x15:
    case 0x16:
    case 0x19:
    case 0x1a:
    case 0x1b:
    case 0x1d:
      return String.fromCharCode(...bytes);
    default:
      return null;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Ed25519 over the bytes; ECDSA with SHA-256 for P-256 (a DER signature). */
function verifies(key: SigningKey, signed: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(key.algorithm === "ed25519" ? null : "sha256", signed, key.key, signature);
  } catch {
    return false;
  }
}
