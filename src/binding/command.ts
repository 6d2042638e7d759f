import type { KeyObject } from "node:crypto";
import { AuthError } from "../errors.js";
import { readFields } from "../http/schema.js";
import type { SignedCommand } from "./messages.js";
import { commandArgs, commandName, MESSAGES } from "./messages.js";
import { type Party, signWith, verifies } from "./parties.js";
import { hex, PROTOCOL, signedBytes } from "./wire.js";

/** The device's signed answer to a command: the user knows the bound device carried it out. */
export interface Receipt {
  readonly v: number;
  readonly accepted: true;
  readonly device: string;
  readonly user: string;
  readonly counter: number;
  readonly name: string;
  readonly signature: string;
}

/** How far a command's time may be from the device's clock, either way. */
export const FRESHNESS_MS = 120_000;

/** The shape the device will check (messages.ts), checked before a counter is spent on a command. */
export function checkCommandShape(name: string, args: readonly string[]): void {
  commandName.read(name, "name");
  commandArgs.read(args, "args");
}

export function signCommand(
  user: Party,
  fields: Omit<SignedCommand, "v" | "user" | "signature">,
): SignedCommand {
  const unsigned = { v: PROTOCOL, ...fields, user: user.handle };
  return { ...unsigned, signature: hex(signWith(user, commandBytes(unsigned))) };
}

/** A command as the device received it, checked for shape only (who sent it comes next). */
export function parseCommand(body: Record<string, unknown>): SignedCommand & { signatureBytes: Uint8Array } {
  const command = readFields(MESSAGES.command.input, body, { what: "command" });
  // The schema took hex of either case; kept as lowercase, as it is written.
  const signature = command.signature.toLowerCase();
  return Object.assign(command, { signature, signatureBytes: Buffer.from(signature, "hex") });
}

/**
 * The device's verdict on a command from a bound user (found by the command's user handle): every
 * refusal is an authentication failure (exit 4) with its own code, so the user learns why.
 */
export function checkCommand(
  command: SignedCommand & { signatureBytes: Uint8Array },
  deviceHandle: string,
  binding: { readonly verifier: KeyObject; readonly counter: number },
  now: number,
): void {
  if (command.device !== deviceHandle) {
    throw new AuthError(
      "wrong-device",
      `the command is for device ${command.device}, not this one (${deviceHandle})`,
    );
  }
  if (!verifies(binding.verifier, commandBytes(command), command.signatureBytes)) {
    throw new AuthError(
      "bad-signature",
      "the command's signature does not verify against the bound user's key",
    );
  }
  if (command.counter <= binding.counter) {
    throw new AuthError(
      "replayed",
      `the command's counter ${command.counter} is not above the last accepted (${binding.counter}): a replay`,
    );
  }
  if (Math.abs(now - command.time) > FRESHNESS_MS) {
    throw new AuthError(
      "stale",
      `the command's time is ${Math.round((now - command.time) / 1000)} s from the device's clock (at most ${FRESHNESS_MS / 1000} s)`,
    );
  }
}

export function receipt(device: Party, command: SignedCommand): Receipt {
  const unsigned = {
    v: PROTOCOL,
    accepted: true as const,
    device: device.handle,
    user: command.user,
    counter: command.counter,
    name: command.name,
  };
  return { ...unsigned, signature: hex(signWith(device, receiptBytes(unsigned))) };
}

/** The user's check: the receipt is the bound device's, for this very command. */
export function checkReceipt(body: Record<string, unknown>, device: KeyObject, command: SignedCommand): void {
  const expected = {
    device: command.device,
    user: command.user,
    counter: command.counter,
    name: command.name,
  };
  let signature: Uint8Array;
  try {
    signature = Buffer.from(MESSAGES.command.answer.signature.read(body.signature, "signature"), "hex");
  } catch {
    throw new AuthError("device-proof-failed", "the device's receipt carries no signature");
  }
  if (body.accepted !== true || !verifies(device, receiptBytes(expected), signature)) {
    throw new AuthError(
      "device-proof-failed",
      "the receipt is not signed by the bound device for this command",
    );
  }
}

function commandBytes(c: Omit<SignedCommand, "signature" | "v">): Uint8Array {
  return signedBytes(
    "reid/v1/command",
    c.device,
    c.user,
    String(c.counter),
    String(c.time),
    c.name,
    JSON.stringify(c.args),
  );
}

function receiptBytes(r: { device: string; user: string; counter: number; name: string }): Uint8Array {
  return signedBytes("reid/v1/command/receipt", r.device, r.user, String(r.counter), r.name);
}
