import { AuthError, NoTerminalError } from "../../errors.js";
import type { BackendOpenOptions } from "../backend.js";
import { readTextSecret } from "../secret-file.js";
import type { Pkcs11Spec } from "./spec.js";

type PinOptions = Pick<BackendOpenOptions, "env" | "prompt">;

/** The file holding the user PIN: pin-file= of the spec, else the one $REID_PKCS11_PIN_FILE names. */
function pinFile(spec: Pkcs11Spec, options: PinOptions): string | undefined {
  return spec.pinFile ?? (options.env.REID_PKCS11_PIN_FILE || undefined);
}

/** Whether userPin() has somewhere to get the PIN from, without asking yet. */
export function userPinAtHand(spec: Pkcs11Spec, options: PinOptions): boolean {
  return pinFile(spec, options) !== undefined || options.prompt !== undefined;
}

/**
 * The token's user PIN: from pin-file= of the spec, else the file $REID_PKCS11_PIN_FILE names, else
 * the terminal prompt. Never from argv or an environment value: both are visible to other users
 * of the machine (ps, /proc/PID/environ of a child).
 */
export async function userPin(spec: Pkcs11Spec, options: PinOptions, label: string): Promise<string> {
  const file = pinFile(spec, options);
  if (file !== undefined) return readTextSecret(file, "PKCS#11 user PIN file");
  if (options.prompt) {
    try {
      return await options.prompt(`user PIN of token '${label}'`);
    } catch (error) {
      // A prompt with no terminal to ask at: say how else the PIN can be given.
      if (!(error instanceof NoTerminalError)) throw error;
    }
  }
  throw new AuthError(
    "pkcs11-pin-required",
    `token '${label}' needs its user PIN: give pin-file=FILE in --pkcs11 or REID_PKCS11_PIN_FILE=FILE (a file of mode 0600), or run at a terminal to be asked`,
  );
}
