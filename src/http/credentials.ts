import type { Context } from "hono";
import type { Credentials } from "../auth/actor.js";
import { MAX_PIN } from "../auth/owner-pin.js";
import { UsageError } from "../errors.js";
import { pin } from "./schema.js";

/** The longest PIN, MAX_PIN characters of up to 4 bytes of UTF-8 each, in base64url. */
const MAX_ENCODED = Math.ceil((MAX_PIN * 4 * 4) / 3);
const PIN_HEADER = new RegExp(`^Pin ([A-Za-z0-9_-]{1,${MAX_ENCODED}})$`);

/** The PIN travels base64url-encoded (headers are Latin-1; a PIN may not be). */
export function pinHeader(value: string): string {
  return `Pin ${Buffer.from(value, "utf8").toString("base64url")}`;
}

/** The credentials in an Authorization header: "Pin <base64url of the UTF-8 PIN>", or none (docs/spec.md §6.2). */
export function credentialsFrom(header: string | undefined): Credentials {
  if (header === undefined) return {};
  const match = PIN_HEADER.exec(header);
  if (!match) throw new UsageError("the Authorization header must be 'Pin <base64url>'");
  const decoded = Buffer.from(match[1] as string, "base64url").toString("utf8");
  try {
    return { pin: pin.read(decoded, "PIN") };
  } catch {
    throw new UsageError(`the PIN in the Authorization header must have 1 to ${MAX_PIN} characters`);
  }
}

/** The credentials a caller sent with this request. */
export function credentialsOf(c: Context): Credentials {
  return credentialsFrom(c.req.header("authorization"));
}
