import { Agent, request as httpRequest } from "node:http";
import type { AuditRecord, AuditVerdict } from "../audit/audit-log.js";
import type { Credentials } from "../auth/actor.js";
import type { SigningAlgorithm } from "../derive/signature.js";
import type { ElementApi, PublicKeys } from "../element/api.js";
import type { ElementStatus } from "../element/control-unit.js";
import type { Notification, RequestType } from "../element/request.js";
import type { ScheduledRequest } from "../element/schedule.js";
import { ExitCode, ReidError } from "../errors.js";
import type { FactoryKind } from "../factory/factory-source.js";
import { pinHeader } from "../http/credentials.js";
import { fromWire } from "../http/wire.js";
import type { ElementMode } from "../storage/record.js";

/**
 * The element as the daemon that owns its store serves it: the same operations as
 * ElementService, over the daemon's Unix socket.
 */
export class RemoteElement implements ElementApi {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });

  constructor(
    readonly socket: string,
    /** Sent with every call; the daemon checks it where the owner must be authenticated. */
    private readonly credentials: Credentials = {},
    private readonly answerTimeoutMs = ANSWER_TIMEOUT_MS,
  ) {}

  status(): Promise<ElementStatus> {
    return this.call("GET", "/v1/status");
  }

  submit(type: RequestType, format?: string): Promise<Notification> {
    return this.call("POST", "/v1/requests", format === undefined ? { type } : { type, format });
  }

  initFactory(factory: FactoryKind, format?: string): Promise<Notification> {
    const body = { type: "init", factory, ...(format === undefined ? {} : { format }) };
    return this.call("POST", "/v1/requests", body);
  }

  switchMode(mode: ElementMode): Promise<Notification> {
    return this.call("POST", "/v1/mode", { mode });
  }

  schedule(type: RequestType, format: string | undefined, at: string) {
    return this.call<ScheduledRequest>(
      "POST",
      "/v1/schedule",
      format === undefined ? { type, at } : { type, format, at },
    );
  }

  cancelScheduled(id: string) {
    return this.call<ScheduledRequest>("DELETE", `/v1/schedule/${encodeURIComponent(id)}`);
  }

  setSingleType(on: boolean): Promise<ElementStatus> {
    return this.call("PUT", "/v1/config", { singleType: on });
  }

  seal(): Promise<ElementStatus> {
    return this.call("POST", "/v1/seal");
  }

  keys(): Promise<PublicKeys> {
    return this.call("GET", "/v1/keys");
  }

  async certificate(algorithm: SigningAlgorithm, days: number): Promise<string> {
    return (await this.call<{ certificate: string }>("POST", "/v1/certificate", { algorithm, days }))
      .certificate;
  }

  async certificationRequest(algorithm: SigningAlgorithm, subject?: string): Promise<string> {
    const body = subject === undefined ? { algorithm } : { algorithm, subject };
    return (await this.call<{ request: string }>("POST", "/v1/csr", body)).request;
  }

  async sign(algorithm: SigningAlgorithm, message: Uint8Array) {
    const reply = await this.call<{ signature: string; handle: string }>(
      "POST",
      `/v1/sign?algorithm=${algorithm}`,
      message,
    );
    return { signature: Buffer.from(reply.signature, "hex"), handle: reply.handle };
  }

  verify(algorithm: SigningAlgorithm, message: Uint8Array, signature: Uint8Array) {
    const hex = Buffer.from(signature).toString("hex");
    return this.call<{ valid: boolean; handle: string }>(
      "POST",
      `/v1/verify?algorithm=${algorithm}&signature=${hex}`,
      message,
    );
  }

  async exportWrapped(wrapKey: Uint8Array) {
    const reply = await this.call<{ wrapped: string; generation: number; handle: string }>(
      "POST",
      "/v1/export",
      {
        wrapKey: Buffer.from(wrapKey).toString("hex"),
      },
    );
    return { ...reply, wrapped: Buffer.from(reply.wrapped, "hex") };
  }

  setPin(newPin: string) {
    return this.call<{ recoveryCode: string | null }>("POST", "/v1/pin", { newPin });
  }

  unlockPin(recoveryCode: string) {
    return this.call<{ recoveryCode: string }>("POST", "/v1/pin/unlock", { recoveryCode });
  }

  auditLog() {
    return this.call<{ records: AuditRecord[]; verdict: AuditVerdict }>("GET", "/v1/log");
  }

  async binding() {
    const { RemoteBinding } = await import("../binding/client.js");
    return new RemoteBinding((method, path, body) => this.call(method, path, body));
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private call<T>(method: string, path: string, body?: object | Uint8Array): Promise<T> {
    const payload =
      body === undefined ? undefined : body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body));
    const type = body instanceof Uint8Array ? "application/octet-stream" : "application/json";
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          socketPath: this.socket,
          path,
          method,
          agent: this.agent,
          headers: {
            ...(payload ? { "content-type": type, "content-length": payload.length } : {}),
            ...(this.credentials.pin === undefined ? {} : { authorization: pinHeader(this.credentials.pin) }),
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
            if (status >= 200 && status < 300 && parsed !== null) resolve(parsed as T);
            else reject(fromWire(parsed, status));
          });
          response.on("error", (error) => reject(unreachable(this.socket, error)));
        },
      );
      request.on("error", (error) => reject(unreachable(this.socket, error)));
      // A daemon that accepts but never answers (stopped, wedged) must not hang the CLI for ever.
      request.setTimeout(this.answerTimeoutMs, () =>
        request.destroy(new Error(`no answer within ${this.answerTimeoutMs / 1000} s`)),
      );
      request.end(payload);
    });
  }
}

/** Every call is a few milliseconds of work; argon2id checks take a tenth of a second. */
const ANSWER_TIMEOUT_MS = 30_000;

function unreachable(socket: string, error: Error): ReidError {
  return new ReidError(
    "daemon-unreachable",
    ExitCode.internal,
    `lost the daemon at ${socket}: ${error.message}`,
  );
}
