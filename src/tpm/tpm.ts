import { setTimeout as sleep } from "node:timers/promises";
import {
  type CommandInput,
  type CommandOutput,
  type CommandSpec,
  handlesOf,
  malformedResponse,
  marshalCommand,
  type ResponseAuth,
  type ResponseParts,
  readParameters,
  responseCode,
  sessionFrame,
  splitResponse,
  unmarshalResponse,
} from "./command.js";
import { FlushContext } from "./commands/object.js";
import { Startup } from "./commands/startup.js";
import { TPM_HT, TPM_SU, TPMA_SESSION } from "./constants.js";
import { TpmIntegrityError, TpmResponseError } from "./errors.js";
import { handleName } from "./names.js";
import { RC_INITIALIZE, RC_NV_RATE, RETRYABLE } from "./response-code.js";
import { AUTHORIZATION_SIZE, type HmacSession, type Sealed } from "./session/hmac-session.js";
import { type SaltKind, startSession } from "./session/start.js";
import type { TpmTransport } from "./transport/transport.js";

const MAX_RETRIES = 50;
const NO_AUTH = new Uint8Array(0);

/**
 * How commands are authorized: `password` sends authValues in clear (TPM_RS_PW); `encrypted` runs
 * them through one salted HMAC session with parameter encryption (docs/spec.md §5.7).
 */
export type SessionMode = "password" | "encrypted";

export interface TpmOptions {
  readonly sessions?: SessionMode;
  /** The session's salt key: ECC P-256, RSA-2048 where the TPM has no ECC (default), or one of them. */
  readonly salt?: SaltKind;
}

/**
 * A TPM reached through one transport. Commands run one at a time in the order called (a TPM
 * interleaves nothing), warnings that mean "try again" are retried, and a TPM that was never
 * started gets TPM2_Startup(CLEAR) first, as a platform without firmware (swtpm) needs. With
 * encrypted sessions, the first command that authorizes or carries a secret starts the session,
 * which every such command then uses; a response that fails its check ends the connection.
 */
export class Tpm {
  private queue: Promise<unknown> = Promise.resolve();
  private started = false;
  private session: HmacSession | null = null;
  private broken: TpmIntegrityError | null = null;
  readonly sessions: SessionMode;

  constructor(
    readonly transport: TpmTransport,
    private readonly options: TpmOptions = {},
  ) {
    this.sessions = options.sessions ?? "password";
  }

  get description(): string {
    return this.transport.description;
  }

  run<C extends CommandSpec>(spec: C, input: CommandInput<C>): Promise<CommandOutput<C>> {
    const result = this.queue.then(() => this.execute(spec, input));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): Promise<void> {
    const closing = this.queue.then(async () => {
      const session = this.session;
      this.session = null;
      if (session) {
        session.dispose();
        // A TPM without a resource manager keeps a session until it is flushed.
        if (!this.broken)
          await this.plain(FlushContext, { flushHandle: session.handle }).catch(() => undefined);
      }
      await this.transport.close();
    });
    this.queue = closing.catch(() => undefined);
    return closing;
  }

  private async execute<C extends CommandSpec>(spec: C, input: CommandInput<C>): Promise<CommandOutput<C>> {
    if (this.broken) throw this.broken;
    const attributes = this.sessions === "encrypted" ? sessionAttributes(spec) : null;
    if (attributes === null) return this.plain(spec, input);
    this.session ??= await startSession((s, i) => this.plain(s, i), this.options.salt);
    return this.sealed(this.session, spec, input, attributes);
  }

  /** A command with password sessions (or none). */
  private async plain<C extends CommandSpec>(spec: C, input: CommandInput<C>): Promise<CommandOutput<C>> {
    const response = await this.exchange(spec, marshalCommand(spec, input));
    try {
      return unmarshalResponse(spec, response, handlesOf(spec, input));
    } finally {
      response.fill(0);
    }
  }

  /** A command on the session: sealed, sent, and its answer checked before anything in it is used. */
  private async sealed<C extends CommandSpec>(
    session: HmacSession,
    spec: C,
    input: CommandInput<C>,
    attributes: number,
  ): Promise<CommandOutput<C>> {
    const frame = sessionFrame(spec, input, AUTHORIZATION_SIZE);
    let response: Uint8Array | null = null;
    let sealed: Sealed | null = null;
    try {
      const names = frame.names.map((name, i) => name ?? nameOf(spec, frame.handles[i] as number));
      sealed = session.seal(
        spec.code,
        names,
        frame.parameters,
        frame.auths[0]?.password ?? NO_AUTH,
        attributes,
        frame.authorization,
      );
      response = await this.exchange(spec, frame.bytes);
      const rc = responseCode(response, spec.name);
      // Error answers carry no session (Part 1, 18.10): the session is as it was.
      if (rc !== 0) throw new TpmResponseError(spec.name, rc, frame.handles);
      let answer: ResponseParts;
      try {
        answer = splitResponse(spec, response, 1);
      } catch (error) {
        throw this.integrity(spec, `it carries no session's answer (${(error as Error).message})`);
      }
      const why = session.open(sealed, answer.parameters, answer.auths[0] as ResponseAuth);
      if (why !== null) throw this.integrity(spec, why);
      try {
        return readParameters(spec, answer);
      } catch (error) {
        throw malformedResponse(spec.name, error);
      }
    } finally {
      // The frame held the parameters before their encryption; the response, after its decryption.
      frame.bytes.fill(0);
      sealed?.key.dispose();
      response?.fill(0);
    }
  }

  /** Marks the connection broken: after a forged or changed answer nothing on it can be trusted. */
  private integrity(spec: CommandSpec, why: string): TpmIntegrityError {
    this.broken = new TpmIntegrityError(
      `${this.description}'s answer to ${spec.name} fails the session's integrity check: ${why}; it was changed on its way or is not the TPM's, and this connection is not used again`,
    );
    return this.broken;
  }

  /** Sends a command until the TPM takes it (warnings retried, Startup if needed); the last response. */
  private async exchange(spec: CommandSpec, command: Uint8Array): Promise<Uint8Array> {
    try {
      for (let attempt = 0; ; attempt++) {
        const response = await this.transport.send(command);
        const rc = responseCode(response, spec.name);
        if (rc === RC_INITIALIZE && !this.started && spec.code !== Startup.code) {
          this.started = true;
          await this.plain(Startup, { startupType: TPM_SU.CLEAR });
          continue;
        }
        if (RETRYABLE.has(rc) && attempt < MAX_RETRIES) {
          // NV_RATE: the TPM protects its NV from wear; it asks for a pause, not an instant retry.
          await sleep(rc === RC_NV_RATE ? 20 * (attempt + 1) : 1);
          continue;
        }
        return response;
      }
    } finally {
      // Commands carry passwords and NV data.
      command.fill(0);
    }
  }
}

/**
 * The session attributes a command gets on the encrypted path, or null for none: a command that
 * authorizes an entity, or whose first parameter either way is a sized buffer (the only kind a
 * session can encrypt, Part 1, 21.1), has the session; that parameter is encrypted.
 */
function sessionAttributes(spec: CommandSpec): number | null {
  let attributes = ATTRIBUTES.get(spec);
  if (attributes === undefined) {
    attributes = attributesOf(spec);
    ATTRIBUTES.set(spec, attributes);
  }
  return attributes;
}

/** Each command's attributes, worked out once (its spec never changes). */
const ATTRIBUTES = new WeakMap<CommandSpec, number | null>();

function attributesOf(spec: CommandSpec): number | null {
  if (spec.session === false) return null;
  const auths = spec.handles.filter((h) => h.auth).length;
  if (auths > 1) throw new Error(`${spec.name}: one session authorizes one handle`);
  const decrypt = Object.values(spec.parameters)[0]?.sized === true;
  const encrypt = Object.values(spec.response)[0]?.sized === true;
  if (auths === 0 && !decrypt && !encrypt) return null;
  return (
    TPMA_SESSION.continueSession | (decrypt ? TPMA_SESSION.decrypt : 0) | (encrypt ? TPMA_SESSION.encrypt : 0)
  );
}

/** A handle's name where the handle alone is its name; an index or object needs the caller's. */
function nameOf(spec: CommandSpec, handle: number): Uint8Array {
  const type = handle >>> 24;
  if (type === TPM_HT.NV_INDEX || type === TPM_HT.TRANSIENT || type === TPM_HT.PERSISTENT) {
    throw new Error(`${spec.name}: handle 0x${handle.toString(16)} needs its name for a session`);
  }
  return handleName(handle);
}
