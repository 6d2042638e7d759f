import { checkRequest } from "../csr.js";
import { type CertifiedKey, issueDeviceCertificate, type Signer } from "../issue.js";
import type { NewCertificate } from "../store/store.js";
import type { Certified } from "./certifier.js";

/** The step itself, on whichever thread runs it. */
export function certify(signer: Signer, csr: Uint8Array, crlUrl: string, now: Date): Certified {
  const request = checkRequest(csr);
  return { request, certificate: issueDeviceCertificate(signer, request, { crlUrl, now }) };
}

/** Certificates for keys already checked: one moment for all, so each after the first is patched. */
export function issueAll(
  signer: Signer,
  keys: readonly CertifiedKey[],
  crlUrl: string,
  now: Date,
): NewCertificate[] {
  return keys.map((key) => issueDeviceCertificate(signer, key, { crlUrl, now }));
}
