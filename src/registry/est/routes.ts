import "reflect-metadata";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import * as x509 from "@peculiar/x509";
import { type Context, Hono } from "hono";
import { AuthError, ReidError, UsageError } from "../../errors.js";
import { bodyLimit, TooLarge } from "../../http/body.js";
import { base64Body, certsOnlyDer, derOfBody, PKCS7_CERTS_ONLY, serialHex } from "../../http/est-wire.js";
import { shorten } from "../../http/schema.js";
import { toWire } from "../../http/wire.js";
import { operatorHandlers } from "../api/handlers.js";
import { operatorRoutes } from "../api/routes.js";
import type { Certifier } from "../certify/certifier.js";
import { threadCertifier } from "../certify/pool.js";
import type { CrlCache } from "../crl.js";
import { handleMismatch, requestedSubject } from "../csr.js";
import type { Signer } from "../issue.js";
import type { IdentityLog } from "../log/identity-log.js";
import { logRoutes } from "../log/routes.js";
import { operatorPage } from "../page/page.js";
import { certificateNotCurrent, deviceNotActive, tokenRefused } from "../registry-errors.js";
import type { RegistryStore } from "../store/store.js";
import { successionRoutes } from "../succession-routes.js";
import { hashToken } from "../tokens.js";
import { listedReplay } from "./listed-replay.js";

/**
 * The registry's HTTPS surface (docs/spec.md §10.7): EST (RFC 7030) under /.well-known/est/ with
 * the RFC's content types and base64 bodies, so stock EST clients and curl enroll, and the CRL.
 * Every refusal is one line of text with the status a client of EST expects.
 */
export interface RegistryRoutesOptions {
  readonly store: RegistryStore;
  /**
   * What the operator's reads (the fleet, a report, the events) are answered from: a replica of
   * `store`'s database (§10.7), else `store`. Every route that writes reads `store` alone, so no
   * answer to a write is followed by a read of a replica that has not replayed it.
   */
  readonly reads?: RegistryStore;
  readonly signer: Signer;
  /** Checks requests and issues certificates (another thread's, from registry serve); else this one. */
  readonly certifier?: Certifier;
  readonly crl: CrlCache;
  /** Where issued certificates say the CRL is. */
  readonly crlUrl: string;
  readonly now?: () => Date;
  /** Told of failures that are reid's own (internal errors), never of refusals. */
  readonly report?: (message: string) => void;
  /** The origins a device's succession or retirement may name (§10.9); none: those are refused. */
  readonly origins?: readonly string[];
  /** The identity log whose API is served under /v1/log/ (§10.12); none: not served. */
  readonly log?: IdentityLog;
}

/** A CSR is a few hundred bytes; 16 KiB leaves room for any sane one and holds nothing big. */
export const MAX_BODY_BYTES = 16 * 1024;
const EST = "/.well-known/est";
export const REALM = 'Basic realm="reid registry"';
/** The header of an enrollment's or renewal's answer that holds its event's leaf index. */
export const LOG_INDEX_HEADER = "Reid-Log-Index";

/** The HTTP status of each refusal; the others take their exit code's (§3.3). */
const STATUS: Readonly<Record<string, number>> = {
  "no-credentials": 401,
  "token-refused": 401,
  "bad-client-certificate": 401,
  "handle-mismatch": 403,
  "certificate-not-current": 403,
  "device-not-active": 403,
  "device-exists": 409,
  "too-large": 413,
  "bad-content-type": 415,
};

export function registryRoutes(options: RegistryRoutesOptions): Hono {
  const { store, signer } = options;
  const certifier = options.certifier ?? threadCertifier(signer);
  const now = options.now ?? (() => new Date());
  const app = new Hono();
  answerErrors(app, options.report ?? (() => {}));

  app.get(`${EST}/cacerts`, (c) => certsOnly(c, [new Uint8Array(signer.certificate.rawData)]));
  // No attributes are asked of a CSR beyond what §10.7 checks: RFC 7030 §4.5.2's 204.
  app.get(`${EST}/csrattrs`, (c) => c.body(null, 204));

  app.post(`${EST}/simpleenroll`, bodyLimit(MAX_BODY_BYTES), async (c) => {
    // No credentials: only a device an import listed enrolls so, by proving its listed key (§10.6).
    if (c.req.header("authorization") === undefined) return listedEnrollment(c, options, certifier, now());
    const tokenHash = hashToken(basicPassword(c));
    const at = now();
    // Looked at first so a guesser gets 401 whatever it sends; spent only by the enrollment itself.
    const token = await store.token(tokenHash);
    if (!token || token.usedAt !== null || token.expiresAt <= at.toISOString()) throw tokenRefused();
    const { request, certificate } = await certifier.certify(await requestBody(c), {
      crlUrl: options.crlUrl,
      now: at,
    });
    const enrollment = {
      handle: request.handle,
      publicKey: request.publicKey,
      certificate,
      at: at.toISOString(),
    };
    const event = await store.enroll({ ...enrollment, tokenHash }).catch(async (error: unknown) => {
      // A listed device that was given a token anyway: its listed key is what certifies it, and
      // the token stays unspent (the refusal took it back).
      if (!(error instanceof ReidError && error.code === "device-exists")) throw error;
      const known = await store.device(request.handle);
      if (known?.status !== "listed" || !sameBytes(known.publicKey, request.publicKey)) throw error;
      return store.enroll({ ...enrollment, listed: true });
    });
    return certsOnly(c, [certificate.der], event.leaf);
  });

  app.post(`${EST}/simplereenroll`, bodyLimit(MAX_BODY_BYTES), async (c) => {
    const current = await clientCertificate(c, store);
    const device = await store.device(current.handle);
    if (device?.status !== "active") throw deviceNotActive(current.handle, device?.status ?? "gone");
    const at = now();
    // Issued before it is compared: a certificate refused here is never stored nor answered.
    const { request, certificate } = await certifier.certify(await requestBody(c), {
      crlUrl: options.crlUrl,
      now: at,
    });
    if (request.handle !== device.handle || !sameBytes(request.publicKey, device.publicKey)) {
      throw handleMismatch("a renewal keeps the device's handle and key: this request changes them");
    }
    const event = await store.renew({
      handle: device.handle,
      certificate,
      previous: current.serial,
      at: at.toISOString(),
    });
    return certsOnly(c, [certificate.der], event.leaf);
  });

  successionRoutes(app, { store, certifier, crlUrl: options.crlUrl, origins: options.origins ?? [], now });
  app.get("/crl", async (c) =>
    c.body(Buffer.from(await options.crl.der(now())), 200, { "content-type": "application/pkix-crl" }),
  );
  if (options.log) app.route("/", logRoutes(options.log, options.report));
  const handlers = operatorHandlers(store, now, options.reads);
  app.route("/", operatorRoutes({ store, handlers, report: options.report }));
  // The page's sign-in checks the token where it is kept; its events start where the reads are.
  const reads = options.reads ?? store;
  const pageStore = {
    isOperatorToken: (hash: Uint8Array) => store.isOperatorToken(hash),
    lastEventSequence: () => reads.lastEventSequence(),
  };
  app.route(
    "/",
    operatorPage({ store: pageStore, handlers, origins: options.origins ?? [], report: options.report }),
  );
  return app;
}

/**
 * An enrollment without a token (docs/spec.md §10.6): the CSR names a device an import listed, and
 * is signed by exactly the key listed for it, which possession certifies. The device is looked up
 * first, so a request for any other handle costs no signature: an unknown handle is refused as a
 * missing token is (401), a listed one asked with another key is `handle-mismatch`, and one that is
 * no longer listed gets its first answer again if the request proves its listed key, else
 * `device-exists` (listed-replay.ts).
 */
async function listedEnrollment(
  c: Context,
  options: RegistryRoutesOptions,
  certifier: Certifier,
  at: Date,
): Promise<Response> {
  const { store } = options;
  const der = await requestBody(c);
  const subject = requestedSubject(der);
  const device = subject === null ? null : await store.device(subject.handle);
  if (!device || !subject) {
    throw new AuthError(
      "no-credentials",
      "enrollment needs HTTP Basic credentials (any user name, the token as password), or a key the registry lists",
    );
  }
  // Certified already: its first answer again, to the listed key's holder only (listed-replay.ts).
  if (device.status !== "listed") {
    const answer = await listedReplay(store, device, subject.publicKey, der);
    return certsOnly(c, [answer.der], answer.leaf);
  }
  const mismatch = () =>
    handleMismatch(`the request's key is not the key listed for device ${device.handle}`);
  if (!sameBytes(subject.publicKey, device.publicKey)) throw mismatch();
  const { request, certificate } = await certifier.certify(der, { crlUrl: options.crlUrl, now: at });
  if (request.handle !== device.handle || !sameBytes(request.publicKey, device.publicKey)) throw mismatch();
  const event = await store
    .enroll({
      handle: device.handle,
      publicKey: device.publicKey,
      certificate,
      listed: true,
      at: at.toISOString(),
    })
    .catch(async (error: unknown) => {
      // Another request of the same key won meanwhile (a retry that overtook its own first try):
      // its answer, not a refusal, once this one's holder has proven the key as that one did.
      const now =
        error instanceof ReidError && error.code === "device-exists" && (await store.device(device.handle));
      if (!now) throw error;
      return listedReplay(store, now, request.publicKey, der);
    });
  return certsOnly(c, ["der" in event ? event.der : certificate.der], event.leaf);
}

/**
 * RFC 7030 §4.1.3, §4.2.3: a certs-only PKCS#7 in base64, lines of 64 characters; an issue's answer
 * names its event's index in the identity log (docs/spec.md §10.12).
 */
function certsOnly(c: Context, certificates: readonly Uint8Array[], logIndex?: number): Response {
  return c.body(base64Body(certsOnlyDer(certificates)), 200, {
    "content-type": PKCS7_CERTS_ONLY,
    "content-transfer-encoding": "base64",
    ...(logIndex === undefined ? {} : { [LOG_INDEX_HEADER]: String(logIndex) }),
  });
}

/** The password of HTTP Basic (any user name): the enrollment token. */
function basicPassword(c: Context): string {
  const header = c.req.header("authorization") ?? "";
  const match = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  const decoded = match ? Buffer.from(match[1] as string, "base64").toString("utf8") : "";
  const colon = decoded.indexOf(":");
  if (colon < 0) {
    throw new AuthError(
      "no-credentials",
      "enrollment needs HTTP Basic credentials: any user name, the token as password",
    );
  }
  return decoded.slice(colon + 1);
}

/** A base64 DER body sent as application/pkcs10 (RFC 7030 §4.2.1); line breaks are allowed. */
async function requestBody(c: Context): Promise<Uint8Array> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/pkcs10\s*(?:;.*)?$/i.test(type)) {
    throw new UsageError(
      `the body must be a base64 PKCS#10 request sent as application/pkcs10, not '${shorten(type, 64)}'`,
      "bad-content-type",
    );
  }
  const der = derOfBody(await c.req.text());
  if (der === null) throw new UsageError("the body is not base64", "bad-csr");
  return der;
}

interface ClientCertificate {
  readonly serial: string;
  readonly handle: string;
}

/**
 * The TLS client certificate that authorises a renewal: verified by the TLS stack against the
 * registry's CA, and the very certificate the registry issued and holds as `valid`.
 */
async function clientCertificate(c: Context, store: RegistryStore): Promise<ClientCertificate> {
  const socket = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket as
    | TLSSocket
    | undefined;
  const peer = socket?.getPeerCertificate?.();
  if (!socket || !peer?.raw) {
    throw new AuthError(
      "no-credentials",
      "renewal needs the device's current certificate as TLS client certificate",
    );
  }
  const presented = new Uint8Array(peer.raw);
  const serial = serialHex(new x509.X509Certificate(presented).serialNumber);
  const known = socket.authorized ? await store.certificate(serial) : null;
  if (!known || !sameBytes(known.der, presented)) {
    throw new AuthError(
      "bad-client-certificate",
      "the client certificate is not one this registry issued, or has ended",
    );
  }
  if (known.status !== "valid") throw certificateNotCurrent(known.handle, serial);
  return { serial, handle: known.handle };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Every failure as one line of text, with the refusal's status and, for a 401, the realm. */
function answerErrors(app: Hono, report: (message: string) => void): void {
  app.onError((error, c) => {
    const { status, body } = toWire(error);
    const code = error instanceof ReidError ? error.code : "internal";
    if (code === "internal") report(body.error.message);
    const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
    if (STATUS[code] === 401) headers["www-authenticate"] = REALM;
    // A body too large even to read to its end leaves the rest on the connection: it closes.
    if (error instanceof TooLarge && error.closing) headers.connection = "close";
    return c.body(`${body.error.message}\n`, (STATUS[code] ?? status) as 400, headers);
  });
  app.notFound((c) =>
    c.body(`no such endpoint: ${c.req.method.slice(0, 16)} ${shorten(c.req.path, 128)}\n`, 404, {
      "content-type": "text/plain; charset=utf-8",
    }),
  );
}
