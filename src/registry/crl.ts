import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLNumber, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import * as x509 from "@peculiar/x509";
import { SIGNING } from "./authority.js";
import type { Signer } from "./issue.js";
import type { IssuedCertificate, RegistryStore } from "./store/store.js";

/** A CRL is good for a day; one is made afresh when the registry changes or half of that has passed. */
const CRL_VALID_MS = 86_400_000;
const CRL_REFRESH_MS = CRL_VALID_MS / 2;
const crypto = webcrypto;

/**
 * The store's reasons as RFC 5280 reason codes: each code's name, or the same words with `-`
 * between them (`key-compromise`); anything else is `unspecified`. certificateHold and
 * removeFromCRL are not revocations the registry makes.
 */
const REASONS: ReadonlyMap<string, x509.X509CrlReason> = new Map(
  (
    [
      "keyCompromise",
      "cACompromise",
      "affiliationChanged",
      "superseded",
      "cessationOfOperation",
      "privilegeWithdrawn",
      "aACompromise",
    ] as const
  ).map((name) => [name.toLowerCase(), x509.X509CrlReason[name]]),
);

export function reasonCode(reason: string | null): x509.X509CrlReason {
  return REASONS.get((reason ?? "").toLowerCase().replaceAll("-", "")) ?? x509.X509CrlReason.unspecified;
}

/**
 * The CRL (docs/spec.md §10.7): every superseded or revoked certificate that has not ended, with
 * its reason and time; a CRL number that grows with every CRL made (the milliseconds of its
 * making), thisUpdate now, nextUpdate a day on, the CA's key identifier; ECDSA with SHA-256.
 */
export async function makeCrl(
  signer: Signer,
  revoked: readonly IssuedCertificate[],
  now: Date,
): Promise<x509.X509Crl> {
  return x509.X509CrlGenerator.create(
    {
      issuer: signer.certificate.subjectName,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + CRL_VALID_MS),
      signingKey: signer.privateKey,
      signingAlgorithm: SIGNING,
      entries: revoked.map((certificate) => ({
        serialNumber: certificate.serial,
        revocationDate: new Date(certificate.revokedAt ?? now),
        reason: reasonCode(certificate.revocationReason),
      })),
      extensions: [
        signer.authorityKeyIdentifier,
        new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(now.getTime()))),
      ],
    },
    crypto,
  );
}

/** The CRL of the store as it is now. */
export async function currentCrl(signer: Signer, store: RegistryStore, now: Date): Promise<x509.X509Crl> {
  return makeCrl(signer, await store.revokedCertificates(now.toISOString()), now);
}

/** RFC 7468's label, which openssl reads and writes (the library's own says "CRL"). */
export function crlPem(crl: x509.X509Crl): string {
  return x509.PemConverter.encode(crl.rawData, "X509 CRL");
}

/**
 * The served CRL, signed again only when the store's last event changed or the CRL is half way
 * to its nextUpdate: repeated fetches cost a read of one number, not a signature.
 */
export class CrlCache {
  private made: { readonly sequence: number; readonly at: number; readonly der: Promise<Uint8Array> } | null =
    null;

  constructor(
    private readonly signer: Signer,
    private readonly store: RegistryStore,
  ) {}

  async der(now: Date): Promise<Uint8Array> {
    const sequence = await this.store.lastEventSequence();
    const made = this.made;
    if (made && made.sequence === sequence && now.getTime() - made.at < CRL_REFRESH_MS) return made.der;
    const der = currentCrl(this.signer, this.store, now).then((crl) => new Uint8Array(crl.rawData));
    this.made = { sequence, at: now.getTime(), der };
    // A failed signing is not kept: the next fetch tries again.
    der.catch(() => {
      if (this.made?.der === der) this.made = null;
    });
    return der;
  }
}
