import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { Context, Hono } from "hono";
import { spkiKey } from "../derive/public-key.js";
import { verifyWith } from "../derive/signature.js";
import {
  namesItsKey,
  parseStatement,
  rawKeys,
  type Statement,
  verifySuccession,
} from "../derive/succession-statement.js";
import { AuthError, ReidError, StateError, UsageError } from "../errors.js";
import { peerOf } from "../http/address.js";
import { bodyLimit, objectBody } from "../http/body.js";
import { toWire } from "../http/wire.js";
import type { Certifier } from "./certify/certifier.js";
import { handleMismatch } from "./csr.js";
import { deviceNotActive, unknownDevice } from "./registry-errors.js";
import type { Device, RegistryEvent, RegistryStore } from "./store/store.js";

/**
 * A device's own word on its identity (docs/spec.md §10.9): `POST /v1/succession` links a reset
 * identity to the one before it, `POST /v1/retirement` revokes one that is gone. No bearer token:
 * the old identity's signature is the authorisation, so a device acts on its own record only.
 * Answers and refusals are one line of JSON.
 */
export interface SuccessionRoutesOptions {
  readonly store: RegistryStore;
  readonly certifier: Certifier;
  readonly crlUrl: string;
  /** The origins statements may name: this registry's hosts at the port it serves. */
  readonly origins: readonly string[];
  readonly now: () => Date;
}

/** A statement, two signatures and a CSR are under 2 KiB; 16 KiB as for EST. */
const MAX_BODY_BYTES = 16 * 1024;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** The HTTP status of each refusal here (the replay's 409 carries the certificate too). */
const STATUS: Readonly<Record<string, number>> = {
  usage: 400,
  "bad-statement": 400,
  "bad-csr": 400,
  "wrong-registry": 403,
  "bad-signature": 403,
  "handle-mismatch": 403,
  "unknown-device": 404,
  "device-not-active": 409,
  "device-exists": 409,
  "already-succeeded": 409,
  "too-large": 413,
};

export function successionRoutes(app: Hono, options: SuccessionRoutesOptions): void {
  app.post("/v1/succession", bodyLimit(MAX_BODY_BYTES), (c) => answered(c, () => succession(c, options)));
  app.post("/v1/retirement", bodyLimit(MAX_BODY_BYTES), (c) => answered(c, () => retirement(c, options)));
}

async function succession(c: Context, options: SuccessionRoutesOptions): Promise<Response> {
  const { store } = options;
  const body = await fields(c, ["statement", "signature", "countersignature", "csr"]);
  const { statement, bytes } = statementOf(body, "succession", options.origins);
  if (statement.type !== "succession") throw new Error("unreachable");
  const predecessor = await knownDevice(store, statement.predecessor);
  const key = spkiKey(predecessor.publicKey);
  if (!key) throw badSignature(`device ${predecessor.handle}'s key cannot verify a statement`);
  const verified = verifySuccession(
    bytes,
    statement,
    { signature: bytesOf(body, "signature"), countersignature: bytesOf(body, "countersignature") },
    key,
  );
  if (!verified.signature) throw badSignature(`the signature is not device ${predecessor.handle}'s`);
  if (!verified.countersignature) throw badSignature("the countersignature is not the new key's");
  const csr = Buffer.from(body.csr ?? "", "base64");
  const at = options.now();
  // Issued with the check: a certificate refused below is never stored nor answered.
  const { request, certificate } = await options.certifier.certify(new Uint8Array(csr), {
    crlUrl: options.crlUrl,
    now: at,
  });
  const statementKey = Buffer.from(rawKeys(statement)[key.algorithm]);
  if (request.algorithm !== key.algorithm || !statementKey.equals(request.keyBits)) {
    throw handleMismatch(`the CSR's key is not the statement's new ${key.algorithm} key`);
  }
  const incoming = request.publicKey;
  if (request.handle !== statement.handle || !namesItsKey(statement)) {
    throw handleMismatch(
      `the new handle ${statement.handle} is not the handle of the statement's keys and CSR`,
    );
  }
  if (predecessor.status !== "active") {
    return (
      (await replay(c, store, predecessor, statement.handle, incoming)) ??
      fork(c, options, predecessor, statement.handle)
    );
  }
  let event: RegistryEvent;
  try {
    event = await store.succeed({
      predecessor: predecessor.handle,
      handle: statement.handle,
      publicKey: incoming,
      certificate,
      at: at.toISOString(),
      evidence: {
        statement: body.statement ?? "",
        signature: body.signature ?? "",
        countersignature: body.countersignature ?? "",
      },
    });
  } catch (error) {
    // Another successor committed between the read above and this transaction: a fork after all.
    if (error instanceof ReidError && error.code === "device-not-active") {
      return fork(c, options, predecessor, statement.handle);
    }
    throw error;
  }
  return c.json({ certificate: pemOf(certificate.der), serial: certificate.serial, logIndex: event.leaf });
}

async function retirement(c: Context, options: SuccessionRoutesOptions): Promise<Response> {
  const { store } = options;
  const body = await fields(c, ["statement", "signature"]);
  const { statement, bytes } = statementOf(body, "retirement", options.origins);
  const device = await knownDevice(store, statement.handle);
  const key = spkiKey(device.publicKey);
  if (!key || !verifyWith(key.algorithm, key.key, bytes, bytesOf(body, "signature"))) {
    throw badSignature(`the signature is not device ${device.handle}'s`);
  }
  const at = options.now().toISOString();
  // No link to anything new: the device's record ends here, as an operator's revocation would.
  const event = await store.revoke({ handle: device.handle, reason: "cessationOfOperation", at });
  return c.json({
    handle: device.handle,
    serial: device.certificateSerial,
    revokedAt: at,
    sequence: event.sequence,
    logIndex: event.leaf,
  });
}

/** An exact replay of the succession that happened: the successor's current certificate, so a lost answer is found. */
async function replay(
  c: Context,
  store: RegistryStore,
  predecessor: Device,
  handle: string,
  publicKey: Uint8Array,
): Promise<Response | null> {
  if (predecessor.status !== "superseded" || predecessor.successor !== handle) return null;
  const successor = await store.device(handle);
  if (!successor || !Buffer.from(successor.publicKey).equals(Buffer.from(publicKey))) return null;
  if (!successor.certificateSerial) return null;
  const [current, event] = await Promise.all([
    store.certificate(successor.certificateSerial),
    store.succession(handle),
  ]);
  if (!current) return null;
  const { body } = toWire(
    new StateError("already-succeeded", `device ${predecessor.handle} is already succeeded by ${handle}`),
  );
  // The original answer's leaf, so an element whose answer was lost checks the log as it would have.
  const logIndex = event === null ? {} : { logIndex: event.leaf };
  return c.json({ ...body, certificate: pemOf(current.der), serial: current.serial, ...logIndex }, 409);
}

/**
 * A second successor of an identity that is no longer active: refused, and flagged on the
 * predecessor with where the statement came from (a second holder of the old key, or a clone).
 */
async function fork(
  c: Context,
  options: SuccessionRoutesOptions,
  predecessor: Device,
  handle: string,
): Promise<never> {
  await options.store.flag({
    type: "fork-refused",
    handle: predecessor.handle,
    data: { successor: handle, status: predecessor.status, source: peerOf(c) },
    at: options.now().toISOString(),
  });
  throw deviceNotActive(predecessor.handle, predecessor.status);
}

async function fields(c: Context, allowed: readonly string[]): Promise<Partial<Record<string, string>>> {
  let body: Record<string, unknown>;
  try {
    body = await objectBody(c, allowed);
  } catch (error) {
    if (error instanceof ReidError && error.code === "usage") throw badStatement(error.message);
    throw error;
  }
  for (const name of allowed) {
    if (
      typeof body[name] !== "string" ||
      !(name === "csr" ? /^[A-Za-z0-9+/]+={0,2}$/ : B64URL).test(body[name])
    ) {
      throw badStatement(`the body needs '${name}' in ${name === "csr" ? "base64" : "base64url"}`);
    }
  }
  return body as Partial<Record<string, string>>;
}

function bytesOf(body: Partial<Record<string, string>>, name: string): Uint8Array {
  return new Uint8Array(Buffer.from(body[name] ?? "", "base64url"));
}

function statementOf(
  body: Partial<Record<string, string>>,
  type: Statement["type"],
  origins: readonly string[],
): { statement: Statement; bytes: Uint8Array } {
  const bytes = bytesOf(body, "statement");
  const statement = parseStatement(bytes);
  if (statement.type !== type) throw badStatement(`the statement is a ${statement.type}, not a ${type}`);
  if (!origins.includes(statement.registry)) {
    throw new AuthError(
      "wrong-registry",
      `the statement is for the registry at ${statement.registry}, not this one`,
    );
  }
  return { statement, bytes };
}

async function knownDevice(store: RegistryStore, handle: string): Promise<Device> {
  const device = await store.device(handle);
  if (!device) throw unknownDevice(handle);
  return device;
}

function badStatement(message: string): ReidError {
  return new UsageError(message, "bad-statement");
}

function badSignature(message: string): ReidError {
  return new AuthError("bad-signature", message);
}

function pemOf(der: Uint8Array): string {
  return x509.PemConverter.encode(der.slice().buffer, "CERTIFICATE");
}

/** A refusal as one line of JSON with its status; failures that are reid's own go to the app's handler (500). */
async function answered(c: Context, handle: () => Promise<Response>): Promise<Response> {
  try {
    return await handle();
  } catch (error) {
    const code = error instanceof ReidError ? error.code : null;
    const status = code === null ? undefined : STATUS[code];
    if (status === undefined) throw error;
    return c.json(toWire(error).body, status as 400);
  }
}
