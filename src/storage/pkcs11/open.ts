import type { Pkcs11Session } from "../../pkcs11/session.js";
import { Pkcs11Token } from "../../pkcs11/token.js";
import type { BackendOpenOptions, OpenedBackend } from "../backend.js";
import { Pkcs11Area } from "./area.js";
import { TokenAuditKeyHome } from "./audit-key.js";
import { TokenCounter } from "./counter.js";
import { userPin } from "./pin.js";
import { Pkcs11Source } from "./random-source.js";
import { Pkcs11SealingKeys } from "./sealing-key.js";
import type { Pkcs11Spec } from "./spec.js";

/**
 * Loads the module, finds the token, logs in as the user and takes reid's objects on it. The
 * PIN is asked for before the lock is waited for, and a wrong one fails at once (exit 4). The
 * session serves the areas and the entropy source; close() ends it and lets go of the module.
 */
export async function openPkcs11(
  directory: string,
  spec: Pkcs11Spec,
  options: BackendOpenOptions,
): Promise<OpenedBackend> {
  const token = await Pkcs11Token.open(spec.module, spec.token);
  let session: Pkcs11Session | null = null;
  try {
    const pin = await userPin(spec, options, token.info.label);
    session = token.openSession();
    session.login(pin);
    const area = await Pkcs11Area.open(token, session, options);
    const opened = session;
    return {
      area,
      // Under the place lock the area holds, on the same session.
      counter: new TokenCounter(opened, directory),
      auditKey: new TokenAuditKeyHome(opened),
      description: token.where,
      randomSource: () => new Pkcs11Source(opened),
      // Private objects: the token shows them only to a session logged in with the user PIN.
      protectedBy: async () => "token-pin",
      sealingKeys: new Pkcs11SealingKeys(opened),
      close: async () => {
        opened.close();
        token.close();
      },
    };
  } catch (error) {
    session?.close();
    token.close();
    throw error;
  }
}
