import type { CheckedRequest } from "../csr.js";
import type { ListedDevice } from "../import/device-list.js";
import type { CertifiedKey } from "../issue.js";
import type { NewCertificate } from "../store/store.js";

/** What a request's check and its certificate give the routes (csr.ts, issue.ts). */
export interface Certified {
  readonly request: CheckedRequest;
  readonly certificate: NewCertificate;
}

/** When and under which CRL URL certificates are issued. */
export interface IssueOptions {
  readonly crlUrl: string;
  readonly now: Date;
}

/**
 * Checks a device's PKCS#10 request and issues its certificate, as one step: pure work on bytes,
 * the CA key and the time, which the server hands to another thread (worker.ts) so that its own
 * thread reads, stores and answers the next requests meanwhile.
 */
export interface Certifier {
  certify(csr: Uint8Array, options: IssueOptions): Promise<Certified>;
  /**
   * Certificates for keys already checked, in their order: an import's devices, which the
   * operator vouches for, so there is no request to check (registry import, docs/spec.md §10.6).
   */
  issue(keys: readonly CertifiedKey[], options: IssueOptions): Promise<NewCertificate[]>;
  /**
   * The devices of an import list's `lines`, the first of them line `first`, each checked
   * (import/device-list.ts): the work before the certificates, on the same threads.
   */
  listed(lines: readonly string[], first: number): Promise<ListedDevice[]>;
  close(): Promise<void>;
}
