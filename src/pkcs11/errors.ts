import { AuthError, type ReidError, StorageError } from "../errors.js";

type Kind = "auth" | "storage";

/** What a CKR_* return value means for the user: the exit status, a stable code, and what to do. */
interface Meaning {
  readonly kind: Kind;
  readonly code: string;
  readonly advice: string;
}

const SO_INIT_PIN = "pkcs11-tool --login --login-type so --init-pin";

const TOKEN_GONE: Meaning = {
  kind: "storage",
  code: "pkcs11-token-missing",
  advice: "the token is gone: insert it, or check token= and module=",
};
const SESSION_LOST: Meaning = {
  kind: "storage",
  code: "pkcs11-session-lost",
  advice:
    "the session with the token ended (the token was removed or the module shut down): run the command again",
};
const DEVICE: Meaning = {
  kind: "storage",
  code: "pkcs11-device-error",
  advice:
    "the token or its module failed; with SoftHSM2, check SOFTHSM2_CONF and that its token directory is readable and writable",
};

const MEANINGS: Readonly<Record<string, Meaning>> = {
  CKR_PIN_INCORRECT: {
    kind: "auth",
    code: "pkcs11-pin-incorrect",
    advice:
      "the token refused the user PIN: check the PIN file (pin-file= or REID_PKCS11_PIN_FILE); every wrong try counts towards the token's lockout",
  },
  CKR_PIN_INVALID: {
    kind: "auth",
    code: "pkcs11-pin-incorrect",
    advice: "the token does not accept the characters of this PIN: check the PIN file",
  },
  CKR_PIN_LEN_RANGE: {
    kind: "auth",
    code: "pkcs11-pin-incorrect",
    advice: "the PIN is shorter or longer than the token allows: check the PIN file",
  },
  CKR_PIN_LOCKED: {
    kind: "auth",
    code: "pkcs11-pin-locked",
    advice: `the user PIN is locked after too many wrong tries: the token's security officer must set it again (${SO_INIT_PIN})`,
  },
  CKR_PIN_EXPIRED: {
    kind: "auth",
    code: "pkcs11-pin-expired",
    advice: "the user PIN has expired: set a new one (pkcs11-tool --login --change-pin)",
  },
  CKR_USER_PIN_NOT_INITIALIZED: {
    kind: "auth",
    code: "pkcs11-pin-not-set",
    advice: `the token has no user PIN yet: its security officer sets one (${SO_INIT_PIN})`,
  },
  CKR_USER_NOT_LOGGED_IN: {
    kind: "auth",
    code: "pkcs11-not-logged-in",
    advice: "the token wants the user logged in: give the user PIN",
  },
  CKR_TOKEN_NOT_PRESENT: TOKEN_GONE,
  CKR_TOKEN_NOT_RECOGNIZED: TOKEN_GONE,
  CKR_DEVICE_REMOVED: TOKEN_GONE,
  CKR_SLOT_ID_INVALID: TOKEN_GONE,
  CKR_SESSION_HANDLE_INVALID: SESSION_LOST,
  CKR_SESSION_CLOSED: SESSION_LOST,
  CKR_CRYPTOKI_NOT_INITIALIZED: SESSION_LOST,
  CKR_TOKEN_WRITE_PROTECTED: {
    kind: "storage",
    code: "pkcs11-write-protected",
    advice: "the token is write-protected: reid cannot keep its areas there",
  },
  CKR_DEVICE_MEMORY: {
    kind: "storage",
    code: "pkcs11-token-full",
    advice: "the token has no room for another object: free some, or use another token",
  },
  CKR_RANDOM_NO_RNG: {
    kind: "storage",
    code: "pkcs11-no-rng",
    advice: "the token has no random number generator: choose another --source",
  },
  CKR_DEVICE_ERROR: DEVICE,
  CKR_GENERAL_ERROR: DEVICE,
  CKR_FUNCTION_FAILED: DEVICE,
};

const OTHER: Meaning = {
  kind: "storage",
  code: "pkcs11-failure",
  advice: "see the token's documentation for this return value",
};

/** The CKR_* name and the function of a failure pkcs11js reports, or null for anything else. */
export function returnValueOf(error: unknown): { readonly ckr: string; readonly method: string } | null {
  if (!(error instanceof Error) || !/^CKR_[A-Z0-9_]+$/.test(error.message)) return null;
  const method = (error as { method?: unknown }).method;
  return { ckr: error.message, method: typeof method === "string" && method !== "" ? method : "a call" };
}

/**
 * A PKCS#11 failure as one line a user can act on: "C_Login on PKCS#11 token 'reid' (module
 * M): CKR_PIN_INCORRECT (what to do)", `where` naming the module or token. A wrong or locked PIN is exit 4, everything else exit 6.
 * Anything that is not a CKR_* failure (a native error) keeps its first line.
 */
export function describePkcs11Error(error: unknown, where: string): ReidError {
  const failure = returnValueOf(error);
  if (!failure) {
    const text = error instanceof Error ? error.message : String(error);
    return new StorageError(`${where}: ${firstLine(text)}`, "pkcs11-failure");
  }
  const meaning = MEANINGS[failure.ckr] ?? OTHER;
  const message = `${failure.method} on ${where}: ${failure.ckr} (${meaning.advice})`;
  if (meaning.kind === "auth") {
    const auth = meaning;
    return new AuthError(auth.code, message);
  }
  const storage = meaning;
  return new StorageError(message, storage.code);
}

/** A token whose flags say its user PIN is locked: exit 4, before any login is tried. */
export function pinLocked(where: string): AuthError {
  const auth = MEANINGS.CKR_PIN_LOCKED as Meaning;
  return new AuthError(auth.code, `${where} reports CKF_USER_PIN_LOCKED: ${auth.advice}`);
}

/** Every code a CKR_* failure of `kind` is reported under (the spec's error table lists them). */
export function pkcs11Codes(kind: Kind): string[] {
  const meanings = [...Object.values(MEANINGS), OTHER].filter((meaning) => meaning.kind === kind);
  return [...new Set(meanings.map((meaning) => meaning.code))];
}

/** Whether `error` is this CKR_* return value. */
export function isReturnValue(error: unknown, ckr: string): boolean {
  return returnValueOf(error)?.ckr === ckr;
}

export function firstLine(text: string): string {
  return text.split("\n")[0]?.trim() ?? "";
}
