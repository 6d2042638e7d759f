import "reflect-metadata";
import { createHash } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { AuthError, UsageError } from "../errors.js";
import { serialHex } from "../http/est-wire.js";
import type { EnrollmentRecord } from "./enrollment-record.js";
import { type EstTarget, fetchCaCertificates, RegistryProtocolError, simpleEnroll } from "./est-client.js";
import { confirmed, type LoadLogWitness, logGet } from "./log-witness.js";

/** How the element decides the registry is the right one before it sends its token. */
export type RegistryTrust =
  | { readonly kind: "ca"; readonly certificate: x509.X509Certificate }
  | { readonly kind: "pin"; readonly fingerprint: string };

export interface EnrollInput {
  readonly origin: URL;
  readonly trust: RegistryTrust;
  /** The single-use token; null for an element an import listed (`--listed`, docs/spec.md §10.6). */
  readonly token: string | null;
  /** The element's CSR (PEM) for the derived key, subject CN = handle. */
  readonly request: string;
  readonly handle: string;
  readonly generation: number;
  readonly algorithm: "ed25519" | "p256";
  readonly now: Date;
  /**
   * `--verify`: the answer is held to the registry's identity log (§10.12), with `key` as the
   * verifier key when given (`--log-key`), else the one the registry answers.
   */
  readonly log?: { readonly witness: LoadLogWitness; readonly key?: string };
}

export function fingerprintOf(certificate: x509.X509Certificate): string {
  return `sha256:${createHash("sha256").update(new Uint8Array(certificate.rawData)).digest("hex")}`;
}

/**
 * Enrolls the element (RFC 7030 simpleenroll): the CA certificates first, pinned by the CA file
 * or the fingerprint the operator gave; then, over TLS that verifies against the pinned CA, the
 * CSR with the token. The answer is checked before it is kept: one certificate, for this key,
 * naming this handle, signed by the pinned CA; with `log`, its event in the registry's identity
 * log too, whose key and checkpoint are taken before the token is sent.
 */
export async function enroll(input: EnrollInput): Promise<EnrollmentRecord> {
  const where = input.origin.host;
  const ca = await trustedCa(input.origin, input.trust);
  const target: EstTarget = { origin: input.origin, ca: ca.toString("pem") };
  const start = input.log
    ? await (await input.log.witness()).begin(await logGet(target), where, fingerprintOf(ca), input.log.key)
    : undefined;
  const request = new x509.Pkcs10CertificateRequest(input.request);
  const answer = await simpleEnroll(target, new Uint8Array(request.rawData), input.token);
  const issued = certificatesOf(answer.der, where, "its certificate");
  const certificate = await checkedCertificate(issued, request, ca, input.handle, where);
  const serial = serialHex(certificate.serialNumber);
  const log = input.log
    ? await confirmed(input.log.witness, target, start, {
        index: answer.logIndex,
        type: "enrolled",
        handle: input.handle,
        serial,
      })
    : undefined;
  return {
    format: "reid-enrollment",
    version: 1,
    registry: input.origin.origin,
    caFingerprint: fingerprintOf(ca),
    handle: input.handle,
    generation: input.generation,
    algorithm: input.algorithm,
    serial,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    enrolledAt: input.now.toISOString(),
    caCertificate: ca.toString("pem"),
    certificate: certificate.toString("pem"),
    ...(log ? { log } : {}),
  };
}

/**
 * The registry's CA, as its cacerts names it: asked over TLS verified against `--ca`, or for a
 * pin over TLS not yet verified, with nothing secret on that connection; kept only if it is the
 * pinned one (`registry-untrusted` otherwise). Every later request verifies TLS against it.
 */
export async function trustedCa(origin: URL, trust: RegistryTrust): Promise<x509.X509Certificate> {
  const bootstrap: EstTarget = {
    origin,
    ca: trust.kind === "ca" ? trust.certificate.toString("pem") : null,
  };
  const where = origin.host;
  const offered = certificatesOf(await fetchCaCertificates(bootstrap), where, "its CA certificates");
  return pinnedCa(offered, trust, where);
}

export function certificatesOf(pkcs7: Uint8Array, where: string, what: string): x509.X509Certificate[] {
  try {
    const certificates = [...new x509.X509Certificates(pkcs7)];
    if (certificates.length > 0) return certificates;
  } catch {
    // Below: one message for every shape of wrong.
  }
  throw new RegistryProtocolError(
    `the registry at ${where} answered ${what} that is no PKCS#7 certificate list`,
  );
}

function pinnedCa(
  offered: readonly x509.X509Certificate[],
  trust: RegistryTrust,
  where: string,
): x509.X509Certificate {
  const wanted = trust.kind === "pin" ? trust.fingerprint : fingerprintOf(trust.certificate);
  const match = offered.find((certificate) => fingerprintOf(certificate) === wanted);
  if (match) return match;
  const had = offered.map(fingerprintOf).join(", ");
  throw new AuthError(
    "registry-untrusted",
    `the registry at ${where} is not the one pinned: its CA is ${had}, not ${wanted}`,
  );
}

/** The one certificate for the request's key and `handle`, signed by `ca`; else registry-protocol. */
export async function checkedCertificate(
  issued: readonly x509.X509Certificate[],
  request: x509.Pkcs10CertificateRequest,
  ca: x509.X509Certificate,
  handle: string,
  where: string,
): Promise<x509.X509Certificate> {
  const key = Buffer.from(request.publicKey.rawData);
  const mine = issued.filter((certificate) => key.equals(Buffer.from(certificate.publicKey.rawData)));
  const [certificate] = mine;
  if (mine.length !== 1 || !certificate) {
    throw new RegistryProtocolError(`the registry at ${where} answered no single certificate for this key`);
  }
  const signed = await certificate.verify({ publicKey: ca.publicKey, signatureOnly: true });
  if (!signed)
    throw new RegistryProtocolError(`the registry at ${where} answered a certificate its CA did not sign`);
  const names = certificate.subjectName.getField("CN");
  if (names.length !== 1 || names[0] !== handle) {
    throw new RegistryProtocolError(
      `the registry at ${where} answered a certificate for another name than ${handle}`,
    );
  }
  return certificate;
}

/** --ca FILE: the registry's CA certificate, PEM. */
export function caCertificate(pem: string, path: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    throw new UsageError(`--ca ${path} holds no PEM certificate`);
  }
}

/** `sha256:` and 64 hex digits, as `reid registry init` prints the pin. */
export function caFingerprint(text: string): string {
  const value = text.trim().toLowerCase();
  if (!/^sha256:[0-9a-f]{64}$/.test(value)) {
    throw new UsageError(
      `--ca-fingerprint must be sha256: and 64 hex digits, as 'reid registry init' prints it`,
    );
  }
  return value;
}

/** The registry's origin: https://HOST[:PORT] (a bare HOST:PORT means https). */
export function registryOrigin(text: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`'${text}' is not a registry URL (https://HOST:PORT)`);
  }
  if (url.protocol !== "https:")
    throw new UsageError(`the registry URL must be https://, not ${url.protocol}//`);
  if (
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    (url.pathname !== "/" && url.pathname !== "")
  ) {
    throw new UsageError(`the registry URL is https://HOST[:PORT] with nothing after it, not '${text}'`);
  }
  return new URL(url.origin);
}
