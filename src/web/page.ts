import { type Context, Hono, type Next } from "hono";
import type { Actor } from "../auth/actor.js";
import type { ElementApi } from "../element/api.js";
import { answerErrors } from "../http/answer.js";
import { checkCall } from "../http/browser/calls.js";
import { securityHeaders } from "../http/browser/headers.js";
import { serveStaticFiles } from "../http/browser/static-files.js";
import { PAGE_RATE, RateLimiter, rateLimit, remoteAddress } from "../http/rate-limit.js";
import type { Assets } from "./assets.js";
import { auditApp } from "./audit.js";
import { bindingsApp, type PageBindings } from "./bindings.js";
import { configApp } from "./config.js";
import { eventsApp } from "./events.js";
import { exportApp } from "./export.js";
import { firstRunApp } from "./first-run.js";
import { keysApp } from "./keys.js";
import type { PageLinks } from "./links.js";
import { PageContext, PageError } from "./page-context.js";
import { type PagePairing, pairingApp } from "./pairing.js";
import { passkeysApp } from "./passkeys.js";
import { pinApp } from "./pin.js";
import { Proofs, proofApp } from "./proof.js";
import { requestsApp } from "./requests.js";
import { settingsApp } from "./settings.js";
import { signInApp } from "./sign-in.js";
import { signingApp } from "./signing.js";
import { statusApp } from "./status.js";
import { unlockApp } from "./unlock.js";

export interface PageOptions {
  /** The element acting for `actor`: the daemon's own element service, like every other surface's. */
  readonly element: (actor: Actor) => ElementApi;
  /** The page's origin, http://localhost:PORT: the only Origin and Host accepted. */
  readonly origin: string;
  readonly assets: Assets;
  /** The one-time sign-in links `reid page` hands out through the daemon's socket. */
  readonly links: PageLinks;
  /** The device role's pairing window, through the daemon's binding operations. */
  readonly pairing: PagePairing;
  /** The element's bindings, through the daemon's binding operations. */
  readonly bindings: PageBindings;
}

/** All the page says to a browser without its capability (docs/spec.md §8.2). */
const NO_LINK = "open the link from `reid page` (run as the account that runs reid serve)";
const SPENT_LINK = "this link was used or has expired: open a new one from `reid page`";

/**
 * The owner's page (docs/spec.md §8): what every request goes through, then the sub-apps, each
 * with one job, each reaching the element only through its API.
 * - every response carries a strict CSP (scripts from this origin only, none inline);
 * - the Host must be localhost:PORT (a DNS-rebound name is refused), the API refuses cross-site fetches;
 * - nothing else answers without a session, and only a one-time link from `reid page` (the owner's
 *   account, through the daemon's 0600 socket) opens one: the loopback port is every local
 *   account's, the socket the owner's alone;
 * - a session is an HttpOnly SameSite=Strict cookie with a random id; every state-changing call must
 *   carry the session's CSRF token as X-CSRF-Token and come from the page's own Origin;
 * - signing in opens the page, and nothing more: every operation carries its own fresh proof
 *   (proof.ts), which the element's owner gate checks, counts and records.
 */
export function ownerPage(options: PageOptions): Hono {
  const app = new Hono();
  const page = new PageContext(options.element, options.origin);
  answerErrors(app, "page");
  app.use("*", securityHeaders);
  app.use("*", (c, next) => checkHost(c, next, options.origin));
  app.get("/link", (c) => openLink(c, page, options.links));
  app.use("*", (c, next) => requireLink(c, next, page));
  app.use("/api/*", async (c, next) => {
    checkCall(c, { origins: [page.origin], csrf: (call) => page.requireSession(call).csrf });
    await next();
  });
  // Every state-changing call is, or leads to, an owner operation: limited per session and per
  // remote address before any proof is read (docs/spec.md §8.4), so no refusal here is a PIN try.
  const limiter = new RateLimiter(PAGE_RATE);
  app.post(
    "/api/*",
    rateLimit(
      limiter,
      (c) => [`session:${page.requireSession(c).id}`, `address:${remoteAddress(c)}`],
      "this page's session or address",
    ),
  );

  app.get("/favicon.ico", (c) => c.body(null, 204));
  serveStaticFiles(app, options.assets);

  const proofs = new Proofs(page);
  app.route("/api", firstRunApp(page));
  app.route("/api", signInApp(page, proofs));
  app.route("/api", statusApp(page));
  app.route("/api", eventsApp(page));
  app.route("/api", proofApp(page, proofs));
  app.route("/api", requestsApp(page, proofs));
  app.route("/api", passkeysApp(page, proofs));
  app.route("/api", pairingApp(page, proofs, options.pairing));
  app.route("/api", settingsApp(page, proofs));
  app.route("/api", bindingsApp(page, proofs, options.bindings));
  app.route("/api", keysApp(page));
  app.route("/api", auditApp(page));
  app.route("/api", unlockApp(page, proofs));
  app.route("/api", pinApp(page));
  app.route("/api", configApp(page, proofs));
  app.route("/api", signingApp(page));
  app.route("/api", exportApp(page, proofs));
  return app;
}

/** The page answers only under its own name; typed as http://127.0.0.1:PORT, it sends the browser there. */
async function checkHost(c: Context, next: Next, origin: string) {
  const host = c.req.header("host");
  if (host === new URL(origin).host) return next();
  if (c.req.method === "GET" && c.req.path === "/" && host !== undefined && isLoopbackHost(host)) {
    return c.redirect(`${origin}/`, 302);
  }
  throw new PageError(
    421,
    "wrong-host",
    `this page answers only as ${origin}, not as '${(host ?? "").slice(0, 64)}'`,
  );
}

/**
 * A link from `reid page`: spent now, it opens a session (ending any this browser had) and sends the
 * browser on to the page, so the token leaves the address bar (it is spent in any case).
 */
function openLink(c: Context, page: PageContext, links: PageLinks) {
  if (!links.redeem(c.req.query("token"))) return c.html(notice(SPENT_LINK), 403);
  const old = page.session(c);
  if (old) page.sessions.end(old);
  page.setCookie(c, page.sessions.create());
  return c.redirect("/", 303);
}

/** Every path, files and event stream included, answers only a session opened by a link. */
async function requireLink(c: Context, next: Next, page: PageContext) {
  if (page.session(c)) return next();
  if (c.req.path.startsWith("/api/")) throw new PageError(401, "no-link", NO_LINK);
  return c.html(notice(NO_LINK), 401);
}

function notice(text: string): string {
  const escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>reid</title></head><body><p>${escaped}</p></body></html>\n`;
}

function isLoopbackHost(host: string): boolean {
  return /^(?:127(?:\.\d{1,3}){3}|\[::1\]):\d{1,5}$/.test(host);
}
