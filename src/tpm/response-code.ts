import { TPM_HT } from "./constants.js";

/**
 * TPM_RC decoding (TPM 2.0 Part 2, 6.6): format-one codes name a handle, parameter or session by
 * number; format-zero codes are version-1 errors or warnings. The text is what a user can act on.
 */
const FORMAT_ONE: Readonly<Record<number, readonly [string, string]>> = {
  1: ["ASYMMETRIC", "asymmetric algorithm not supported or not correct"],
  2: ["ATTRIBUTES", "inconsistent attributes"],
  3: ["HASH", "hash algorithm not supported or not appropriate"],
  4: ["VALUE", "value is out of range or is not correct for the context"],
  5: ["HIERARCHY", "hierarchy is not enabled or is not correct for the use"],
  7: ["KEY_SIZE", "key size is not supported"],
  8: ["MGF", "mask generation function not supported"],
  9: ["MODE", "mode of operation not supported"],
  10: ["TYPE", "the type of the value is not appropriate for the use"],
  11: ["HANDLE", "the handle is not correct for the use"],
  12: ["KDF", "unsupported key derivation function or function not appropriate for use"],
  13: ["RANGE", "value was out of allowed range"],
  14: ["AUTH_FAIL", "the authorization HMAC check failed and the DA counter was incremented"],
  15: ["NONCE", "invalid nonce size or nonce value mismatch"],
  16: ["PP", "authorization requires assertion of physical presence"],
  18: ["SCHEME", "unsupported or incompatible scheme"],
  21: ["SIZE", "structure is the wrong size"],
  22: ["SYMMETRIC", "unsupported symmetric algorithm or key size, or not appropriate for instance"],
  23: ["TAG", "incorrect structure tag"],
  24: ["SELECTOR", "union selector is incorrect"],
  26: ["INSUFFICIENT", "the TPM was unable to unmarshal a value because there were not enough octets"],
  27: ["SIGNATURE", "the signature is not valid"],
  28: ["KEY", "key fields are not compatible with the selected use"],
  29: ["POLICY_FAIL", "a policy check failed"],
  31: ["INTEGRITY", "integrity check failed"],
  32: ["TICKET", "invalid ticket"],
  33: ["RESERVED_BITS", "reserved bits not set to zero as required"],
  34: ["BAD_AUTH", "authorization failure without DA implications"],
  35: ["EXPIRED", "the policy has expired"],
  36: ["POLICY_CC", "the command code in the policy is not the command code of the command"],
  37: ["BINDING", "public and sensitive portions of an object are not cryptographically bound"],
  38: ["CURVE", "curve not supported"],
  39: ["ECC_POINT", "point is not on the required curve"],
};

const VERSION_ONE: Readonly<Record<number, readonly [string, string]>> = {
  0: ["INITIALIZE", "TPM not initialized by TPM2_Startup or already initialized"],
  1: ["FAILURE", "commands not being accepted because of a TPM failure"],
  3: ["SEQUENCE", "improper use of a sequence handle"],
  11: ["PRIVATE", "not currently used"],
  25: ["HMAC", "not currently used"],
  32: ["DISABLED", "the command is disabled"],
  33: ["EXCLUSIVE", "command failed because audit sequence required exclusivity"],
  36: ["AUTH_TYPE", "authorization handle is not correct for command"],
  37: ["AUTH_MISSING", "command requires an authorization session for handle and it is not present"],
  38: ["POLICY", "policy failure in math operation or an invalid authPolicy value"],
  39: ["PCR", "PCR check fail"],
  40: ["PCR_CHANGED", "PCR have changed since checked"],
  45: ["UPGRADE", "the TPM is in field upgrade mode"],
  46: ["TOO_MANY_CONTEXTS", "context ID counter is at maximum"],
  47: ["AUTH_UNAVAILABLE", "authValue or authPolicy is not available for selected entity"],
  48: ["REBOOT", "a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation"],
  49: ["UNBALANCED", "the protection algorithms (hash and symmetric) are not reasonably balanced"],
  66: ["COMMAND_SIZE", "command commandSize value is inconsistent with contents of the command buffer"],
  67: ["COMMAND_CODE", "command code not supported"],
  68: ["AUTHSIZE", "the value of authorizationSize is out of range or the number of sessions is wrong"],
  69: [
    "AUTH_CONTEXT",
    "use of an authorization session with a context command or another command that cannot have one",
  ],
  70: ["NV_RANGE", "NV offset+size is out of range"],
  71: ["NV_SIZE", "requested allocation size is larger than allowed"],
  72: ["NV_LOCKED", "NV access locked"],
  73: ["NV_AUTHORIZATION", "NV access authorization fails in command actions"],
  74: ["NV_UNINITIALIZED", "an NV index is used before being initialized (it was never written)"],
  75: ["NV_SPACE", "insufficient space for NV allocation"],
  76: ["NV_DEFINED", "NV index or persistent object already defined"],
  80: ["BAD_CONTEXT", "context in TPM2_ContextLoad is not valid"],
  81: ["CPHASH", "cpHash value already set or not correct for use"],
  82: ["PARENT", "handle for parent is not a valid parent"],
  83: ["NEEDS_TEST", "some function needs testing"],
  84: ["NO_RESULT", "the TPM could not produce a result"],
  85: ["SENSITIVE", "the sensitive area did not unmarshal correctly after decryption"],
};

const WARNING: Readonly<Record<number, readonly [string, string]>> = {
  1: ["CONTEXT_GAP", "gap for context ID is too large"],
  2: ["OBJECT_MEMORY", "out of memory for object contexts"],
  3: ["SESSION_MEMORY", "out of memory for session contexts"],
  4: ["MEMORY", "out of shared object/session memory or need space for internal operations"],
  5: ["SESSION_HANDLES", "out of session handles"],
  6: ["OBJECT_HANDLES", "out of object handles"],
  7: ["LOCALITY", "bad locality"],
  8: ["YIELDED", "the TPM has suspended operation on the command"],
  9: ["CANCELED", "the command was canceled"],
  10: ["TESTING", "TPM is performing self-tests"],
  32: ["NV_RATE", "the TPM is rate-limiting accesses to prevent wearout of NV"],
  33: ["LOCKOUT", "authorizations for objects subject to DA protection are not allowed at this time"],
  34: ["RETRY", "the TPM was not able to start the command"],
  35: ["NV_UNAVAILABLE", "the command may require writing of NV and NV is not currently accessible"],
};

export interface DecodedResponseCode {
  readonly code: number;
  /** "TPM_RC_HANDLE". */
  readonly name: string;
  readonly text: string;
  /** Which handle, parameter or session (1-based) the code refers to, for format-one codes. */
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
    const [name, text] = FORMAT_ONE[code & 0x3f] ?? ["UNKNOWN", "an unknown format-one error"];
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
    const [name, text] = table[code & 0x7f] ?? ["UNKNOWN", `an unknown ${warning ? "warning" : "error"}`];
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
  if (decoded.name === "TPM_RC_HANDLE" && subject?.kind === "handle") {
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
