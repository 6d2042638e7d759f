// Raw HTTPS requests to a served registry with node:https, trusting its CA: for tests that send
// more requests than spawning curl for each would allow (the fuzzer), or read a stream as it comes.

import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { Agent, request } from "node:https";

export interface RawRequest {
  readonly method: string;
  /** The path with its query, sent as it is. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export function registryAgent(ca: string, maxSockets = 8): Agent {
  return new Agent({ ca, keepAlive: true, maxSockets });
}

/** Sends one request and reads the whole answer; fails after `timeoutMs` (a hang is a failure). */
export function send(port: number, agent: Agent, sent: RawRequest, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: "127.0.0.1", port, method: sent.method, path: sent.path, headers: framed(sent), agent },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () =>
          resolve({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        incoming.on("error", reject);
      },
    );
    outgoing.setTimeout(timeoutMs, () =>
      outgoing.destroy(new Error(`no answer within ${timeoutMs} ms: ${sent.method} ${sent.path}`)),
    );
    outgoing.on("error", reject);
    outgoing.end(sent.body);
  });
}

/** Opens a request and hands back the answer as it starts (an event stream), and its request. */
export function open(
  port: number,
  agent: Agent,
  sent: RawRequest,
): Promise<{ incoming: IncomingMessage; destroy(): void }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: "127.0.0.1", port, method: sent.method, path: sent.path, headers: framed(sent), agent },
      (incoming) => resolve({ incoming, destroy: () => outgoing.destroy() }),
    );
    outgoing.on("error", reject);
    outgoing.end(sent.body);
  });
}

/**
 * The headers, with the body's length when there is one: node sends a GET's, HEAD's or DELETE's
 * body unframed otherwise, and the server would read it as the next request.
 */
function framed(sent: RawRequest): Record<string, string> {
  return { ...sent.headers, ...(sent.body ? { "content-length": String(sent.body.length) } : {}) };
}
