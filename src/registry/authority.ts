import "reflect-metadata";
import { createHash, generateKeyPairSync, randomBytes, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";
import { UsageError } from "../errors.js";

/**
 * The registry's certificate authority and its TLS server certificate (docs/spec.md §10.2), made
 * with @peculiar/x509 over Node's WebCrypto: P-256 keys, ECDSA with SHA-256.
 */

const CA_YEARS = 10;
const SERVER_DAYS = 730;
/** Certificates start a minute early: a client whose clock is a little behind still accepts them. */
export const CLOCK_SKEW_MS = 60_000;
const MAX_HOSTS = 16;
const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
export const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const crypto = webcrypto;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const DEFAULT_HOSTS: readonly string[] = ["localhost", "127.0.0.1"];
export const DEFAULT_NAME = "reid registry";

export interface Issued {
  readonly certificatePem: string;
  readonly keyPem: string;
}

export interface Authority extends Issued {
  readonly certificate: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
  /** `sha256:` and the SHA-256 of the certificate's DER in hex: what an element pins. */
  readonly fingerprint: string;
}

/** A self-signed CA: CA:true with no CA below it, keyCertSign and cRLSign only. */
export async function makeAuthority(name: string, now: Date): Promise<Authority> {
  const keys = (await crypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [name] }],
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter,
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return {
    certificate,
    keys,
    certificatePem: certificate.toString("pem"),
    keyPem: await privateKeyPem(keys.privateKey),
    fingerprint: `sha256:${createHash("sha256").update(new Uint8Array(certificate.rawData)).digest("hex")}`,
  };
}

/** A TLS server certificate for `hosts` (DNS names and IP addresses), signed by the authority. */
export async function issueServerCertificate(
  authority: Authority,
  hosts: readonly string[],
  now: Date,
): Promise<Issued> {
  const keys = (await crypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [hosts[0] as string] }],
      issuer: authority.certificate.subjectName,
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(now.getTime() + SERVER_DAYS * 86_400_000),
      publicKey: keys.publicKey,
      signingKey: authority.keys.privateKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          hosts.map((host) => (isIP(host) ? { type: "ip", value: host } : { type: "dns", value: host })),
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(authority.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certificatePem: certificate.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) };
}

/** The Ed25519 key the registry signs its statements with, as PKCS#8 PEM. */
export function makeStatementKey(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

/** --name: what the CA's subject calls the registry. */
export function registryName(text: string | undefined): string {
  if (text === undefined) return DEFAULT_NAME;
  if (text.length < 1 || text.length > 64 || /[\p{Cc}\p{Zl}\p{Zp}]/u.test(text)) {
    throw new UsageError("bad --name: 1 to 64 characters, no control characters");
  }
  return text;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** --host, each a DNS name or an IP address; none given: localhost and 127.0.0.1. */
export function serverHosts(given: readonly string[] | undefined): string[] {
  if (!given || given.length === 0) return [...DEFAULT_HOSTS];
  const hosts = [...new Set(given.map((host) => (isIP(host) ? host : host.toLowerCase())))];
  if (hosts.length > MAX_HOSTS) throw new UsageError(`too many --host names: at most ${MAX_HOSTS}`);
  for (const host of hosts) {
    const dns = host.length <= 253 && host.split(".").every((label) => DNS_LABEL.test(label));
    if (!isIP(host) && !dns) {
      throw new UsageError(`bad --host '${host}': expected a DNS name or an IP address`);
    }
  }
  return hosts;
}

/** 16 random bytes, the top bit clear (a positive INTEGER) and never zero in front. */
export function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x40;
  return bytes.toString("hex");
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}
