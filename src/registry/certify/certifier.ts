import type { CheckedRequest } from "../csr.js";
import type { NewCertificate } from "../store/store.js";

/** What a request's check and its certificate give the routes (csr.ts, issue.ts). */
export interface Certified {
  readonly request: CheckedRequest;
  readonly certificate: NewCertificate;
}

/**
 * Checks a device's PKCS#10 request and issues its certificate, as one step: pure work on bytes,
 * the CA key and the time, which the server hands to another thread (worker.ts) so that its own
 * thread reads, stores and answers the next requests meanwhile.
 */
export interface Certifier {
  certify(csr: Uint8Array, options: { readonly crlUrl: string; readonly now: Date }): Promise<Certified>;
  close(): Promise<void>;
}
