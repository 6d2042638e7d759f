import "reflect-metadata";
import { createPublicKey, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { handleOf } from "../derive/derivation.js";
import { AuthError, type ReidError, UsageError } from "../errors.js";

/**
 * A device's PKCS#10 request as the registry accepts it (docs/spec.md §10.7): its signature
 * verifies, its key is Ed25519 or P-256, its subject's one CN is a handle, and for an Ed25519 key
 * that handle is reid's handle of the key itself (§4.2), so nobody enrolls under another's name.
 */
export interface CheckedRequest {
  readonly handle: string;
  /** The request's key as SubjectPublicKeyInfo DER: what the store keeps and renewal compares. */
  readonly publicKey: Uint8Array;
  readonly request: x509.Pkcs10CertificateRequest;
}

const HANDLE = /^[0-9a-f]{32}$/;

export function badRequest(message: string): ReidError {
  return new UsageError(message, "bad-csr");
}

export function handleMismatch(message: string): ReidError {
  return new AuthError("handle-mismatch", message);
}

export async function checkRequest(der: Uint8Array): Promise<CheckedRequest> {
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(der);
  } catch {
    throw badRequest("the body is not a PKCS#10 certificate request");
  }
  const publicKey = new Uint8Array(request.publicKey.rawData);
  const keyType = keyTypeOf(publicKey);
  if (keyType === null) throw badRequest("the request's key is neither Ed25519 nor P-256");
  const verified = await request.verify(webcrypto).catch(() => false);
  if (!verified) throw badRequest("the request's signature does not verify");
  const names = request.subjectName.getField("CN");
  const handle = names[0];
  if (names.length !== 1 || handle === undefined || !HANDLE.test(handle)) {
    throw badRequest("the request's subject needs one CN: the device's handle, 32 lowercase hex digits");
  }
  if (keyType === "ed25519" && handle !== handleOf(rawEd25519(publicKey))) {
    throw handleMismatch(`CN ${handle} is not the handle of the request's Ed25519 key`);
  }
  return { handle, publicKey, request };
}

function keyTypeOf(spki: Uint8Array): "ed25519" | "p256" | null {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch {
    return null;
  }
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "p256";
  return null;
}

/** The 32 bytes of an Ed25519 key: its SubjectPublicKeyInfo ends with them. */
function rawEd25519(spki: Uint8Array): Uint8Array {
  return spki.subarray(spki.length - 32);
}
