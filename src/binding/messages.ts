import { UsageError } from "../errors.js";
import { defineOperations } from "../http/operation.js";
import { custom, hex, list, literal, text, whole } from "../http/schema.js";
import { MAX_READINGS } from "./history.js";
import { PROTOCOL } from "./wire.js";

/**
 * A command from a bound user to a device: signed by the user's Ed25519 key over the device, the
 * user, a counter that only goes up and the time, so it cannot be forged, sent to another device,
 * replayed, or held back and delivered late. Telemetry requests are commands too (name "telemetry").
 * Specified in docs/spec.md §7.4, §7.5.
 */
export interface SignedCommand {
  readonly v: number;
  readonly device: string;
  readonly user: string;
  readonly counter: number;
  /** Milliseconds since the epoch, the user's clock. */
  readonly time: number;
  readonly name: string;
  readonly args: readonly string[];
  readonly signature: string;
}

/** A user's request to bind, answering the device's challenge (docs/spec.md §7.3). */
export interface BindRequest {
  readonly v: number;
  readonly challenge: string;
  readonly handle: string;
  readonly ed25519: string;
  readonly x25519: string;
  readonly signature: string;
  /** The MAC keyed by the X25519 secret and the owner's setup code (docs/spec.md §7.3, §7.9). */
  readonly proof: string;
}

/** Bytes of a hello's nonce and of a device's challenge. */
export const NONCE_BYTES = 32;
export const MAX_ARGS = 16;
export const MAX_ARG_LENGTH = 256;
/** No binding answer comes near this: a bigger one is not from a reid device. */
export const ANSWER_LIMIT = 256 * 1024;
/** A sealed reading's ciphertext: a 4 KiB reading plus JSON framing and the tag, in hex. */
const MAX_READING_HEX = 2 * (8192 + 16);
const NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * The protocol version, read before anything else of a message (docs/spec.md §7.2): a peer of
 * another version is told both versions, not the first field that changed between them.
 */
export const version = custom(String(PROTOCOL), (value, name) => {
  if (value === PROTOCOL) return PROTOCOL;
  if (!Number.isSafeInteger(value))
    throw new UsageError(`'${name}' must be ${PROTOCOL}, the binding protocol's version`);
  throw new UsageError(
    `a message of binding protocol v${value} reached reid speaking v${PROTOCOL}: update reid on the side that runs v${Math.min(Number(value), PROTOCOL)}`,
    "protocol-version",
  );
});

/** A handle: 16 bytes in lowercase hex. */
export const handle = text({
  max: 32,
  pattern: /^[0-9a-f]{32}$/,
  message: (name) => `'${name}' must be a handle (32 lowercase hex digits)`,
});

const key = hex(32);
const signature = hex(64);
const counter = whole();

export const commandName = custom(
  "lowercase letters, digits and '-', 1 to 32, a letter first",
  (value, name) => {
    if (typeof value !== "string") throw new UsageError(`'${name}' must be a string`);
    if (!NAME.test(value)) {
      throw new UsageError(
        `bad command name '${value.slice(0, 40)}': lowercase letters, digits and '-', at most 32`,
      );
    }
    return value;
  },
);

export const commandArgs = custom(
  `list of at most ${MAX_ARGS} strings of at most ${MAX_ARG_LENGTH} characters`,
  (value, name) => {
    if (!Array.isArray(value) || !value.every((arg): arg is string => typeof arg === "string")) {
      throw new UsageError(`'${name}' must be a list of strings`);
    }
    if (value.length > MAX_ARGS) throw new UsageError(`a command takes at most ${MAX_ARGS} arguments`);
    if (value.some((arg) => arg.length > MAX_ARG_LENGTH)) {
      throw new UsageError(`a command argument is at most ${MAX_ARG_LENGTH} characters`);
    }
    return value;
  },
);

/** A command from a bound user, telemetry requests included: every field signed by the user. */
const COMMAND = {
  v: version,
  device: handle,
  user: handle,
  counter,
  /** Milliseconds since the epoch, the user's clock. */
  time: whole(),
  name: commandName,
  args: commandArgs,
  signature,
};

/** A device's answer as it arrives: the user checks it before it uses anything in it. */
export type Unchecked = Record<string, unknown>;

/** The device role's endpoint as its users call it (binding/http.ts). */
export interface DeviceLink {
  hello(message: { readonly v: number; readonly nonce: string }): Promise<Unchecked>;
  bind(message: BindRequest): Promise<Unchecked>;
  command(message: SignedCommand): Promise<Unchecked>;
  telemetry(message: SignedCommand): Promise<Unchecked>;
}

/**
 * The binding protocol (patent FIG. 3) on the device's network endpoint: four JSON messages and
 * their answers. The endpoint's routes (endpoint.ts) and the user's client (http.ts) are made from
 * this table; the checks of each side (handshake.ts, command.ts, telemetry.ts) read the fields
 * through these schemas.
 * Specified in docs/spec.md §7.2, §7.3.
 */
export const DEVICE_MESSAGES = defineOperations<DeviceLink>()({
  // The largest binding message is under 1 KiB; anything near this is not one.
  limit: 16 * 1024,
  first: { v: version },
  operations: {
    hello: {
      summary:
        "The user's nonce; inside its owner's pairing window the device answers its keys and a challenge, signed.",
      method: "POST",
      path: "/v1/bind/hello",
      owner: false,
      what: "hello request",
      input: { v: version, nonce: hex(NONCE_BYTES) },
      answer: { v: version, handle, ed25519: key, x25519: key, challenge: hex(NONCE_BYTES), signature },
    },
    bind: {
      summary: "The user's keys, signed, with the setup code's proof; the device stores the binding.",
      method: "POST",
      path: "/v1/bind/request",
      owner: false,
      what: "bind request",
      input: {
        v: version,
        challenge: hex(NONCE_BYTES),
        handle,
        ed25519: key,
        x25519: key,
        signature,
        proof: hex(32),
      },
      answer: {
        v: version,
        result: literal("bound"),
        device: handle,
        user: handle,
        counter,
        bound: text({ max: 64 }),
        mac: hex(32),
      },
    },
    command: {
      summary: "A signed command from a bound user; the device answers a signed receipt.",
      method: "POST",
      path: "/v1/command",
      owner: false,
      what: "command",
      input: COMMAND,
      answer: {
        v: version,
        accepted: literal(true),
        device: handle,
        user: handle,
        counter,
        name: commandName,
        signature,
      },
    },
    telemetry: {
      summary: "A signed 'telemetry' command; the device answers readings sealed to the user (HPKE).",
      method: "POST",
      path: "/v1/telemetry",
      owner: false,
      what: "command",
      input: COMMAND,
      answer: {
        v: version,
        device: handle,
        user: handle,
        counter,
        enc: key,
        readings: list(text({ max: MAX_READING_HEX, pattern: /^(?:[0-9a-f]{2})+$/ }), {
          min: 1,
          max: MAX_READINGS,
          message: () => `'readings' must be 1 to ${MAX_READINGS} sealed readings in hex`,
        }),
      },
    },
  },
});

export const MESSAGES = DEVICE_MESSAGES.operations;
