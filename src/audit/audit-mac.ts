import { timingSafeEqual } from "node:crypto";
import type { AuditKey } from "../storage/audit-key-home.js";

/** A record's MAC (docs/spec.md §9.7): HMAC-SHA-256 under the audit key of its canonical JSON, hex. */
export function macOf(key: AuditKey, canonical: string): string {
  return key.mac(Buffer.from(canonical, "utf8")).toString("hex");
}

/** Whether two MACs in hex are equal, in time that does not depend on where they differ. */
export function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}
