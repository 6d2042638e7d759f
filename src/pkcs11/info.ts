import { CKF_TOKEN } from "./constants.js";
import type { Pkcs11Session } from "./session.js";
import type { LibraryInfo, Pkcs11Token, TokenInfo } from "./token.js";

/** What `reid pkcs11 info` reports about a module and a token, before looking at reid's objects. */
export interface Pkcs11Info {
  readonly module: string;
  readonly library: LibraryInfo;
  readonly token: Omit<TokenInfo, "flags">;
  readonly state: {
    readonly initialized: boolean;
    readonly loginRequired: boolean;
    readonly userPinInitialized: boolean;
    readonly userPinLocked: boolean;
    readonly userPinCountLow: boolean;
    readonly userPinFinalTry: boolean;
    readonly userPinToBeChanged: boolean;
    readonly writeProtected: boolean;
  };
  /** How many mechanisms (CKM_*) the token offers; reid needs none of them. */
  readonly mechanismCount: number;
  /** Each requirement of reid's, and whether this token meets it. */
  readonly requirements: readonly { readonly what: string; readonly ok: boolean }[];
}

const RANDOM_PROBE = 32;

/** Reads the module's and the token's info, and tries the one function reid needs beyond objects. */
export function readPkcs11Info(token: Pkcs11Token, session: Pkcs11Session): Pkcs11Info {
  const { flags, ...fields } = token.currentInfo();
  const has = (flag: number) => (flags & flag) !== 0;
  const state = {
    initialized: has(CKF_TOKEN.TOKEN_INITIALIZED),
    loginRequired: has(CKF_TOKEN.LOGIN_REQUIRED),
    userPinInitialized: has(CKF_TOKEN.USER_PIN_INITIALIZED),
    userPinLocked: has(CKF_TOKEN.USER_PIN_LOCKED),
    userPinCountLow: has(CKF_TOKEN.USER_PIN_COUNT_LOW),
    userPinFinalTry: has(CKF_TOKEN.USER_PIN_FINAL_TRY),
    userPinToBeChanged: has(CKF_TOKEN.USER_PIN_TO_BE_CHANGED),
    writeProtected: has(CKF_TOKEN.WRITE_PROTECTED),
  };
  return {
    module: token.module.path,
    library: token.library(),
    token: fields,
    state,
    mechanismCount: token.mechanisms().length,
    requirements: [
      { what: "token initialized", ok: state.initialized },
      { what: "user PIN set", ok: state.userPinInitialized },
      { what: "user PIN not locked", ok: !state.userPinLocked },
      { what: "token writable (objects are created and destroyed)", ok: !state.writeProtected },
      randomProbe(session),
    ],
  };
}

function randomProbe(session: Pkcs11Session): { what: string; ok: boolean } {
  const what = `C_GenerateRandom of ${RANDOM_PROBE} bytes`;
  const bytes = new Uint8Array(RANDOM_PROBE);
  try {
    session.generateRandom(bytes);
    return { what, ok: bytes.some((b) => b !== 0) };
  } catch (error) {
    // The session's message names the return value: keep just that, the row says the rest.
    const ckr = /CKR_[A-Z0-9_]+/.exec(error instanceof Error ? error.message : "")?.[0];
    return { what: ckr ? `${what} (${ckr})` : what, ok: false };
  } finally {
    bytes.fill(0);
  }
}
