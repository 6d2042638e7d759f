import { tryCount } from "../../auth/owner-pin.js";
import type { ElementStatus } from "../../element/api.js";
import { type EnrollmentState, enrollmentState } from "../../enrollment/enrollment-record.js";
import { type Command, print, printJson } from "../context.js";
import { readStatus } from "../with-element.js";

/** Where the key that seals the identifier lives, as status says it. */
const SEALED_UNDER = {
  kek: "under the key-encryption key",
  tpm: "under a key sealed to the TPM",
  pkcs11: "inside the PKCS#11 token",
} as const;

export const command: Command = {
  usage: "reid [--store DIR] [--json] status",
  summary: "Shows the element's state, generation, handle, mode, source and format; never the identifier.",
  options: {},
  positionals: [0, 0],
  async run(context) {
    const status = await readStatus(context);
    const enrollment = enrollmentState(context.storeDirectory, status.handle, new Date());
    if (context.json) return printJson(context, { ...status, enrollment });
    const rows: [string, string][] = [
      ["state", status.state],
      ["generation", String(status.generation)],
      ["handle", status.handle ?? "-"],
      ["mode", status.factory ? `${status.mode} (factory source ${status.factory})` : status.mode],
      ["source", status.source],
      ["format", status.format],
      ["sealed", status.sealed ? `yes (AES-256-GCM ${SEALED_UNDER[status.sealingKeyHome ?? "kek"]})` : "no"],
      ["requests", status.requests === "typed" ? "init, reset, erase" : "single-type (every request resets)"],
      [
        "owner PIN",
        !status.owner.pin
          ? "not set"
          : status.owner.locked
            ? "LOCKED (reid pin unlock)"
            : `set${status.owner.failures ? ` (${tryCount(status.owner.failures, "wrong")})` : ""}`,
      ],
      // Only while one is open: the window is the exception, and says until when.
      ...(status.owner.unlockedUntil
        ? [
            [
              "unlocked",
              `until ${status.owner.unlockedUntil} (command, telemetry, enroll, renew: no PIN; reid lock)`,
            ] as [string, string],
          ]
        : []),
      ["scheduled", status.scheduled.length === 0 ? "none" : String(status.scheduled.length)],
      ["store", status.store],
      ["backend", status.backend],
      ["protected", PROTECTION[status.protectedBy]],
      ["enrolled", describeEnrollment(enrollment)],
    ];
    print(context, rows.map(([key, value]) => `${key.padEnd(11)} ${value}`).join("\n"));
  },
};

/** What protects the identifier, for people (docs/spec.md §3.8). */
const PROTECTION: Readonly<Record<ElementStatus["protectedBy"], string>> = {
  directory: "by the store directory's permissions (0700) only",
  "token-pin": "by the token's user PIN (private objects)",
  "tpm-pin":
    "by the TPM: the NV indices' authorization comes from the owner PIN, under its dictionary-attack lockout",
  "tpm-none": "NOT by the TPM: no PIN is set, so the NV indices' authorization is empty (reid pin set)",
  "tpm-owner":
    "by the TPM owner hierarchy's authorization only (indices of an earlier reid: the next commit moves them under the PIN's)",
};

function describeEnrollment(enrollment: EnrollmentState | null): string {
  if (enrollment === null) return "no (reid enroll URL)";
  const where = `${enrollment.registry}, serial ${enrollment.serial}`;
  if (enrollment.state === "stale") {
    return `STALE: ${where} certifies ${enrollment.handle}, not this identity (reid enroll again)`;
  }
  if (enrollment.state === "succession-pending") {
    return `succession pending: ${where} certifies ${enrollment.handle}; the succession to this identity waits for delivery (reid enroll --status)`;
  }
  if (enrollment.state === "expired") return `EXPIRED: ${where} ended ${enrollment.notAfter}`;
  const log = enrollment.logSize === null ? "" : `, log verified to size ${enrollment.logSize}`;
  return `${where}, until ${enrollment.notAfter}${log}`;
}
