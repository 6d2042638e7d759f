import { request } from "node:https";
import { AuthError, ExitCode, ReidError, StateError } from "../errors.js";
import { base64Body, derOfBody, PKCS10 } from "../http/est-wire.js";

/**
 * The element's side of EST (RFC 7030): the few requests `reid enroll` makes, over HTTPS to a
 * registry it either trusts already (`ca`, a PEM CA) or is about to pin (`ca` null: only the CA
 * certificates are fetched that way, and nothing secret is sent until the pin has matched).
 */
export interface EstTarget {
  /** https://HOST[:PORT]; the EST paths are under /.well-known/est/. */
  readonly origin: URL;
  readonly ca: string | null;
  /**
   * The TLS client certificate (PEM) and its private key (PKCS#8 PEM) that authorise a renewal;
   * the caller zeroes the key once the request is done.
   */
  readonly client?: { readonly certificate: string; readonly key: Buffer };
}

/** An EST answer bigger than this is not a certificate chain: refused, not buffered. */
const MAX_ANSWER = 256 * 1024;
const TIMEOUT_MS = 15_000;

export class RegistryUnreachableError extends ReidError {
  constructor(message: string) {
    super("registry-unreachable", ExitCode.unreachable, message);
  }
}

export class RegistryProtocolError extends ReidError {
  constructor(message: string) {
    super("registry-protocol", ExitCode.internal, message);
  }
}

export interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: Buffer;
  /** The answer's `Reid-Log-Index` header (§10.12), when it carries one. */
  readonly logIndex?: string;
}

/** An issued certificate's answer: the PKCS#7 DER, and where the log put its event (null: not said). */
export interface Issued {
  readonly der: Uint8Array;
  readonly logIndex: string | null;
}

/**
 * One HTTPS request to the registry (`path` under its origin), trusting `target.ca` or, for a
 * pin's first look, nothing: the answer read up to `maxAnswer` bytes. The operator's `--url`
 * sends its API requests, and delivery its statements, through here too.
 */
export function exchange(
  target: EstTarget,
  method: string,
  path: string,
  headers: Readonly<Record<string, string>> = {},
  body?: string | Uint8Array,
  options: { readonly maxAnswer?: number; readonly timeoutMs?: number } = {},
): Promise<Answer> {
  const maxAnswer = options.maxAnswer ?? MAX_ANSWER;
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  const url = new URL(path, target.origin);
  const limit = `${maxAnswer / 1024} KiB`;
  const where = target.origin.host;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { "content-length": Buffer.byteLength(body) }) },
        ...(target.ca === null ? { rejectUnauthorized: false } : { ca: target.ca }),
        ...(target.client ? { cert: target.client.certificate, key: target.client.key } : {}),
        minVersion: "TLSv1.2",
        timeout: timeoutMs,
        agent: false,
      },
      (incoming) => {
        const declared = Number(incoming.headers["content-length"] ?? 0);
        if (declared > maxAnswer) {
          incoming.destroy();
          reject(new RegistryProtocolError(`the registry at ${where} declared an answer over ${limit}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxAnswer) {
            incoming.destroy();
            reject(new RegistryProtocolError(`the registry at ${where} sent an answer over ${limit}`));
            return;
          }
          chunks.push(chunk);
        });
        const logIndex = incoming.headers["reid-log-index"];
        incoming.on("end", () =>
          resolve({
            status: incoming.statusCode ?? 0,
            type: String(incoming.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks),
            ...(typeof logIndex === "string" ? { logIndex } : {}),
          }),
        );
        incoming.on("error", (error) => reject(unreachable(where, error)));
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    outgoing.on("error", (error) => reject(unreachable(where, error)));
    outgoing.end(body);
  });
}

const TLS_TRUST_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);

/** A request that failed, as the user's error: a TLS certificate the pin refuses, or no registry there. */
export function unreachable(where: string, error: unknown): ReidError {
  if (error instanceof ReidError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && TLS_TRUST_CODES.has(code)) {
    return new AuthError(
      "registry-untrusted",
      `the registry at ${where} is not the one pinned: its TLS certificate does not verify (${code})`,
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new RegistryUnreachableError(`cannot reach the registry at ${where}: ${reason}`);
}

/** The registry's one line of refusal, as the user is shown it (": MESSAGE", or nothing). */
function saidBy(answer: Answer): string {
  const said = answer.body.toString("utf8").split("\n")[0]?.slice(0, 200).trim() ?? "";
  return said === "" ? "" : `: ${said}`;
}

/** What a refusal of an enrollment with a token means to the user: a spent token is not a broken registry. */
function refusal(answer: Answer, where: string): ReidError {
  const because = saidBy(answer);
  if (answer.status === 401) {
    return new AuthError("token-refused", `the registry at ${where} refused the enrollment token${because}`);
  }
  if (answer.status === 403)
    return new AuthError("registry-refused", `the registry at ${where} refused${because}`);
  if (answer.status === 409)
    return new StateError("already-enrolled", `the registry at ${where} refused${because}`);
  return new RegistryProtocolError(`the registry at ${where} answered HTTP ${answer.status}${because}`);
}

/**
 * What a refusal of a listed enrollment (no token, docs/spec.md §10.7) means: no token was sent,
 * so none was refused. 401: the registry lists no such device; 403: it lists the handle with
 * another key; 409: the identity is certified already and this request is not its lost answer's
 * (renewed since, revoked, enrolled with a token), which the registry's line says.
 */
function listedRefusal(answer: Answer, where: string): ReidError {
  const because = saidBy(answer);
  if (answer.status === 401) {
    return new AuthError(
      "not-listed",
      `the registry at ${where} does not list this element: a token-less enrollment needs its key imported by the registry's operator, or enroll with a token`,
    );
  }
  if (answer.status === 403) {
    return new AuthError(
      "registry-refused",
      `the registry at ${where} refused this element's key for a listed enrollment${because}`,
    );
  }
  if (answer.status === 409) {
    return new StateError(
      "already-enrolled",
      `the registry at ${where} refused the listed enrollment${because}`,
    );
  }
  return refusal(answer, where);
}

/**
 * What a refusal of a renewal means: the certificate refused outright (ended, or not one the
 * registry holds: 401), or no longer good for a renewal (revoked, superseded, the device no longer
 * active: 403; 409).
 */
function renewalRefusal(answer: Answer, where: string): ReidError {
  const because = saidBy(answer);
  if (answer.status === 401) {
    return new AuthError(
      "registry-refused",
      `the registry at ${where} refused the enrollment's certificate${because}`,
    );
  }
  if (answer.status === 403 || answer.status === 409) {
    return new StateError("renewal-refused", `the registry at ${where} refused to renew${because}`);
  }
  return new RegistryProtocolError(`the registry at ${where} answered HTTP ${answer.status}${because}`);
}

function pkcs7Answer(
  answer: Answer,
  where: string,
  what: string,
  refused: (answer: Answer, where: string) => ReidError = refusal,
): Uint8Array {
  if (answer.status !== 200) throw refused(answer, where);
  if (!answer.type.toLowerCase().startsWith("application/pkcs7-mime")) {
    throw new RegistryProtocolError(
      `the registry at ${where} answered ${what} as '${answer.type}', not application/pkcs7-mime`,
    );
  }
  const der = derOfBody(answer.body.toString("latin1"));
  if (der === null)
    throw new RegistryProtocolError(`the registry at ${where} answered ${what} that is not base64`);
  return der;
}

/** GET /cacerts: the registry's CA certificates, as PKCS#7 certs-only DER. */
export async function fetchCaCertificates(target: EstTarget): Promise<Uint8Array> {
  const where = target.origin.host;
  return pkcs7Answer(await exchange(target, "GET", "/.well-known/est/cacerts"), where, "its CA certificates");
}

/**
 * POST /simpleenroll with a CSR (DER) and the single-use token as HTTP Basic's password: the
 * issued certificate (PKCS#7 certs-only DER) and its log index. Only to a trusted target: the token must never
 * reach a registry the pin did not match. Without a token (null), no credentials: the request of a
 * device an import listed, which its key alone certifies (docs/spec.md §10.7).
 */
export async function simpleEnroll(
  target: EstTarget,
  request: Uint8Array,
  token: string | null,
): Promise<Issued> {
  if (target.ca === null) throw new Error("simpleEnroll needs a trusted registry");
  const where = target.origin.host;
  const answer = await exchange(
    target,
    "POST",
    "/.well-known/est/simpleenroll",
    {
      "content-type": PKCS10,
      "content-transfer-encoding": "base64",
      ...(token === null
        ? {}
        : { authorization: `Basic ${Buffer.from(`reid:${token}`).toString("base64")}` }),
    },
    base64Body(request),
  );
  return {
    der: pkcs7Answer(answer, where, "its certificate", token === null ? listedRefusal : refusal),
    logIndex: answer.logIndex ?? null,
  };
}

/**
 * POST /simplereenroll with a CSR (DER) of the enrolled key, authorised by the TLS client
 * certificate in `target.client` (the enrollment's current one): the new certificate (PKCS#7
 * certs-only DER) and its log index.
 */
export async function simpleReenroll(target: EstTarget, request: Uint8Array): Promise<Issued> {
  if (target.ca === null || !target.client)
    throw new Error("simpleReenroll needs a trusted registry and a client certificate");
  const where = target.origin.host;
  const answer = await exchange(
    target,
    "POST",
    "/.well-known/est/simplereenroll",
    { "content-type": PKCS10, "content-transfer-encoding": "base64" },
    base64Body(request),
  );
  return {
    der: pkcs7Answer(answer, where, "its certificate", renewalRefusal),
    logIndex: answer.logIndex ?? null,
  };
}
