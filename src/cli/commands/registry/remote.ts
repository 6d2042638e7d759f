import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import type { Readable } from "node:stream";
import type { Answer, EstTarget } from "../../../enrollment/est-client.js";
import { type ReidError, UsageError } from "../../../errors.js";
import type { Transport } from "../../../http/call.js";
import { fromWire } from "../../../http/wire.js";
import { readTextSecret } from "../../key-file.js";
import { registryTrust } from "../../registry-trust.js";
import type { RegistryArguments } from "./action.js";

/** The options that name a running registry instead of a directory (docs/spec.md §10.6). */
export const REMOTE_OPTIONS = ["url", "ca", "ca-fingerprint", "token-file"] as const;

/** `registry init` writes 32 random bytes in base64url. */
const OPERATOR_TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** A page of 1,000 events with succession evidence is a few MiB at most. */
const MAX_API_ANSWER = 16 * 2 ** 20;
/** A refusal instead of a stream is one line of JSON. */
const MAX_REFUSAL = 64 * 1024;
/** The server writes a keep-alive comment every 15 s: three missed, and the connection is dead. */
const STREAM_SILENCE_MS = 45_000;

/** Exactly one of --dir and --url: the registry is asked in one place. */
export function remoteUrl(args: RegistryArguments, action: string): string | undefined {
  const [dir, url] = [args.text("dir"), args.text("url")];
  if ((dir === undefined) === (url === undefined)) {
    throw new UsageError(`'reid registry ${action}' needs --dir DIR or --url URL (one of them)`);
  }
  if (url === undefined) {
    const stray = REMOTE_OPTIONS.find((option) => args.text(option) !== undefined);
    if (stray) throw new UsageError(`option '--${stray}' goes with --url, not --dir`);
  } else {
    const stray = ["db", "db-read"].find((option) => args.text(option) !== undefined);
    if (stray) throw new UsageError(`option '--${stray}' goes with --dir, not --url`);
  }
  return url;
}

export interface RemoteRegistry {
  /** The registry's origin, trusted as its pinned CA (every request verifies TLS against it). */
  readonly target: EstTarget;
  /** Requests to the operator's API with the bearer token, answers as JSON or the registry's error. */
  readonly transport: Transport;
  /** Opens an event stream of the operator's API with the bearer token. */
  readonly stream: StreamOpener;
}

/**
 * One GET of a text/event-stream path: its body once the registry answers 200 with one, ended
 * by `signal`. Its refusals are the registry's errors; no connection, a connection silent for
 * 45 s or an HTTP 5xx (a registry starting or failing) are `registry-unreachable`.
 */
export type StreamOpener = (
  path: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal,
) => Promise<Readable>;

/**
 * The registry at --url, trusted as --ca or --ca-fingerprint says (asked for its CA first, as
 * `reid enroll` does: the token goes only to the pinned one), with the operator's token from
 * --token-file (a 0600 file: never argv or the environment) when `token` is asked for.
 */
export async function remoteRegistry(
  url: string,
  args: RegistryArguments,
  token: boolean,
): Promise<RemoteRegistry> {
  const [{ registryOrigin, trustedCa }, { exchange, unreachable }] = await Promise.all([
    import("../../../enrollment/enroll.js"),
    import("../../../enrollment/est-client.js"),
  ]);
  const origin = registryOrigin(url);
  const trust = await registryTrust(args.text("ca"), args.text("ca-fingerprint"));
  const bearer = token ? operatorToken(args.text("token-file")) : null;
  const target: EstTarget = { origin, ca: (await trustedCa(origin, trust)).toString("pem") };
  const where = origin.host;
  const transport: Transport = async (sent) => {
    const headers = { ...sent.headers, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) };
    const answer = await exchange(target, sent.method, sent.path, headers, sent.body, {
      maxAnswer: MAX_API_ANSWER,
    });
    return apiAnswer(answer, where);
  };
  const stream: StreamOpener = (path, headers, signal) =>
    new Promise((resolve, reject) => {
      const outgoing = request(new URL(path, origin), {
        method: "GET",
        headers: {
          accept: "text/event-stream",
          ...headers,
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        ...(target.ca === null ? {} : { ca: target.ca }),
        minVersion: "TLSv1.2",
        agent: false,
        signal,
        timeout: STREAM_SILENCE_MS,
      });
      outgoing.on("response", (incoming) => {
        const type = String(incoming.headers["content-type"] ?? "");
        if (incoming.statusCode === 200 && type.startsWith("text/event-stream")) resolve(incoming);
        else void refusal(incoming, where).then(reject, reject);
      });
      outgoing.on("timeout", () =>
        outgoing.destroy(new Error(`nothing heard for ${STREAM_SILENCE_MS / 1000} s`)),
      );
      outgoing.on("error", (error) => reject(unreachable(where, error)));
      outgoing.end();
    });
  return { target, transport, stream };
}

/** What the registry answered instead of a stream, as the error it is (a 5xx: not serving now). */
async function refusal(incoming: IncomingMessage, where: string): Promise<ReidError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming) {
    size += (chunk as Buffer).length;
    if (size > MAX_REFUSAL) break;
    chunks.push(chunk as Buffer);
  }
  const status = incoming.statusCode ?? 0;
  const body = Buffer.concat(chunks);
  const { RegistryProtocolError, RegistryUnreachableError } = await import(
    "../../../enrollment/est-client.js"
  );
  if (status >= 500) {
    return new RegistryUnreachableError(`the registry at ${where} answered HTTP ${status}${said(body)}`);
  }
  try {
    await apiAnswer({ status, type: "", body }, where);
  } catch (error) {
    return error as ReidError;
  }
  return new RegistryProtocolError(`the registry at ${where} answered HTTP ${status}, not an event stream`);
}

function operatorToken(file: string | undefined): string {
  if (file === undefined) {
    throw new UsageError(
      "give the operator token with --token-file FILE (a 0600 file, as 'registry init' wrote it)",
    );
  }
  const token = readTextSecret(file, "the operator token file").trim();
  if (!OPERATOR_TOKEN.test(token)) {
    throw new UsageError(`${file} holds no operator token: 43 characters, as 'registry init' writes them`);
  }
  return token;
}

/** A success's JSON, or the error the registry answered (its code, exit and one line). */
async function apiAnswer(answer: Answer, where: string): Promise<unknown> {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(answer.body.toString("utf8"));
  } catch {
    // Below: not the API's answer.
  }
  if (answer.status >= 200 && answer.status < 300 && parsed !== null) return parsed;
  const error = (parsed as { error?: { code?: unknown } } | null)?.error;
  if (typeof error?.code === "string") throw fromWire(parsed, answer.status);
  const { RegistryProtocolError } = await import("../../../enrollment/est-client.js");
  throw new RegistryProtocolError(
    `the registry at ${where} answered HTTP ${answer.status}${said(answer.body)}`,
  );
}

/** `: ` and the first line of an answer that is not the API's, for the message; nothing if empty. */
function said(body: Buffer): string {
  const line = body.toString("utf8").split("\n")[0]?.slice(0, 200).trim() ?? "";
  return line ? `: ${line}` : "";
}
