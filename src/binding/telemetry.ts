import { AuthError, UsageError } from "../errors.js";
import { readFields } from "../http/schema.js";
import { SUITE, suiteKeyPair, type X25519Pair } from "./hpke/suite.js";
import { MESSAGES } from "./messages.js";
import { hex, PROTOCOL } from "./wire.js";

/** The sealed readings as they travel. */
export interface SealedTelemetry {
  readonly v: number;
  readonly device: string;
  readonly user: string;
  readonly counter: number;
  readonly enc: string;
  readonly readings: readonly string[];
}

/**
 * The context binds both identities (info) and each reading to the request it answers (aad: the
 * request's counter), so an answer replayed for a later request does not open.
 */
export function telemetryInfo(device: string, user: string): Uint8Array {
  return Buffer.from(`reid/v1/telemetry\n${device}\n${user}`);
}

function requestAad(counter: number): Uint8Array {
  return Buffer.from(`reid/v1/telemetry/request\n${counter}`);
}

/**
 * Sealed telemetry: HPKE (RFC 9180) in Auth mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * AES-128-GCM. The device seals to the bound user's X25519 key *and* authenticates with its own
 * derived X25519 key, so opening proves which device sent the readings, not merely that they were
 * meant for us (the patent's "I could decrypt it" is no proof of the sender). One context per
 * answer; each reading is its own message in it, in order, so readings cannot be dropped from the
 * middle, reordered or moved into another answer unnoticed.
 * Specified in docs/spec.md §7.6.
 */
export async function sealTelemetry(
  device: { readonly handle: string; readonly x25519: X25519Pair },
  user: { readonly handle: string; readonly x25519: Uint8Array },
  counter: number,
  readings: readonly Uint8Array[],
): Promise<SealedTelemetry> {
  const sender = await SUITE.createSenderContext({
    recipientPublicKey: await SUITE.kem.deserializePublicKey(user.x25519),
    senderKey: await suiteKeyPair(device.x25519),
    info: telemetryInfo(device.handle, user.handle),
  });
  const aad = requestAad(counter);
  const sealed: string[] = [];
  for (const reading of readings) sealed.push(hex(new Uint8Array(await sender.seal(reading, aad))));
  return {
    v: PROTOCOL,
    device: device.handle,
    user: user.handle,
    counter,
    enc: hex(new Uint8Array(sender.enc)),
    readings: sealed,
  };
}

/**
 * Opens an answer with the user's X25519 key, authenticating the sender with the bound device's
 * X25519 key. Anything that does not open (tampered, replayed, from another device, for another
 * user) is an authentication failure.
 */
export async function openTelemetry(
  body: Record<string, unknown>,
  user: { readonly handle: string; readonly x25519: X25519Pair },
  device: { readonly handle: string; readonly x25519: Uint8Array },
  counter: number,
): Promise<Uint8Array[]> {
  const { enc, readings } = parseSealed(body);
  let recipient: Awaited<ReturnType<typeof SUITE.createRecipientContext>>;
  try {
    recipient = await SUITE.createRecipientContext({
      recipientKey: await suiteKeyPair(user.x25519),
      enc,
      senderPublicKey: await SUITE.kem.deserializePublicKey(device.x25519),
      info: telemetryInfo(device.handle, user.handle),
    });
  } catch {
    throw unopened();
  }
  const aad = requestAad(counter);
  const opened: Uint8Array[] = [];
  for (const reading of readings) {
    try {
      opened.push(new Uint8Array(await recipient.open(reading, aad)));
    } catch {
      throw unopened();
    }
  }
  return opened;
}

function parseSealed(body: Record<string, unknown>): { enc: Uint8Array; readings: Uint8Array[] } {
  try {
    const { enc, readings } = readFields(MESSAGES.telemetry.answer, body, { what: "telemetry" });
    return { enc: Buffer.from(enc, "hex"), readings: readings.map((r) => Buffer.from(r, "hex")) };
  } catch (error) {
    if (error instanceof UsageError) throw new AuthError("telemetry-unopened", error.message);
    throw error;
  }
}

function unopened(): AuthError {
  return new AuthError(
    "telemetry-unopened",
    "the telemetry does not open: not sealed by the bound device to this element for this request (tampered, replayed or forged)",
  );
}
