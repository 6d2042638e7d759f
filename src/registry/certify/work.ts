import { checkRequest } from "../csr.js";
import { issueDeviceCertificate, type Signer } from "../issue.js";
import type { Certified } from "./certifier.js";

/** The step itself, on whichever thread runs it. */
export function certify(signer: Signer, csr: Uint8Array, crlUrl: string, now: Date): Certified {
  const request = checkRequest(csr);
  return { request, certificate: issueDeviceCertificate(signer, request, { crlUrl, now }) };
}
