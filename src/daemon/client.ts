import { Agent, request as httpRequest } from "node:http";
import type { Credentials } from "../auth/actor.js";
import type { ElementApi, ElementEvent } from "../element/api.js";
import type { Feed } from "../element/events.js";
import { UnreachableError } from "../errors.js";
import { clientOf, type Transport } from "../http/call.js";
import { readEvents } from "../http/event-stream.js";
import { fromWire } from "../http/wire.js";
import { ELEMENT_OPERATIONS } from "./operations.js";

/** Every call is a few milliseconds of work; argon2id checks take a tenth of a second. */
const ANSWER_TIMEOUT_MS = 30_000;

const ElementClient = clientOf<ElementApi>()(ELEMENT_OPERATIONS);

/**
 * The element as the daemon that owns its store serves it: the same operations as
 * ElementService, over the daemon's Unix socket, one method per operation of ELEMENT_OPERATIONS.
 */
export class RemoteElement extends ElementClient implements ElementApi {
  private readonly agent: Agent;

  constructor(
    readonly socket: string,
    /** Sent with every owner operation; the daemon checks it where the owner must be authenticated. */
    credentials: Credentials = {},
    answerTimeoutMs = ANSWER_TIMEOUT_MS,
  ) {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    super({ transport: overSocket(socket, agent, answerTimeoutMs), credentials });
    this.agent = agent;
  }

  /**
   * The daemon's event stream: each subscription is one GET of it, on its own connection. `until`
   * is aborted when the stream ends from the daemon's side (it stopped, or it refused the stream).
   */
  events(): Feed<ElementEvent> {
    const { path } = ELEMENT_OPERATIONS.operations.events;
    const names: readonly string[] = ELEMENT_OPERATIONS.operations.events.output.events;
    const ended = new AbortController();
    return {
      name: (event) => ("event" in event ? "binding" : "request"),
      until: ended.signal,
      subscribe: (listener) => {
        const request = httpRequest({ socketPath: this.socket, path, method: "GET" }, (response) => {
          response.once("end", () => ended.abort());
          if (response.statusCode !== 200) {
            response.resume();
            return;
          }
          readEvents(response, ({ event, data }) => {
            if (event !== undefined && event !== "ready" && names.includes(event) && data) {
              listener(JSON.parse(data) as ElementEvent);
            }
          });
        });
        request.on("error", () => ended.abort());
        request.end();
        return () => request.destroy();
      },
    };
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** Requests over the daemon's Unix socket: JSON answers, failures as the error the element raised. */
function overSocket(socket: string, agent: Agent, answerTimeoutMs: number): Transport {
  return (exchange) =>
    new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          socketPath: socket,
          path: exchange.path,
          method: exchange.method,
          agent,
          headers: {
            ...exchange.headers,
            ...(exchange.body ? { "content-length": exchange.body.length } : {}),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
            } catch {
              parsed = null;
            }
            const status = response.statusCode ?? 500;
            if (status >= 200 && status < 300 && parsed !== null) resolve(parsed);
            else reject(fromWire(parsed, status));
          });
          response.on("error", (error) => reject(unreachable(socket, error)));
        },
      );
      request.on("error", (error) => reject(unreachable(socket, error)));
      // A daemon that accepts but never answers (stopped, wedged) must not hang the CLI for ever.
      request.setTimeout(answerTimeoutMs, () =>
        request.destroy(new Error(`no answer within ${answerTimeoutMs / 1000} s`)),
      );
      request.end(exchange.body);
    });
}

function unreachable(socket: string, error: Error): UnreachableError {
  return new UnreachableError("daemon-unreachable", `lost the daemon at ${socket}: ${error.message}`);
}
