import type { RegistryTrust } from "../enrollment/enroll.js";
import { UsageError } from "../errors.js";

/**
 * Which registry is the right one, as `reid enroll` and the operator's `--url` are told it:
 * exactly one of `--ca FILE` (its CA certificate, PEM) and `--ca-fingerprint sha256:HEX`.
 */
export async function registryTrust(ca: unknown, fingerprint: unknown): Promise<RegistryTrust> {
  const { caFingerprint, caCertificate } = await import("../enrollment/enroll.js");
  if ((ca === undefined) === (fingerprint === undefined)) {
    throw new UsageError("give the registry's CA as --ca FILE or --ca-fingerprint sha256:HEX (one of them)");
  }
  if (typeof fingerprint === "string") return { kind: "pin", fingerprint: caFingerprint(fingerprint) };
  const { readInput } = await import("./read-input.js");
  const path = String(ca);
  return {
    kind: "ca",
    certificate: caCertificate(readInput(path, "the CA certificate").toString("utf8"), path),
  };
}
