import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { type Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Actor } from "../auth/actor.js";
import { OwnerPin } from "../auth/owner-pin.js";
import type { ElementStatus } from "../element/control-unit.js";
import { REQUEST_TYPES, scheduleTime } from "../element/inputs.js";
import type { ElementService } from "../element/service.js";
import { AuthError, ExitCode, ReidError, UsageError } from "../errors.js";
import { parseFormat } from "../format/format.js";
import { answerErrors } from "../http/answer.js";
import { bodyLimit, objectBody } from "../http/body.js";
import { oneOf, pin, text } from "../http/schema.js";
import { eventStream } from "../http/sse.js";
import { HttpError } from "../http/wire.js";
import type { Assets } from "./assets.js";
import { PasskeyStore, type StoredPasskey } from "./passkeys.js";
import { type ChallengePurpose, type Session, Sessions, sameToken } from "./sessions.js";

/** WebAuthn wants a domain as relying party id, never an IP address. */
export const RP_ID = "localhost";
const COOKIE = "reid_session";
const JSON_LIMIT = 64 * 1024;
const requestType = oneOf(REQUEST_TYPES);
const formatText = text({ max: 64 });

export interface PageOptions {
  readonly service: ElementService;
  readonly storeDirectory: string;
  /** The page's origin, http://localhost:PORT: the only Origin and Host accepted. */
  readonly origin: string;
  readonly assets: Assets;
  /** The daemon's clock, for the owner PIN's back-off (the element's own uses the same). */
  readonly now?: () => Date;
}

/** A refusal of the page itself (not the element's), with its HTTP status. */
class PageError extends HttpError {
  constructor(
    status: 400 | 401 | 403 | 404 | 421,
    code: string,
    message: string,
    exit: ExitCode = status === 400 || status === 404 ? ExitCode.usage : ExitCode.auth,
  ) {
    super(status, code, exit, message);
  }
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "publickey-credentials-get=(self), publickey-credentials-create=(self)",
  "Cache-Control": "no-store",
};

/**
 * The owner's page: status, requests, schedule, live events, passkeys. Who may do what:
 * - every response carries a strict CSP (scripts from this origin only, none inline);
 * - the Host must be localhost:PORT (a DNS-rebound name is refused), the API refuses cross-site fetches;
 * - a session is an HttpOnly SameSite=Strict cookie with a random id; every state-changing call must
 *   carry the session's CSRF token as X-CSRF-Token and come from the page's own Origin;
 * - signing in (owner PIN, or a passkey with user verification) opens the page, and nothing more:
 *   every init, reset, erase, schedule, cancel and passkey change carries its own fresh proof, the
 *   PIN typed again (checked and counted by the element) or a fresh single-use passkey assertion.
 */
export class OwnerPage {
  readonly app = new Hono();
  private readonly sessions = new Sessions();
  private readonly passkeys: PasskeyStore;
  private readonly pin: OwnerPin;
  private readonly host: string;
  /** Passkey verifications one at a time, so two uses of one passkey cannot both pass its counter. */
  private passkeyQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PageOptions) {
    this.passkeys = new PasskeyStore(options.storeDirectory);
    // The element's PIN state (owner.json): the same file, the same counter and lockout as the CLI's.
    this.pin = new OwnerPin(options.storeDirectory, options.now);
    this.host = new URL(options.origin).host;
    this.routes();
  }

  private routes(): void {
    const app = this.app;
    const json = bodyLimit(JSON_LIMIT);
    answerErrors(app, "page");
    app.use("*", async (c, next) => {
      await next();
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
    });
    app.use("*", async (c, next) => {
      const host = c.req.header("host");
      if (host !== this.host) {
        // Typed as http://127.0.0.1:PORT: the same page, under the name WebAuthn accepts.
        if (c.req.method === "GET" && c.req.path === "/" && host !== undefined && isLoopbackHost(host)) {
          return c.redirect(`${this.options.origin}/`, 302);
        }
        throw new PageError(
          421,
          "wrong-host",
          `this page answers only as ${this.options.origin}, not as '${(host ?? "").slice(0, 64)}'`,
        );
      }
      return next();
    });
    app.use("/api/*", async (c, next) => {
      // Browsers say where a fetch comes from; only the page itself (or a typed URL) may call the API.
      const site = c.req.header("sec-fetch-site");
      if (site !== undefined && site !== "same-origin" && site !== "none") {
        throw new PageError(403, "cross-site", "the page's API answers only the page itself");
      }
      if (c.req.method !== "GET" && c.req.method !== "HEAD") {
        if (c.req.header("origin") !== this.options.origin) {
          throw new PageError(
            403,
            "bad-origin",
            `state-changing calls must come from ${this.options.origin} (Origin header)`,
          );
        }
        // JSON only: a cross-site HTML form cannot send it without asking (CORS preflight).
        if (!/^application\/json(?:;|$)/i.test(c.req.header("content-type") ?? "")) {
          throw new PageError(
            400,
            "not-json",
            "state-changing calls send JSON (Content-Type: application/json)",
          );
        }
        const session = this.session(c);
        if (!session) throw new PageError(401, "no-session", "no session (or it expired): reload the page");
        if (!sameToken(c.req.header("x-csrf-token"), session.csrf)) {
          throw new PageError(403, "csrf", "the CSRF token is missing or wrong: reload the page");
        }
      }
      return next();
    });

    app.get("/favicon.ico", (c) => c.body(null, 204));
    for (const [path, asset] of this.options.assets) {
      app.get(path, (c) => c.body(new Uint8Array(asset.body), 200, { "Content-Type": asset.type }));
    }

    app.get("/api/session", async (c) => {
      let session = this.session(c);
      if (!session) {
        session = this.sessions.create();
        this.setCookie(c, session);
      }
      return c.json(await this.describe(session));
    });

    app.post("/api/sign-in/pin", json, async (c) => {
      const body = await objectBody(c, ["pin"]);
      const pin = pinField(body.pin);
      const session = this.requireSession(c);
      this.requirePin();
      await this.options.service.control.audited("web-sign-in", { principal: "web:pin" }, () =>
        this.pin.authorize({ pin }),
      );
      return this.signedIn(c, session, "web:pin");
    });

    app.post("/api/sign-in/passkey/options", json, async (c) => {
      await objectBody(c, []);
      const session = this.requireSession(c);
      this.requirePin();
      return c.json(await this.assertionOptions(session, "sign-in"));
    });

    app.post("/api/sign-in/passkey", json, async (c) => {
      const body = await objectBody(c, ["response"]);
      const response = assertionField(body.response);
      const session = this.requireSession(c);
      this.requirePin();
      const id = await this.auditedPasskey("web-sign-in", response, () =>
        this.verifyAssertion(session, "sign-in", response),
      );
      return this.signedIn(c, session, `web:passkey:${id}`);
    });

    app.post("/api/sign-out", json, async (c) => {
      await objectBody(c, []);
      const session = this.requireSession(c);
      this.sessions.end(session);
      const fresh = this.sessions.create();
      this.setCookie(c, fresh);
      return c.json(await this.describe(fresh));
    });

    app.get("/api/status", async (c) => {
      this.requireSignedIn(c);
      return c.json(publicStatus(await this.options.service.status()));
    });

    app.get("/api/events", (c) => {
      const session = this.requireSignedIn(c);
      return this.events(c, session);
    });

    app.post("/api/proof/options", json, async (c) => {
      const body = await objectBody(c, ["intent"]);
      const intent = intentField(body.intent);
      const session = this.requireSignedIn(c);
      this.requirePin();
      return c.json(await this.assertionOptions(session, "proof", intent));
    });

    app.post("/api/requests", json, async (c) => {
      const body = await objectBody(c, ["type", "format", "proof"]);
      const type = requestType.read(body.type, "type");
      const format = this.formatField(body.format);
      const session = this.requireSignedIn(c);
      const actor = await this.prove(session, body.proof, type, type);
      return c.json(await this.options.service.as(actor).submit(type, format));
    });

    app.post("/api/schedule", json, async (c) => {
      const body = await objectBody(c, ["type", "format", "at", "proof"]);
      const type = requestType.read(body.type, "type");
      const format = this.formatField(body.format);
      if (typeof body.at !== "string") throw new UsageError("'at' must be an ISO-8601 time with a zone");
      // Checked before the proof is spent on it.
      scheduleTime(body.at, new Date());
      const session = this.requireSignedIn(c);
      const actor = await this.prove(session, body.proof, `schedule-${type}`, `schedule-${type}`);
      return c.json(await this.options.service.as(actor).schedule(type, format, body.at));
    });

    app.post("/api/schedule/:id/cancel", json, async (c) => {
      const id = idField(c.req.param("id"), "schedule id");
      const body = await objectBody(c, ["proof"]);
      const session = this.requireSignedIn(c);
      const actor = await this.prove(session, body.proof, `cancel:${id}`, "cancel-schedule");
      return c.json(await this.options.service.as(actor).cancelScheduled(id));
    });

    app.post("/api/passkeys/options", json, async (c) => {
      await objectBody(c, []);
      const session = this.requireSignedIn(c);
      this.requirePin();
      const options = await generateRegistrationOptions({
        rpName: "reid",
        rpID: RP_ID,
        userName: "owner",
        userDisplayName: "reid owner",
        userID: Buffer.from(this.passkeys.userId(), "base64url"),
        attestationType: "none",
        timeout: 60_000,
        excludeCredentials: this.passkeys.list().map((p) => ({ id: p.id, transports: [...p.transports] })),
        authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
      });
      this.sessions.issue(session, "register", options.challenge);
      return c.json(options);
    });

    // Registering a passkey: a signed-in session, the PIN again, and the authenticator's answer.
    app.post("/api/passkeys", json, async (c) => {
      const body = await objectBody(c, ["response", "pin"]);
      const pin = pinField(body.pin);
      const response = registrationField(body.response);
      const session = this.requireSignedIn(c);
      this.requirePin();
      const challenge = this.sessions.take(session, "register");
      const added = await this.options.service.control.audited(
        "passkey-add",
        { principal: "web:pin" },
        async () => {
          await this.pin.authorize({ pin });
          if (!challenge) throw expiredChallenge();
          let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
          try {
            verified = await verifyRegistrationResponse({
              response,
              expectedChallenge: challenge.challenge,
              expectedOrigin: this.options.origin,
              expectedRPID: RP_ID,
              requireUserVerification: true,
            });
          } catch (error) {
            throw new AuthError("passkey-refused", `the passkey was refused: ${messageOf(error)}`);
          }
          if (!verified.verified || !verified.registrationInfo.userVerified) {
            throw new AuthError("passkey-refused", "the passkey was refused: no user verification");
          }
          const { credential } = verified.registrationInfo;
          const passkey = {
            id: credential.id,
            publicKey: Buffer.from(credential.publicKey).toString("base64url"),
            counter: credential.counter,
            transports: credential.transports ?? [],
            created: new Date().toISOString(),
          };
          this.passkeys.add(passkey);
          return passkey;
        },
      );
      return c.json({ id: added.id, created: added.created });
    });

    app.post("/api/passkeys/:id/remove", json, async (c) => {
      const id = idField(c.req.param("id"), "passkey id");
      const body = await objectBody(c, ["proof"]);
      const session = this.requireSignedIn(c);
      const actor = await this.prove(session, body.proof, `remove-passkey:${id}`, "passkey-remove");
      await this.options.service.control.audited("passkey-remove", actor, async () => {
        if (actor.credentials) await this.pin.authorize(actor.credentials);
        if (!this.passkeys.remove(id)) {
          throw new ReidError("no-such-passkey", ExitCode.state, "no passkey with that id is registered");
        }
      });
      return c.json({ removed: id });
    });
  }

  /**
   * The fresh proof one operation carries: the PIN again ({pin}: the element checks and counts it)
   * or an assertion ({passkey}) answering a challenge issued for exactly this operation. Without
   * one, nothing happens, whatever the session.
   */
  private async prove(session: Session, proof: unknown, intent: string, auditName: string): Promise<Actor> {
    this.requirePin();
    const given = (proof ?? {}) as Record<string, unknown>;
    if (typeof given === "object" && typeof given.pin === "string") {
      return { principal: "web:pin", credentials: { pin: pinField(given.pin) } };
    }
    if (typeof given === "object" && given.passkey !== undefined) {
      const response = assertionField(given.passkey);
      const id = await this.auditedPasskey(
        auditName,
        response,
        () => this.verifyAssertion(session, "proof", response, intent),
        true,
      );
      return { principal: `web:passkey:${id}`, preauthorized: true };
    }
    const error = new AuthError(
      "proof-required",
      "every operation needs a fresh proof: type the PIN again or use a passkey",
    );
    await this.options.service.control
      .audited(auditName, { principal: session.principal ?? "web" }, () => Promise.reject(error))
      .catch(() => undefined);
    throw error;
  }

  /**
   * Runs a passkey verification; a refusal is recorded in the audit log under `name`. With
   * `onlyRefusals`, a success is not recorded here: the operation it authorizes records itself.
   */
  private async auditedPasskey(
    name: string,
    response: AuthenticationResponseJSON,
    verify: () => Promise<string>,
    onlyRefusals = false,
  ): Promise<string> {
    const principal = this.passkeys.find(response.id) ? `web:passkey:${response.id}` : "web:passkey";
    const control = this.options.service.control;
    if (!onlyRefusals) return control.audited(name, { principal }, verify);
    try {
      return await verify();
    } catch (error) {
      await control.audited(name, { principal }, () => Promise.reject(error)).catch(() => undefined);
      throw error;
    }
  }

  private async assertionOptions(session: Session, purpose: ChallengePurpose, intent = "") {
    const registered = this.passkeys.list();
    if (registered.length === 0) {
      throw new PageError(
        400,
        "no-passkey",
        "no passkey is registered: sign in with the PIN and register one first",
      );
    }
    const options = await generateAuthenticationOptions({
      rpID: RP_ID,
      userVerification: "required",
      timeout: 60_000,
      allowCredentials: registered.map((p) => ({ id: p.id, transports: [...p.transports] })),
    });
    this.sessions.issue(session, purpose, options.challenge, intent);
    return options;
  }

  /** Checks an assertion against the session's challenge for `purpose`; returns the passkey's id. */
  private verifyAssertion(
    session: Session,
    purpose: ChallengePurpose,
    response: AuthenticationResponseJSON,
    intent = "",
  ): Promise<string> {
    // Spent now, whatever happens next: a challenge authorizes one try.
    const challenge = this.sessions.take(session, purpose);
    const run = this.passkeyQueue.then(async () => {
      if (!challenge) throw expiredChallenge();
      if (challenge.intent !== intent) {
        throw new AuthError(
          "challenge-mismatch",
          "this passkey answer was made for another operation: try again",
        );
      }
      const stored: StoredPasskey | undefined = this.passkeys.find(response.id);
      if (!stored) throw new AuthError("unknown-passkey", "this passkey is not registered with this element");
      let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
      try {
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge.challenge,
          expectedOrigin: this.options.origin,
          expectedRPID: RP_ID,
          credential: {
            id: stored.id,
            publicKey: Buffer.from(stored.publicKey, "base64url"),
            counter: stored.counter,
            transports: [...stored.transports],
          },
          requireUserVerification: true,
        });
      } catch (error) {
        throw new AuthError("passkey-refused", `the passkey was refused: ${messageOf(error)}`);
      }
      if (!verified.verified || !verified.authenticationInfo.userVerified) {
        throw new AuthError("passkey-refused", "the passkey was refused: the user was not verified");
      }
      this.passkeys.used(stored.id, verified.authenticationInfo.newCounter, new Date().toISOString());
      return stored.id;
    });
    this.passkeyQueue = run.catch(() => undefined);
    return run;
  }

  private events(c: Context, session: Session): Response {
    // Signing out (or the session ending) ends the session's streams, with a last "signed-out".
    const ended = new AbortController();
    const end = () => ended.abort();
    return eventStream(c, {
      subscribe: (listener) => {
        const unsubscribe = this.options.service.control.onNotification(listener);
        session.streams.add(end);
        return () => {
          unsubscribe();
          session.streams.delete(end);
        };
      },
      name: () => "request",
      until: ended.signal,
      alive: () => this.sessions.alive(session),
      farewell: "signed-out",
    });
  }

  private async describe(session: Session) {
    const { owner } = await this.options.service.status();
    const passkeys = this.passkeys.list();
    return {
      signedIn: session.principal !== null,
      principal: session.principal,
      csrf: session.csrf,
      // Before sign-in, only whether there is an owner to sign in as (and whether it is locked).
      owner: session.principal === null ? { pin: owner.pin, locked: owner.locked } : owner,
      passkeyCount: passkeys.length,
      passkeys:
        session.principal === null
          ? []
          : passkeys.map(({ id, created, lastUsed }) => ({ id, created, lastUsed })),
    };
  }

  private async signedIn(c: Context, session: Session, principal: string) {
    const fresh = this.sessions.signIn(session, principal);
    this.setCookie(c, fresh);
    return c.json(await this.describe(fresh));
  }

  private setCookie(c: Context, session: Session): void {
    setCookie(c, COOKIE, session.id, { path: "/", httpOnly: true, sameSite: "Strict" });
  }

  private session(c: Context): Session | null {
    return this.sessions.get(getCookie(c, COOKIE));
  }

  private requireSession(c: Context): Session {
    const session = this.session(c);
    if (!session) throw new PageError(401, "no-session", "no session (or it expired): reload the page");
    return session;
  }

  private requireSignedIn(c: Context): Session {
    const session = this.session(c);
    if (!session?.principal) throw new PageError(401, "not-signed-in", "sign in first");
    return session;
  }

  /** Without an owner PIN there is no owner to authenticate: the page does nothing. */
  private requirePin(): void {
    if (!this.pin.isSet()) {
      throw new PageError(
        403,
        "no-pin",
        "no owner PIN is set: run 'reid pin set' first; the page acts only for an authenticated owner",
      );
    }
  }

  private formatField(value: unknown): string | undefined {
    if (value === undefined || value === "") return undefined;
    const format = formatText.read(value, "format");
    parseFormat(format, this.options.service.control.capacity);
    return format;
  }
}

/** Status for the page: public facts only (never the identifier; not even the store's path). */
function publicStatus(status: ElementStatus) {
  const { state, generation, handle, mode, source, format, scheduled, requests, sealed, owner } = status;
  return { state, generation, handle, mode, source, format, scheduled, requests, sealed, owner };
}

function isLoopbackHost(host: string): boolean {
  return /^(?:127(?:\.\d{1,3}){3}|\[::1\]):\d{1,5}$/.test(host);
}

function pinField(value: unknown): string {
  return pin.read(value, "pin");
}

function idField(value: string, what: string): string {
  if (/^[A-Za-z0-9_-]{1,1024}$/.test(value)) return value;
  throw new UsageError(`bad ${what}`);
}

const INTENT =
  /^(?:init|reset|erase|schedule-(?:init|reset|erase)|cancel:[A-Za-z0-9_-]{1,1024}|remove-passkey:[A-Za-z0-9_-]{1,1024})$/;

function intentField(value: unknown): string {
  if (typeof value === "string" && INTENT.test(value)) return value;
  throw new UsageError(
    "'intent' must name the operation: init, reset, erase, schedule-TYPE, cancel:ID or remove-passkey:ID",
  );
}

function assertionField(value: unknown): AuthenticationResponseJSON {
  const response = value as Partial<AuthenticationResponseJSON> | null;
  if (
    typeof response !== "object" ||
    response === null ||
    typeof response.id !== "string" ||
    !/^[A-Za-z0-9_-]{1,1024}$/.test(response.id) ||
    typeof response.response !== "object" ||
    response.response === null
  ) {
    throw new UsageError("'passkey' must be a WebAuthn assertion (from the browser)");
  }
  return response as AuthenticationResponseJSON;
}

function registrationField(value: unknown): RegistrationResponseJSON {
  const response = value as Partial<RegistrationResponseJSON> | null;
  if (
    typeof response !== "object" ||
    response === null ||
    typeof response.id !== "string" ||
    typeof response.response !== "object" ||
    response.response === null
  ) {
    throw new UsageError("'response' must be a WebAuthn registration (from the browser)");
  }
  return response as RegistrationResponseJSON;
}

function expiredChallenge(): AuthError {
  return new AuthError("challenge-expired", "the passkey challenge expired or was used: try again");
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 200);
}
