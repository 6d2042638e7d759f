import { UsageError } from "../errors.js";
import type { DerivedKeys } from "./derivation.js";
import { handleOf } from "./derivation.js";
import type { SigningKey } from "./public-key.js";
import { type SigningAlgorithm, sign, verify, verifyWith } from "./signature.js";

/**
 * What an element tells its registry when its identity changes (docs/spec.md §10.9), in one
 * format both sides read: a succession (the old identity names its successor; the old key signs,
 * the new key countersigns) or a retirement (the old key signs that it is gone, naming nothing
 * new). The bytes signed are canonical JSON: the members in the order below, no blanks, integers
 * only, so signer and verifier never disagree on what was signed and a statement has one form.
 */
export interface SuccessionStatement {
  readonly v: 1;
  readonly type: "succession";
  /** The registry's origin as the element enrolled with it (https://HOST[:PORT]). */
  readonly registry: string;
  readonly predecessor: string;
  readonly handle: string;
  /** The new identity's public keys, base64url: Ed25519 raw (32 bytes), P-256 SEC1 uncompressed (65). */
  readonly publicKeys: { readonly ed25519: string; readonly p256: string };
  readonly generation: number;
  readonly at: string;
}

export interface RetirementStatement {
  readonly v: 1;
  readonly type: "retirement";
  readonly registry: string;
  readonly handle: string;
  readonly at: string;
}

export type Statement = SuccessionStatement | RetirementStatement;

/** What an element sends: the statement's bytes and signatures, base64url; a succession's CSR too. */
export interface SignedStatement {
  readonly statement: string;
  readonly signature: string;
  /** Succession only: the new key over the statement's bytes followed by the first signature. */
  readonly countersignature?: string;
  /** Succession only: the new key's PKCS#10 request, base64 DER. */
  readonly csr?: string;
}

const HANDLE = /^[0-9a-f]{32}$/;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
/** A statement is a few hundred bytes; this bounds what a verifier parses. */
export const MAX_STATEMENT_BYTES = 2048;

/** The canonical bytes of a statement: members in the format's order, whatever order `statement` has. */
export function encodeStatement(statement: Statement): Uint8Array {
  const ordered =
    statement.type === "succession"
      ? {
          v: 1,
          type: "succession",
          registry: statement.registry,
          predecessor: statement.predecessor,
          handle: statement.handle,
          publicKeys: { ed25519: statement.publicKeys.ed25519, p256: statement.publicKeys.p256 },
          generation: statement.generation,
          at: statement.at,
        }
      : {
          v: 1,
          type: "retirement",
          registry: statement.registry,
          handle: statement.handle,
          at: statement.at,
        };
  return new TextEncoder().encode(JSON.stringify(ordered));
}

function badStatement(why: string): UsageError {
  return new UsageError(`the statement ${why}`, "bad-statement");
}

/**
 * The statement in `bytes`, which must be its canonical form exactly (re-encoding gives the same
 * bytes): another order, blanks, extra members or a float are refused, as is any field that is not
 * what the format says.
 */
export function parseStatement(bytes: Uint8Array): Statement {
  if (bytes.length > MAX_STATEMENT_BYTES) throw badStatement(`is over ${MAX_STATEMENT_BYTES} bytes`);
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw badStatement("is not JSON");
  }
  if (typeof value !== "object" || value === null || value.v !== 1) throw badStatement("is not version 1");
  const text = (name: string, pattern?: RegExp) => {
    const field = value[name];
    if (typeof field !== "string" || (pattern && !pattern.test(field)))
      throw badStatement(`has a bad ${name}`);
    return field;
  };
  let statement: Statement;
  if (value.type === "succession") {
    const keys = value.publicKeys as Record<string, unknown> | null;
    const ed25519 = keys?.ed25519;
    const p256 = keys?.p256;
    if (
      typeof ed25519 !== "string" ||
      typeof p256 !== "string" ||
      !B64URL.test(ed25519) ||
      !B64URL.test(p256)
    ) {
      throw badStatement("has bad publicKeys");
    }
    if (!Number.isSafeInteger(value.generation) || (value.generation as number) < 1) {
      throw badStatement("has a bad generation");
    }
    statement = {
      v: 1,
      type: "succession",
      registry: text("registry"),
      predecessor: text("predecessor", HANDLE),
      handle: text("handle", HANDLE),
      publicKeys: { ed25519, p256 },
      generation: value.generation as number,
      at: text("at", TIME),
    };
    const raw = rawKeys(statement);
    if (raw.ed25519.length !== 32 || raw.p256.length !== 65) throw badStatement("has bad publicKeys");
  } else if (value.type === "retirement") {
    statement = {
      v: 1,
      type: "retirement",
      registry: text("registry"),
      handle: text("handle", HANDLE),
      at: text("at", TIME),
    };
  } else {
    throw badStatement("is neither a succession nor a retirement");
  }
  if (!Buffer.from(encodeStatement(statement)).equals(Buffer.from(bytes))) {
    throw badStatement("is not in its canonical form");
  }
  return statement;
}

/** A succession's new public keys as bytes. */
export function rawKeys(statement: SuccessionStatement): { ed25519: Uint8Array; p256: Uint8Array } {
  return {
    ed25519: new Uint8Array(Buffer.from(statement.publicKeys.ed25519, "base64url")),
    p256: new Uint8Array(Buffer.from(statement.publicKeys.p256, "base64url")),
  };
}

/** Whether the successor's handle is the handle of its Ed25519 key (docs/spec.md §4.2). */
export function namesItsKey(statement: SuccessionStatement): boolean {
  return statement.handle === handleOf(rawKeys(statement).ed25519);
}

/** What the countersignature covers: the statement's bytes, then the old key's signature. */
export function countersigned(statement: Uint8Array, signature: Uint8Array): Uint8Array {
  const out = new Uint8Array(statement.length + signature.length);
  out.set(statement);
  out.set(signature, statement.length);
  return out;
}

/**
 * The two checks of a succession's signatures: the old key (`predecessorKey`, of `algorithm`) over
 * the statement, and the statement's new key of the same algorithm over the statement and that
 * signature.
 */
export function verifySuccession(
  bytes: Uint8Array,
  statement: SuccessionStatement,
  signatures: { readonly signature: Uint8Array; readonly countersignature: Uint8Array },
  predecessor: SigningKey,
): { readonly signature: boolean; readonly countersignature: boolean } {
  const incoming = rawKeys(statement)[predecessor.algorithm];
  return {
    signature: verifyWith(predecessor.algorithm, predecessor.key, bytes, signatures.signature),
    countersignature: verify(
      predecessor.algorithm,
      incoming,
      countersigned(bytes, signatures.signature),
      signatures.countersignature,
    ),
  };
}

/** The statement's public keys member for a new identity's derived keys. */
export function publicKeysOf(keys: DerivedKeys): SuccessionStatement["publicKeys"] {
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
  return { ed25519: b64(keys.ed25519.publicKey), p256: b64(keys.p256.publicKey) };
}

/**
 * Signs `statement` with the old identity's key of `algorithm` and, for a succession, countersigns
 * it with the new identity's (`incoming`): both base64url, with the statement's bytes.
 */
export function signStatement(
  statement: Statement,
  algorithm: SigningAlgorithm,
  outgoing: DerivedKeys,
  incoming?: DerivedKeys,
): { readonly statement: string; readonly signature: string; readonly countersignature?: string } {
  const bytes = encodeStatement(statement);
  const signature = sign(algorithm, outgoing, bytes);
  const b64 = (data: Uint8Array) => Buffer.from(data).toString("base64url");
  if (statement.type === "retirement") return { statement: b64(bytes), signature: b64(signature) };
  if (!incoming) throw new Error("a succession is countersigned by the new identity");
  const countersignature = sign(algorithm, incoming, countersigned(bytes, signature));
  return { statement: b64(bytes), signature: b64(signature), countersignature: b64(countersignature) };
}
