import { AuthError } from "../errors.js";
import { readFields } from "../http/schema.js";
import { BindKeys } from "./bind-keys.js";
import type { BindRequest } from "./messages.js";
import { MESSAGES, NONCE_BYTES } from "./messages.js";
import { agree, type Party, type Peer, peerOf, signWith, verifies } from "./parties.js";
import { hex, PROTOCOL, signedBytes } from "./wire.js";

export { NONCE_BYTES };

/**
 * The bind handshake (patent FIG. 3, steps 312-320), three messages, inside the pairing window
 * the device's owner opened (docs/spec.md §7.9):
 *  1. hello: the user sends a fresh nonce; the device answers its keys, a fresh challenge of its own,
 *     and its signature over both nonces and its keys: it proves it holds the key behind its handle.
 *  2. request: the user sends its Ed25519 and X25519 keys, signed over the device's challenge and
 *     handle (possession of the Ed25519 key), and a proof: a MAC over the whole transcript keyed by
 *     the X25519 secret between the two and the owner's setup code (the owner's consent, and
 *     possession of the X25519 key): a request captured for one device or one challenge is useless
 *     elsewhere, and only the device the user checked can test a code against it.
 *  3. result: the device stores the binding and answers a MAC under the same secret over the
 *     result, with the counter commands start from, so the user knows the very device it checked
 *     (whose hello signature covered its X25519 key) stored its keys.
 * The messages' fields are those of DEVICE_MESSAGES (messages.ts); a malformed one is a usage error
 * naming the message.
 * Specified in docs/spec.md §7.3, §7.4.
 */

export interface Hello {
  readonly v: number;
  readonly handle: string;
  readonly ed25519: string;
  readonly x25519: string;
  readonly challenge: string;
  readonly signature: string;
}

export interface BindResult {
  readonly v: number;
  readonly result: "bound";
  readonly device: string;
  readonly user: string;
  readonly counter: number;
  readonly bound: string;
  readonly mac: string;
}

export function hello(device: Party, nonce: Uint8Array, challenge: Uint8Array): Hello {
  const signature = signWith(device, helloBytes(nonce, challenge, device.ed25519, device.x25519));
  return {
    v: PROTOCOL,
    handle: device.handle,
    ed25519: hex(device.ed25519),
    x25519: hex(device.x25519),
    challenge: hex(challenge),
    signature: hex(signature),
  };
}

/**
 * The user's check of a hello: the handle is computed from the Ed25519 key sent and must be the one
 * expected, and the signature must cover our nonce. Returns the device and its challenge.
 */
export function checkHello(
  body: Record<string, unknown>,
  nonce: Uint8Array,
  expectHandle: string,
): { device: Peer; challenge: Uint8Array } {
  const fields = readFields(MESSAGES.hello.answer, body, { what: "hello" });
  const device = peerOf(bytesOf(fields.ed25519), bytesOf(fields.x25519));
  const challenge = bytesOf(fields.challenge);
  const signature = bytesOf(fields.signature);
  if (device.handle !== expectHandle) {
    throw new AuthError(
      "wrong-device",
      `the device's key has handle ${device.handle}, not the expected ${expectHandle}`,
    );
  }
  if (!verifies(device.verifier, helloBytes(nonce, challenge, device.ed25519, device.x25519), signature)) {
    throw new AuthError(
      "device-proof-failed",
      "the device did not prove possession of the key behind its handle",
    );
  }
  return { device, challenge };
}

/**
 * The user's request: `nonce` is the one its hello sent, `code` the setup code as setupCode()
 * normalized it (pairing.ts). Returns the keys the device's result is checked with too.
 */
export function bindRequest(
  user: Party,
  device: Peer,
  challenge: Uint8Array,
  nonce: Uint8Array,
  code: string,
): { message: BindRequest; keys: BindKeys } {
  const signature = signWith(user, requestBytes(challenge, device.handle, user.ed25519, user.x25519));
  const shared = agree(user, device.x25519);
  const keys = BindKeys.derive(shared, code, { nonce, challenge, device, user });
  shared.fill(0);
  const message = {
    v: PROTOCOL,
    challenge: hex(challenge),
    handle: user.handle,
    ed25519: hex(user.ed25519),
    x25519: hex(user.x25519),
    signature: hex(signature),
    proof: hex(keys.proof()),
  };
  return { message, keys };
}

/** The challenge a request answers, read before the rest so the device can look it up. */
export function requestChallenge(body: Record<string, unknown>): Uint8Array {
  const { challenge } = MESSAGES.bind.input;
  return bytesOf(readFields({ challenge }, body, { what: "bind request" }).challenge);
}

/**
 * The device's check of a request against the challenge it issued (and the nonce of the hello it
 * answered): the proof first, with `wrongCode` making the refusal (it spends a try of the window),
 * before the signature is checked or anything stored; then the handle and the signature. Returns
 * the user and the keys its result is made with.
 */
export function checkBindRequest(
  body: Record<string, unknown>,
  device: Party,
  opened: { readonly challenge: Uint8Array; readonly nonce: Uint8Array; readonly code: string },
  wrongCode: () => Error,
): { user: Peer; keys: BindKeys } {
  const { challenge, nonce, code } = opened;
  const fields = readFields(MESSAGES.bind.input, body, { what: "bind request" });
  const user = peerOf(bytesOf(fields.ed25519), bytesOf(fields.x25519));
  const shared = agree(device, user.x25519);
  const keys = BindKeys.derive(shared, code, { nonce, challenge, device, user });
  shared.fill(0);
  if (!keys.provesCode(bytesOf(fields.proof))) {
    keys.wipe();
    throw wrongCode();
  }
  const signed = requestBytes(challenge, device.handle, user.ed25519, user.x25519);
  const problem =
    user.handle !== fields.handle
      ? "the user's handle does not belong to its key"
      : !verifies(user.verifier, signed, bytesOf(fields.signature))
        ? "the user did not prove possession of its Ed25519 key"
        : null;
  if (problem) {
    keys.wipe();
    throw new AuthError("bad-proof", problem);
  }
  return { user, keys };
}

/** The device's result, MACed with the request's bind key: `counter` is where the user's commands start. */
export function bindResult(
  device: Party,
  user: Peer,
  keys: BindKeys,
  counter: number,
  bound: string,
): BindResult {
  return {
    v: PROTOCOL,
    result: "bound",
    device: device.handle,
    user: user.handle,
    counter,
    bound,
    mac: hex(keys.result(counter, bound)),
  };
}

/** The user's check of the result: MACed by the device it checked, for this request. */
export function checkBindResult(
  body: Record<string, unknown>,
  keys: BindKeys,
): { counter: number; bound: string } {
  const { counter, bound, mac } = readFields(MESSAGES.bind.answer, body, { what: "bind result" });
  if (!keys.confirmsResult(counter, bound, bytesOf(mac))) {
    throw new AuthError(
      "device-proof-failed",
      "the device's binding result is not the device's, for this request",
    );
  }
  return { counter, bound };
}

function helloBytes(nonce: Uint8Array, challenge: Uint8Array, ed: Uint8Array, x: Uint8Array): Uint8Array {
  return signedBytes("reid/v1/bind/hello", nonce, challenge, ed, x);
}

function requestBytes(challenge: Uint8Array, device: string, ed: Uint8Array, x: Uint8Array): Uint8Array {
  return signedBytes("reid/v1/bind/request", challenge, device, ed, x);
}

function bytesOf(text: string): Uint8Array {
  return Buffer.from(text, "hex");
}
