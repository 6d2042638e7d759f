import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { AuthError } from "../errors.js";
import { readFields } from "../http/schema.js";
import type { BindRequest } from "./messages.js";
import { MESSAGES, NONCE_BYTES } from "./messages.js";
import { agree, type Party, type Peer, peerOf, signWith, verifies } from "./parties.js";
import { hex, PROTOCOL, signedBytes } from "./wire.js";

export { NONCE_BYTES };

/**
 * The bind handshake (patent FIG. 3, steps 312-320), three messages:
 *  1. hello: the user sends a fresh nonce; the device answers its keys, a fresh challenge of its own,
 *     and its signature over both nonces and its keys: it proves it holds the key behind its handle.
 *  2. request: the user sends its Ed25519 and X25519 keys, signed over the device's challenge and
 *     handle (possession of the Ed25519 key), a MAC keyed by X25519 between the two (possession
 *     of the X25519 key), and a MAC over the whole transcript keyed by that X25519 secret and the
 *     owner's setup code (the owner's consent): a request captured for one device or one challenge
 *     is useless elsewhere, and only the device the user checked can test a code against it.
 *  3. result: the device stores the binding and signs the result, with the counter commands start
 *     from, so the user knows the very device it checked stored its keys.
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
  readonly signature: string;
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
 * normalized it (pairing.ts).
 */
export function bindRequest(
  user: Party,
  device: Peer,
  challenge: Uint8Array,
  nonce: Uint8Array,
  code: string,
): BindRequest {
  const signature = signWith(user, requestBytes(challenge, device.handle, user.ed25519, user.x25519));
  const shared = agree(user, device.x25519);
  try {
    return {
      v: PROTOCOL,
      challenge: hex(challenge),
      handle: user.handle,
      ed25519: hex(user.ed25519),
      x25519: hex(user.x25519),
      signature: hex(signature),
      pop: hex(possession(shared, challenge, device.handle, user.ed25519, user.x25519)),
      proof: hex(codeProof(shared, code, { nonce, challenge, device, user })),
    };
  } finally {
    shared.fill(0);
  }
}

/** The challenge a request answers, read before the rest so the device can look it up. */
export function requestChallenge(body: Record<string, unknown>): Uint8Array {
  const { challenge } = MESSAGES.bind.input;
  return bytesOf(readFields({ challenge }, body, { what: "bind request" }).challenge);
}

/**
 * The device's check of a request against the challenge it issued (and the nonce of the hello it
 * answered): the code first, with `wrongCode` making the refusal (it spends a try of the window),
 * before any signature is checked or anything stored; then both proofs of possession, and the handle.
 */
export function checkBindRequest(
  body: Record<string, unknown>,
  device: Party,
  opened: { readonly challenge: Uint8Array; readonly nonce: Uint8Array; readonly code: string },
  wrongCode: () => Error,
): Peer {
  const { challenge, nonce, code } = opened;
  const fields = readFields(MESSAGES.bind.input, body, { what: "bind request" });
  const user = peerOf(bytesOf(fields.ed25519), bytesOf(fields.x25519));
  const shared = agree(device, user.x25519);
  try {
    const proof = codeProof(shared, code, { nonce, challenge, device, user });
    if (!timingSafeEqual(proof, bytesOf(fields.proof))) throw wrongCode();
    if (user.handle !== fields.handle)
      throw new AuthError("bad-proof", "the user's handle does not belong to its key");
    const signed = requestBytes(challenge, device.handle, user.ed25519, user.x25519);
    if (!verifies(user.verifier, signed, bytesOf(fields.signature))) {
      throw new AuthError("bad-proof", "the user did not prove possession of its Ed25519 key");
    }
    const pop = possession(shared, challenge, device.handle, user.ed25519, user.x25519);
    if (!timingSafeEqual(pop, bytesOf(fields.pop))) {
      throw new AuthError("bad-proof", "the user did not prove possession of its X25519 key");
    }
    return user;
  } finally {
    shared.fill(0);
  }
}

export function bindResult(
  device: Party,
  user: Peer,
  challenge: Uint8Array,
  counter: number,
  bound: string,
): BindResult {
  const signature = signWith(device, resultBytes(challenge, device.handle, user, counter, bound));
  return {
    v: PROTOCOL,
    result: "bound",
    device: device.handle,
    user: user.handle,
    counter,
    bound,
    signature: hex(signature),
  };
}

/** The user's check of the result: signed by the device it checked, for this request. */
export function checkBindResult(
  body: Record<string, unknown>,
  device: Peer,
  user: Party,
  challenge: Uint8Array,
): { counter: number; bound: string } {
  const { counter, bound, ...fields } = readFields(MESSAGES.bind.answer, body, { what: "bind result" });
  const signature = bytesOf(fields.signature);
  const self = { handle: user.handle, ed25519: user.ed25519, x25519: user.x25519 };
  if (!verifies(device.verifier, resultBytes(challenge, device.handle, self, counter, bound), signature)) {
    throw new AuthError("device-proof-failed", "the device's binding result is not signed by the device");
  }
  return { counter, bound };
}

function helloBytes(nonce: Uint8Array, challenge: Uint8Array, ed: Uint8Array, x: Uint8Array): Uint8Array {
  return signedBytes("reid/v1/bind/hello", nonce, challenge, ed, x);
}

function requestBytes(challenge: Uint8Array, device: string, ed: Uint8Array, x: Uint8Array): Uint8Array {
  return signedBytes("reid/v1/bind/request", challenge, device, ed, x);
}

function resultBytes(
  challenge: Uint8Array,
  device: string,
  user: Pick<Peer, "handle" | "ed25519" | "x25519">,
  counter: number,
  bound: string,
): Uint8Array {
  return signedBytes(
    "reid/v1/bind/result",
    challenge,
    device,
    user.handle,
    user.ed25519,
    user.x25519,
    String(counter),
    bound,
  );
}

/**
 * The X25519 proof: HMAC-SHA256 over the request, keyed by HKDF of the X25519 secret both sides can
 * compute (user: its private key and the device's public one; device: the other way round).
 */
function possession(
  shared: Uint8Array,
  challenge: Uint8Array,
  device: string,
  userEd: Uint8Array,
  userX: Uint8Array,
): Buffer {
  const key = Buffer.from(hkdfSync("sha256", shared, challenge, "reid/v1/bind/x25519-pop", 32));
  try {
    return createHmac("sha256", key)
      .update(signedBytes("reid/v1/bind/x25519-pop", challenge, device, userEd, userX))
      .digest();
  } finally {
    key.fill(0);
  }
}

/**
 * The owner's consent: HMAC-SHA256 over the whole transcript (the hello's nonce, the challenge, both
 * parties' handles and keys), keyed by HKDF of the X25519 secret and the setup code. The secret is
 * only the user's and the device's: an eavesdropper holds a MAC it cannot test a guessed code
 * against, and only the device the user checked by its handle can test one, once, online, spending
 * a try of its window (docs/spec.md §7.9).
 */
function codeProof(
  shared: Uint8Array,
  code: string,
  transcript: {
    readonly nonce: Uint8Array;
    readonly challenge: Uint8Array;
    readonly device: Pick<Peer, "handle" | "ed25519" | "x25519">;
    readonly user: Pick<Peer, "handle" | "ed25519" | "x25519">;
  },
): Buffer {
  const { nonce, challenge, device, user } = transcript;
  const secret = Buffer.concat([shared, Buffer.from(code, "utf8")]);
  const key = Buffer.from(hkdfSync("sha256", secret, challenge, "reid/v1/bind/code", 32));
  secret.fill(0);
  try {
    return createHmac("sha256", key)
      .update(
        signedBytes(
          "reid/v1/bind/code",
          nonce,
          challenge,
          device.handle,
          device.ed25519,
          device.x25519,
          user.handle,
          user.ed25519,
          user.x25519,
        ),
      )
      .digest();
  } finally {
    key.fill(0);
  }
}

function bytesOf(text: string): Uint8Array {
  return Buffer.from(text, "hex");
}
