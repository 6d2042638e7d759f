import type { Server } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from "node:https";
import type { Duplex } from "node:stream";
import { createAdaptorServer } from "@hono/node-server";
import { ExitCode, ReidError } from "../errors.js";
import { toWire } from "./wire.js";

/**
 * An HTTP server for `fetch` whose clients may not take their time, so that no connection is held
 * by saying nothing, or one byte at a time: headers within `headersMs`, the whole request within
 * `requestMs` (an event stream, once asked for, is an answer and runs on). Node checks these every
 * `connectionsCheckingInterval` (30 s by default, which alone let a silent client stay 40 s and
 * more); an idle kept-alive connection closes after Node's 5 s keepAliveTimeout.
 *
 * What Node refuses before any handler sees it (headers over 8 KiB, a timeout, bytes that are not
 * HTTP) answers like every other refusal, as docs/spec.md §6.3 says: the wire error, one line of
 * JSON, then the connection closes.
 */
export function limitedServer(
  /** `env`: the Node adapter's, with the request's connection (`incoming.socket`). */
  fetch: (request: Request, env?: object) => Response | Promise<Response>,
  limits: { readonly headersMs: number; readonly requestMs: number },
  /** HTTPS with these: the same limits, the TLS handshake within `headersMs` too. */
  tls?: HttpsOptions,
): Server {
  const server = createAdaptorServer({
    fetch,
    ...(tls ? { createServer: createHttpsServer } : {}),
    serverOptions: {
      ...(tls ? { ...tls, handshakeTimeout: limits.headersMs } : {}),
      headersTimeout: limits.headersMs,
      requestTimeout: limits.requestMs,
      connectionsCheckingInterval: 1000,
      maxHeaderSize: MAX_HEADER_BYTES,
    },
  }) as Server;
  server.on("clientError", answerClientError);
  return server;
}

const MAX_HEADER_BYTES = 8192;

function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === "ECONNRESET" || !socket.writable || answering?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, body } = toWire(refusalFor(error.code));
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} Bad Request\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`,
  );
}

/** Bad input like any other (exit 2, HTTP 400), so that a client rebuilds the error as it rebuilds the rest. */
function refusalFor(code: string | undefined): ReidError {
  if (code === "HPE_HEADER_OVERFLOW")
    return new ReidError("too-large", ExitCode.usage, `request headers over ${MAX_HEADER_BYTES} bytes`);
  if (code === "ERR_HTTP_REQUEST_TIMEOUT")
    return new ReidError("request-timeout", ExitCode.usage, "the request was not sent in time");
  return new ReidError("bad-http", ExitCode.usage, "not a well-formed HTTP/1.1 request");
}
