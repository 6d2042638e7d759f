import { AuthError } from "../../errors.js";
import type { RegistryStore } from "../store/store.js";
import { hashToken } from "../tokens.js";

/** RFC 6750's b64token, of a sane length: what an operator token may look like on the wire. */
export const OPERATOR_TOKEN_SYNTAX = "[A-Za-z0-9._~+/-]{1,512}=*";

/**
 * Whether `token` is this registry's operator token (docs/spec.md §10.10): looked up by its
 * SHA-256, so what the database compares is a digest, never the token. Else `operator-refused`.
 */
export async function checkOperatorToken(
  store: Pick<RegistryStore, "isOperatorToken">,
  token: string,
  what = "the bearer token",
): Promise<void> {
  if (!(await store.isOperatorToken(hashToken(token)))) {
    throw new AuthError("operator-refused", `${what} is not this registry's operator token`);
  }
}
