import { URL_SAFE_ID } from "../element/inputs.js";
import { UsageError } from "../errors.js";
import { bodyLimit } from "../http/body.js";
import { pin } from "../http/schema.js";

/** Every JSON body the page reads is at most this long (docs/spec.md §8.1). */
export const json = bodyLimit(64 * 1024);

export function pinField(value: unknown, name = "pin"): string {
  return pin.read(value, name);
}

/** An id in a path (a schedule entry's, a passkey's). */
export function idField(value: string, what: string): string {
  if (URL_SAFE_ID.test(value)) return value;
  throw new UsageError(`bad ${what}`);
}

const INTENT =
  /^(?:init|reset|erase|pair|unlock|seal|export|mode-(?:random|factory)|schedule-(?:init|reset|erase)|(?:single-type|passkeys-bypass-lockout)-(?:on|off)|(?:cancel|remove-passkey|unbind|bind|command|telemetry):[A-Za-z0-9_-]{1,1024})$/;

/** The operation a passkey challenge is asked for; the answer authorizes that one only. */
export function intentField(value: unknown): string {
  if (typeof value === "string" && INTENT.test(value)) return value;
  throw new UsageError(
    "'intent' must name the operation: init, reset, erase, pair, unlock, seal, export, mode-MODE, schedule-TYPE, SETTING-on|off, cancel:ID, remove-passkey:ID, unbind:HANDLE, bind:HANDLE, command:HANDLE or telemetry:HANDLE",
  );
}
