import { checkRequest } from "../csr.js";
import { issueDeviceCertificate, type Signer } from "../issue.js";
import type { Certified } from "./certifier.js";

/** The step itself, on whichever thread runs it. */
export function certify(signer: Signer, csr: Uint8Array, crlUrl: string, now: Date): Certified {
  // The KeyObject stays on this thread: what crosses to the server's is plain data.
  const { handle, publicKey, keyBits, algorithm } = checkRequest(csr);
  const certificate = issueDeviceCertificate(signer, { handle, publicKey, keyBits }, { crlUrl, now });
  return { request: { handle, publicKey, keyBits, algorithm }, certificate };
}
