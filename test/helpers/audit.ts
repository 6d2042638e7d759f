import type { AuditEntry } from "../../src/audit/audit-log.js";

/** A handle that stands for any: the log records it, nothing derives it. */
export const AUDIT_HANDLE = "00112233445566778899aabbccddeeff";

/** The record of a reset that committed `generation` (its intent and outcome in one), a second apart. */
export function resetEntry(generation: number): AuditEntry {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, generation)).toISOString(),
    request: "reset",
    principal: "cli",
    outcome: "ok",
    generation,
    handle: AUDIT_HANDLE,
  };
}
