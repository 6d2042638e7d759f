import { TPM_HT } from "./constants.js";

/**
 * TPM_RC decoding (TPM 2.0 Part 2, 6.6): format-one codes name a handle, parameter or session by
 * number; format-zero codes are version-1 errors or warnings. The text is what a user can act on.
 */
const FORMAT_ONE = new Map<number, readonly [string, string]>([
  [0x01, ["ASYMMETRIC", "asymmetric algorithm not supported or not correct"]],
  [0x02, ["ATTRIBUTES", "inconsistent attributes"]],
  [0x03, ["HASH", "hash algorithm not supported or not appropriate"]],
  [0x04, ["VALUE", "value is out of range or is not correct for the context"]],
  [0x05, ["HIERARCHY", "hierarchy is not enabled or is not correct for the use"]],
  [0x07, ["KEY_SIZE", "key size is not supported"]],
  [0x08, ["MGF", "mask generation function not supported"]],
  [0x09, ["MODE", "mode of operation not supported"]],
  [0x0a, ["TYPE", "the type of the value is not appropriate for the use"]],
  [0x0b, ["HANDLE", "the handle is not correct for the use"]],
  [0x0c, ["KDF", "unsupported key derivation function or function not appropriate for use"]],
  [0x0d, ["RANGE", "value was out of allowed range"]],
  [0x0e, ["AUTH_FAIL", "the authorization HMAC check failed and the DA counter was incremented"]],
  [0x0f, ["NONCE", "invalid nonce size or nonce value mismatch"]],
  [0x10, ["PP", "authorization requires assertion of physical presence"]],
  [0x12, ["SCHEME", "unsupported or incompatible scheme"]],
  [0x15, ["SIZE", "structure is the wrong size"]],
  [0x16, ["SYMMETRIC", "unsupported symmetric algorithm or key size, or not appropriate for instance"]],
  [0x17, ["TAG", "incorrect structure tag"]],
  [0x18, ["SELECTOR", "union selector is incorrect"]],
  [0x1a, ["INSUFFICIENT", "the TPM was unable to unmarshal a value because there were not enough octets"]],
  [0x1b, ["SIGNATURE", "the signature is not valid"]],
  [0x1c, ["KEY", "key fields are not compatible with the selected use"]],
  [0x1d, ["POLICY_FAIL", "a policy check failed"]],
  [0x1f, ["INTEGRITY", "integrity check failed"]],
  [0x20, ["TICKET", "invalid ticket"]],
  [0x21, ["RESERVED_BITS", "reserved bits not set to zero as required"]],
  [0x22, ["BAD_AUTH", "authorization failure without DA implications"]],
  [0x23, ["EXPIRED", "the policy has expired"]],
  [0x24, ["POLICY_CC", "the command code in the policy is not the command code of the command"]],
  [0x25, ["BINDING", "public and sensitive portions of an object are not cryptographically bound"]],
  [0x26, ["CURVE", "curve not supported"]],
  [0x27, ["ECC_POINT", "point is not on the required curve"]],
]);

const VERSION_ONE = new Map<number, readonly [string, string]>([
  [0x00, ["INITIALIZE", "TPM not initialized by TPM2_Startup or already initialized"]],
  [0x01, ["FAILURE", "commands not being accepted because of a TPM failure"]],
  [0x03, ["SEQUENCE", "improper use of a sequence handle"]],
  [0x0b, ["PRIVATE", "not currently used"]],
  [0x19, ["HMAC", "not currently used"]],
  [0x20, ["DISABLED", "the command is disabled"]],
  [0x21, ["EXCLUSIVE", "command failed because audit sequence required exclusivity"]],
  [0x24, ["AUTH_TYPE", "authorization handle is not correct for command"]],
  [0x25, ["AUTH_MISSING", "command requires an authorization session for handle and it is not present"]],
  [0x26, ["POLICY", "policy failure in math operation or an invalid authPolicy value"]],
  [0x27, ["PCR", "PCR check fail"]],
  [0x28, ["PCR_CHANGED", "PCR have changed since checked"]],
  [0x2d, ["UPGRADE", "the TPM is in field upgrade mode"]],
  [0x2e, ["TOO_MANY_CONTEXTS", "context ID counter is at maximum"]],
  [0x2f, ["AUTH_UNAVAILABLE", "authValue or authPolicy is not available for selected entity"]],
  [0x30, ["REBOOT", "a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation"]],
  [0x31, ["UNBALANCED", "the protection algorithms (hash and symmetric) are not reasonably balanced"]],
  [0x42, ["COMMAND_SIZE", "command commandSize value is inconsistent with contents of the command buffer"]],
  [0x43, ["COMMAND_CODE", "command code not supported"]],
  [0x44, ["AUTHSIZE", "the value of authorizationSize is out of range or the number of sessions is wrong"]],
  [
    0x45,
    [
      "AUTH_CONTEXT",
      "use of an authorization session with a context command or another command that cannot have one",
    ],
  ],
  [0x46, ["NV_RANGE", "NV offset+size is out of range"]],
  [0x47, ["NV_SIZE", "requested allocation size is larger than allowed"]],
  [0x48, ["NV_LOCKED", "NV access locked"]],
  [0x49, ["NV_AUTHORIZATION", "NV access authorization fails in command actions"]],
  [0x4a, ["NV_UNINITIALIZED", "an NV index is used before being initialized (it was never written)"]],
  [0x4b, ["NV_SPACE", "insufficient space for NV allocation"]],
  [0x4c, ["NV_DEFINED", "NV index or persistent object already defined"]],
  [0x50, ["BAD_CONTEXT", "context in TPM2_ContextLoad is not valid"]],
  [0x51, ["CPHASH", "cpHash value already set or not correct for use"]],
  [0x52, ["PARENT", "handle for parent is not a valid parent"]],
  [0x53, ["NEEDS_TEST", "some function needs testing"]],
  [0x54, ["NO_RESULT", "the TPM could not produce a result"]],
  [0x55, ["SENSITIVE", "the sensitive area did not unmarshal correctly after decryption"]],
]);

const WARNING = new Map<number, readonly [string, string]>([
  [0x01, ["CONTEXT_GAP", "gap for context ID is too large"]],
  [0x02, ["OBJECT_MEMORY", "out of memory for object contexts"]],
  [0x03, ["SESSION_MEMORY", "out of memory for session contexts"]],
  [0x04, ["MEMORY", "out of shared object/session memory or need space for internal operations"]],
  [0x05, ["SESSION_HANDLES", "out of session handles"]],
  [0x06, ["OBJECT_HANDLES", "out of object handles"]],
  [0x07, ["LOCALITY", "bad locality"]],
  [0x08, ["YIELDED", "the TPM has suspended operation on the command"]],
  [0x09, ["CANCELED", "the command was canceled"]],
  [0x0a, ["TESTING", "TPM is performing self-tests"]],
  [0x20, ["NV_RATE", "the TPM is rate-limiting accesses to prevent wearout of NV"]],
  [0x21, ["LOCKOUT", "authorizations for objects subject to DA protection are not allowed at this time"]],
  [0x22, ["RETRY", "the TPM was not able to start the command"]],
  [0x23, ["NV_UNAVAILABLE", "the command may require writing of NV and NV is not currently accessible"]],
  // TPM_RC_REFERENCE_H0..H6 and _S0..S6 (0x910..0x916, 0x918..0x91e): what a TPM answers for a
  // transient handle or session that is not loaded (a flushed key), not TPM_RC_HANDLE.
  ...[0, 1, 2, 3, 4, 5, 6].flatMap((n): [number, readonly [string, string]][] => [
    [
      0x10 + n,
      [`REFERENCE_H${n}`, `handle ${n + 1} references a transient object or session that is not loaded`],
    ],
    [0x18 + n, [`REFERENCE_S${n}`, `session ${n + 1} references a session that is not loaded`]],
  ]),
]);

export interface DecodedResponseCode {
  readonly code: number;
  /** "TPM_RC_HANDLE". */
  readonly name: string;
  readonly text: string;
  /** Which handle, parameter or session (1-based) the code refers to (format-one and REFERENCE codes). */
  readonly subject?: { readonly kind: "handle" | "parameter" | "session"; readonly index: number };
  /** A warning: the command did not run and may succeed when sent again. */
  readonly warning: boolean;
}

/** Codes worth sending the same command again for (after a pause for NV_RATE). */
export const RETRYABLE = new Set([0x908, 0x90a, 0x920, 0x922, 0x923]);
export const RC_INITIALIZE = 0x100;
export const RC_NV_RATE = 0x920;

export function decodeResponseCode(code: number): DecodedResponseCode {
  if (code & 0x80) {
    const [name, text] = FORMAT_ONE.get(code & 0x3f) ?? ["UNKNOWN", "an unknown format-one error"];
    const n = (code >> 8) & 0xf;
    const subject =
      code & 0x40
        ? ({ kind: "parameter", index: n } as const)
        : code & 0x800
          ? ({ kind: "session", index: n & 0x7 } as const)
          : ({ kind: "handle", index: n & 0x7 } as const);
    return { code, name: `TPM_RC_${name}`, text, ...(subject.index ? { subject } : {}), warning: false };
  }
  if (code & 0x100) {
    const warning = (code & 0x800) !== 0;
    const table = warning ? WARNING : VERSION_ONE;
    if (code & 0x400) return { code, name: "TPM_RC_VENDOR", text: "a vendor-defined error", warning: false };
    const [name, text] = table.get(code & 0x7f) ?? ["UNKNOWN", `an unknown ${warning ? "warning" : "error"}`];
    const reference = warning ? code & 0x7f : 0;
    if (reference >= 0x10 && reference <= 0x1e && reference !== 0x17) {
      const subject = {
        kind: reference < 0x18 ? "handle" : "session",
        index: (reference & 0x7) + 1,
      } as const;
      return { code, name: `TPM_RC_${name}`, text, subject, warning };
    }
    return { code, name: `TPM_RC_${name}`, text, warning };
  }
  return { code, name: "TPM_RC_1.2", text: "a TPM 1.2 response code: this is not a TPM 2.0", warning: false };
}

/**
 * The text, made specific where the handle tells more than the code: TPM_RC_HANDLE on an NV
 * index means the index is not defined, on an object that it is not loaded.
 */
export function describeResponseCode(code: number, handles: readonly number[] = []): string {
  const decoded = decodeResponseCode(code);
  let text = decoded.text;
  const subject = decoded.subject;
  const handleCode = decoded.name === "TPM_RC_HANDLE" || decoded.name.startsWith("TPM_RC_REFERENCE_H");
  if (handleCode && subject?.kind === "handle") {
    const handle = handles[subject.index - 1];
    const type = handle === undefined ? undefined : handle >>> 24;
    if (type === TPM_HT.NV_INDEX) text = `the NV index ${hex(handle as number)} is not defined`;
    else if (type === TPM_HT.TRANSIENT || type === TPM_HT.PERSISTENT)
      text = `the object ${hex(handle as number)} is not loaded`;
  }
  const where = subject ? `${subject.kind} ${subject.index}, ` : "";
  return `${decoded.name}: ${text} (${where}${hex(code, 3)})`;
}

export function hex(value: number, width = 8): string {
  return `0x${value.toString(16).padStart(width, "0")}`;
}
