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
}

export function defineCommand<
  const H extends readonly HandleSpec[],
  const P extends Fields,
  const RH extends readonly string[],
  const R extends Fields,
>(spec: CommandSpec<H, P, RH, R>): CommandSpec<H, P, RH, R> {
  return spec;
}

/** An authorized handle: the entity and the password of a TPM_RS_PW session for it. */
export interface Authorized {
  readonly handle: number;
  readonly password: Uint8Array;
}

export function password(handle: number, value: Uint8Array = new Uint8Array(0)): Authorized {
  return { handle, password: value };
}

type HandleInputs<H extends readonly HandleSpec[]> = {
  [S in H[number] as S["name"]]: S["auth"] extends true ? Authorized : number;
};

export type CommandInput<C> =
  C extends CommandSpec<infer H, infer P, infer _RH, infer _R> ? HandleInputs<H> & StructOf<P> : never;

export type CommandOutput<C> =
  C extends CommandSpec<infer _H, infer _P, infer RH, infer R>
    ? { [K in RH[number]]: number } & StructOf<R>
    : never;

/** tag (2), size (4), command or response code (4). */
export const HEADER_SIZE = 10;

/** The command's bytes: header, handles, authorization area (password sessions), parameters. */
export function marshalCommand<C extends CommandSpec>(spec: C, input: CommandInput<C>): Uint8Array {
  const values = input as Record<string, unknown>;
  const sessions = spec.handles.filter((h) => h.auth).map((h) => values[h.name] as Authorized);
  const w = new TpmWriter();
  w.u16(sessions.length > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS);
  w.u32(0);
  w.u32(spec.code);
  for (const h of spec.handles) {
    const value = values[h.name];
    w.u32(h.auth ? (value as Authorized).handle : (value as number));
  }
  if (sessions.length > 0) {
    const at = w.length;
    w.u32(0);
    for (const session of sessions) {
      w.u32(TPM_RH.RS_PW);
      w.u16(0); // nonceCaller: empty for a password session
      w.u8(TPMA_SESSION.continueSession);
      w.u16(session.password.length);
      w.raw(session.password);
    }
    w.patchU32(at, w.length - at - 4);
  }
  for (const [key, codec] of Object.entries(spec.parameters)) codec.write(w, values[key]);
  w.patchU32(2, w.length);
  return w.finish();
}

/** The handles a command names, in order, for error messages that can say which entity failed. */
export function handlesOf<C extends CommandSpec>(spec: C, input: CommandInput<C>): number[] {
  const values = input as Record<string, unknown>;
  return spec.handles.map((h) => {
    const value = values[h.name];
    return h.auth ? (value as Authorized).handle : (value as number);
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
    throw malformed(command, error);
  }
}

/**
 * Parses a successful response: tag, size, code, response handles, then (with sessions) the
 * parameter size, the parameters, and one authorization per session; every byte must be used.
 */
export function unmarshalResponse<C extends CommandSpec>(
  spec: C,
  bytes: Uint8Array,
  handles: readonly number[] = [],
): CommandOutput<C> {
  const rc = responseCode(bytes, spec.name);
  if (rc !== 0) throw new TpmResponseError(spec.name, rc, handles);
  const sessions = spec.handles.filter((h) => h.auth).length;
  const r = new TpmReader(bytes);
  try {
    const tag = r.u16("tag");
    const expected = sessions > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS;
    if (tag !== expected)
      throw new MarshalError(`tag 0x${tag.toString(16)} where 0x${expected.toString(16)} belongs`);
    r.u32("responseSize");
    r.u32("responseCode");
    const out: Record<string, unknown> = {};
    for (const name of spec.responseHandles) out[name] = r.u32(name);
    const params = sessions > 0 ? r.sub(r.u32("parameterSize"), "parameters") : r;
    for (const [key, codec] of Object.entries(spec.response)) out[key] = codec.read(params);
    if (sessions > 0) {
      params.end("the parameters");
      for (let i = 0; i < sessions; i++) {
        r.raw(r.u16("nonceTPM.size"), "nonceTPM");
        r.u8("sessionAttributes");
        r.raw(r.u16("hmac.size"), "hmac");
      }
    }
    r.end("the response");
    return out as CommandOutput<C>;
  } catch (error) {
    throw malformed(spec.name, error);
  }
}

function malformed(command: string, error: unknown): Error {
  if (!(error instanceof MarshalError)) return error as Error;
  return new TpmTransportError(`malformed response to ${command}: ${error.message}`, "tpm-malformed");
}
