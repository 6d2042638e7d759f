import type { Context } from "hono";
import { ExitCode } from "../../errors.js";
import { HttpError } from "../wire.js";
import { sameToken } from "./sessions.js";

/** Where a page's API call must come from, and the session it must carry. */
export interface CallRules {
  /** The page's origins: the only Origin a state-changing call may name. */
  readonly origins: readonly string[];
  /** The session's CSRF token, or a refusal (401) when the call has no live session. */
  readonly csrf: (c: Context) => string;
}

/**
 * The checks of a browser's call to a page's API (docs/spec.md §8.1, §10.11). Browsers say where a
 * fetch comes from: only the page itself (or a typed URL) may call, and a state-changing call must
 * come from the page's Origin, as JSON, with the session's CSRF token.
 */
export function checkCall(c: Context, rules: CallRules): void {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw new HttpError(403, "cross-site", ExitCode.auth, "the page's API answers only the page itself");
  }
  if (c.req.method === "GET" || c.req.method === "HEAD") return;
  const origin = c.req.header("origin");
  if (origin === undefined || !rules.origins.includes(origin)) {
    throw new HttpError(
      403,
      "bad-origin",
      ExitCode.auth,
      `state-changing calls must come from ${rules.origins[0] ?? "the page"} (Origin header)`,
    );
  }
  // JSON only: a cross-site HTML form cannot send it without asking (CORS preflight).
  if (!/^application\/json(?:;|$)/i.test(c.req.header("content-type") ?? "")) {
    throw new HttpError(
      400,
      "not-json",
      ExitCode.usage,
      "state-changing calls send JSON (Content-Type: application/json)",
    );
  }
  if (!sameToken(c.req.header("x-csrf-token"), rules.csrf(c))) {
    throw new HttpError(403, "csrf", ExitCode.auth, "the CSRF token is missing or wrong: reload the page");
  }
}
