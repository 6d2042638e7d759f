import { TPM_RH, TPM_ST, TPMA_SESSION } from "./constants.js";
import { TpmResponseError, TpmTransportError } from "./errors.js";
import { MarshalError, TpmReader, TpmWriter } from "./marshal/buffer.js";
import type { Codec, StructOf } from "./marshal/codec.js";

// biome-ignore lint/suspicious/noExplicitAny: a field map holds codecs of any value type
type Fields = Readonly<Record<string, Codec<any>>>;

/** A handle in the command's handle area; `auth` ones also take a session in the authorization area. */
export interface HandleSpec {
  readonly name: string;
  readonly auth?: true;
}

/**
 * One TPM command as data, in the shape of the spec's command tables: its code, its handles (in
 * order, marking those that need authorization), its parameters, and the response's handles and
 * parameters. The engine below is the only code that turns these into bytes and back.
 */
export interface CommandSpec<
  H extends readonly HandleSpec[] = readonly HandleSpec[],
  P extends Fields = Fields,
  RH extends readonly string[] = readonly string[],
  R extends Fields = Fields,
> {
  readonly name: string;
  readonly code: number;
  readonly handles: H;
  readonly parameters: P;
  readonly responseHandles: RH;
  readonly response: R;
  /**
   * false: never sent with a session, even where sessions are on (the command that starts one;
   * those that cannot be authorized, or that learn a name a session's cpHash would need first).
   */
  readonly session?: false;
}

export function defineCommand<
  const H extends readonly HandleSpec[],
  const P extends Fields,
  const RH extends readonly string[],
  const R extends Fields,
>(spec: CommandSpec<H, P, RH, R>): CommandSpec<H, P, RH, R> {
  return spec;
}

/** A handle whose name is known, as a session's cpHash needs for NV indices and objects. */
export interface Named {
  readonly handle: number;
  readonly name: Uint8Array;
}

/** A handle without authorization: the bare number, or with its name. */
export type HandleValue = number | Named;

/**
 * An authorized handle: the entity, its authValue (sent as a password, or keying a session's HMAC)
 * and, for an NV index or object, its name.
 */
export interface Authorized {
  readonly handle: number;
  readonly password: Uint8Array;
  readonly name?: Uint8Array;
}

export function password(handle: number, value: Uint8Array = new Uint8Array(0)): Authorized {
  return { handle, password: value };
}

type HandleInputs<H extends readonly HandleSpec[]> = {
  [S in H[number] as S["name"]]: S["auth"] extends true ? Authorized : HandleValue;
};

export type CommandInput<C> =
  C extends CommandSpec<infer H, infer P, infer _RH, infer _R> ? HandleInputs<H> & StructOf<P> : never;

export type CommandOutput<C> =
  C extends CommandSpec<infer _H, infer _P, infer RH, infer R>
    ? { [K in RH[number]]: number } & StructOf<R>
    : never;

/** tag (2), size (4), command or response code (4). */
export const HEADER_SIZE = 10;

/** A command taken apart as a session needs it: handles with their names, auths, parameter bytes. */
export interface CommandParts {
  readonly handles: readonly number[];
  /** Each handle's name where the caller gave one (null: not given). */
  readonly names: readonly (Uint8Array | null)[];
  /** The authorizations, in the order of the handles that need them. */
  readonly auths: readonly Authorized[];
  readonly parameters: Uint8Array;
}

export function commandParts<C extends CommandSpec>(spec: C, input: CommandInput<C>): CommandParts {
  const w = new TpmWriter();
  writeParameters(w, spec, input);
  return { ...handleParts(spec, input), parameters: w.finish() };
}

/** The handles of a command, their names where given, and the authorizations. */
function handleParts<C extends CommandSpec>(
  spec: C,
  input: CommandInput<C>,
): Omit<CommandParts, "parameters"> {
  const values = input as Record<string, unknown>;
  const handles: number[] = [];
  const names: (Uint8Array | null)[] = [];
  const auths: Authorized[] = [];
  for (const h of spec.handles) {
    const value = values[h.name] as Authorized | HandleValue;
    if (h.auth) auths.push(value as Authorized);
    handles.push(typeof value === "number" ? value : value.handle);
    names.push(typeof value === "number" ? null : (value.name ?? null));
  }
  return { handles, names, auths };
}

function writeParameters<C extends CommandSpec>(w: TpmWriter, spec: C, input: CommandInput<C>): void {
  const values = input as Record<string, unknown>;
  for (const [key, codec] of Object.entries(spec.parameters)) codec.write(w, values[key]);
}

/**
 * A command framed for one session, in one buffer: header, handles, an authorization area of
 * `authorizationSize` zero bytes, parameters. The session encrypts the parameters in place and
 * writes its entry into `authorization` (both views into `bytes`), so the frame is never copied.
 */
export interface SessionFrame extends Omit<CommandParts, "parameters"> {
  readonly bytes: Uint8Array;
  readonly authorization: Uint8Array;
  readonly parameters: Uint8Array;
}

export function sessionFrame<C extends CommandSpec>(
  spec: C,
  input: CommandInput<C>,
  authorizationSize: number,
): SessionFrame {
  const parts = handleParts(spec, input);
  // Room for an NV area's write (the header, two handles, the session, 256 bytes and their size).
  const w = new TpmWriter(512);
  w.u16(TPM_ST.SESSIONS);
  w.u32(0);
  w.u32(spec.code);
  for (const handle of parts.handles) w.u32(handle);
  w.u32(authorizationSize);
  const authorizationAt = w.length;
  w.zeros(authorizationSize);
  const parametersAt = w.length;
  writeParameters(w, spec, input);
  w.patchU32(2, w.length);
  const bytes = w.finish();
  return {
    ...parts,
    bytes,
    authorization: bytes.subarray(authorizationAt, parametersAt),
    parameters: bytes.subarray(parametersAt),
  };
}

/** Header, handles, the authorization area (none: no sessions), parameters. */
export function frameCommand(
  spec: CommandSpec,
  handles: readonly number[],
  authorizations: Uint8Array | null,
  parameters: Uint8Array,
): Uint8Array {
  const w = new TpmWriter();
  w.u16(authorizations ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS);
  w.u32(0);
  w.u32(spec.code);
  for (const handle of handles) w.u32(handle);
  if (authorizations) {
    w.u32(authorizations.length);
    w.raw(authorizations);
  }
  w.raw(parameters);
  w.patchU32(2, w.length);
  return w.finish();
}

/** The command's bytes with a password session (TPM_RS_PW) for each handle that needs one. */
export function marshalCommand<C extends CommandSpec>(spec: C, input: CommandInput<C>): Uint8Array {
  const parts = commandParts(spec, input);
  let area: Uint8Array | null = null;
  if (parts.auths.length > 0) {
    const w = new TpmWriter();
    for (const auth of parts.auths) {
      w.u32(TPM_RH.RS_PW);
      w.u16(0); // nonceCaller: empty for a password session
      w.u8(TPMA_SESSION.continueSession);
      w.u16(auth.password.length);
      w.raw(auth.password);
    }
    area = w.finish();
  }
  try {
    return frameCommand(spec, parts.handles, area, parts.parameters);
  } finally {
    area?.fill(0);
    parts.parameters.fill(0);
  }
}

/** The handles a command names, in order, for error messages that can say which entity failed. */
export function handlesOf<C extends CommandSpec>(spec: C, input: CommandInput<C>): number[] {
  const values = input as Record<string, Authorized | HandleValue>;
  return spec.handles.map((h) => {
    const value = values[h.name] as Authorized | HandleValue;
    return typeof value === "number" ? value : value.handle;
  });
}

/** The response code of a response, or a transport error when the bytes are not a response. */
export function responseCode(bytes: Uint8Array, command: string): number {
  const r = new TpmReader(bytes);
  try {
    r.u16("tag");
    const size = r.u32("responseSize");
    if (size !== bytes.length) {
      throw new MarshalError(`responseSize says ${size} bytes, ${bytes.length} arrived`);
    }
    return r.u32("responseCode");
  } catch (error) {
    throw malformedResponse(command, error);
  }
}

/** One session's part of a response's authorization area. */
export interface ResponseAuth {
  readonly nonce: Uint8Array;
  readonly attributes: number;
  readonly hmac: Uint8Array;
}

/** A successful response taken apart: its handles, its parameter bytes, one auth per session. */
export interface ResponseParts {
  readonly handles: Readonly<Record<string, number>>;
  readonly parameters: Uint8Array;
  /** Where the parameters began in the response (for error messages). */
  readonly parametersAt: number;
  readonly auths: readonly ResponseAuth[];
}

/**
 * Splits a successful response: tag, size, code, response handles, then (with sessions) the
 * parameter size, the parameters, and one authorization per session; every byte must be used.
 * Throws a MarshalError on bytes of another shape.
 */
export function splitResponse(spec: CommandSpec, bytes: Uint8Array, sessions: number): ResponseParts {
  const r = new TpmReader(bytes);
  const tag = r.u16("tag");
  const expected = sessions > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS;
  if (tag !== expected)
    throw new MarshalError(`tag 0x${tag.toString(16)} where 0x${expected.toString(16)} belongs`);
  r.u32("responseSize");
  r.u32("responseCode");
  const handles: Record<string, number> = {};
  for (const name of spec.responseHandles) handles[name] = r.u32(name);
  const size = sessions > 0 ? r.u32("parameterSize") : r.remaining;
  const parametersAt = r.offset;
  // Views, not copies: callers zero the response once they have read what they keep.
  const parameters = r.inPlace(size, "parameters");
  const auths: ResponseAuth[] = [];
  for (let i = 0; i < sessions; i++) {
    const nonce = r.inPlace(r.u16("nonceTPM.size"), "nonceTPM");
    const attributes = r.u8("sessionAttributes");
    auths.push({ nonce, attributes, hmac: r.inPlace(r.u16("hmac.size"), "hmac") });
  }
  r.end("the response");
  return { handles, parameters, parametersAt, auths };
}

/** The response's values from its parts: the parameters must be used exactly. */
export function readParameters<C extends CommandSpec>(spec: C, parts: ResponseParts): CommandOutput<C> {
  const out: Record<string, unknown> = { ...parts.handles };
  const r = new TpmReader(parts.parameters, parts.parametersAt);
  for (const [key, codec] of Object.entries(spec.response)) out[key] = codec.read(r);
  // Without sessions the parameters run to the response's end.
  r.end(parts.auths.length > 0 ? "the parameters" : "the response");
  return out as CommandOutput<C>;
}

/**
 * Parses a successful response to a command sent with password sessions. The values are copies;
 * the caller zeroes `bytes` when it carried secrets.
 */
export function unmarshalResponse<C extends CommandSpec>(
  spec: C,
  bytes: Uint8Array,
  handles: readonly number[] = [],
): CommandOutput<C> {
  const rc = responseCode(bytes, spec.name);
  if (rc !== 0) throw new TpmResponseError(spec.name, rc, handles);
  try {
    return readParameters(spec, splitResponse(spec, bytes, spec.handles.filter((h) => h.auth).length));
  } catch (error) {
    throw malformedResponse(spec.name, error);
  }
}

/** A MarshalError as the transport error it is (tpm-malformed); other errors as they are. */
export function malformedResponse(command: string, error: unknown): Error {
  if (!(error instanceof MarshalError)) return error as Error;
  return new TpmTransportError(`malformed response to ${command}: ${error.message}`, "tpm-malformed");
}
