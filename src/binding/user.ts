import { randomBytes } from "node:crypto";
import { AuthError, ExitCode, ReidError, UsageError } from "../errors.js";
import type { DeviceBinding } from "./bindings-file.js";
import { checkReceipt, signCommand } from "./command.js";
import { bindRequest, checkBindResult, checkHello } from "./handshake.js";
import { requestedCount } from "./history.js";
import { deviceAt } from "./http.js";
import type { Identity } from "./identity.js";
import type { SignedCommand } from "./messages.js";
import { NONCE_BYTES } from "./messages.js";
import { peerOf } from "./parties.js";
import { openTelemetry } from "./telemetry.js";
import { hex, PROTOCOL } from "./wire.js";

/**
 * The user role (patent FIG. 3, the user device): binds to a device after it proved the key behind
 * the expected handle, with the setup code its owner was shown, then signs commands to it. Counters are stored before a command leaves, so
 * one is never used twice, even if the answer is lost.
 */
export async function bindTo(
  identity: Identity,
  address: string,
  expectHandle: string,
  /** The setup code the device's owner was shown, as setupCode() normalized it. */
  code: string,
  now: Date,
): Promise<DeviceBinding> {
  const { party, file } = identity;
  const nonce = randomBytes(NONCE_BYTES);
  const device = deviceAt(address);
  const answer = await device.hello({ v: PROTOCOL, nonce: hex(nonce) });
  const { device: peer, challenge } = checkHello(answer, nonce, expectHandle);
  if (peer.handle === party.handle) throw new UsageError("an element cannot bind to itself");
  const { message, keys } = bindRequest(party, peer, challenge, nonce, code);
  let counter: number;
  try {
    ({ counter } = checkBindResult(await device.bind(message), keys));
  } finally {
    keys.wipe();
  }
  const binding: DeviceBinding = {
    handle: peer.handle,
    ed25519: hex(peer.ed25519),
    x25519: hex(peer.x25519),
    address,
    bound: now.toISOString(),
    counter,
  };
  const bindings = file.read();
  file.write({
    ...bindings,
    devices: [...bindings.devices.filter((d) => d.handle !== peer.handle), binding],
  });
  return binding;
}

/** The device bound at `address` (or with that handle), or a clear refusal (exit 4). */
export function boundDevice(identity: Identity, addressOrHandle: string): DeviceBinding {
  const device = identity.file
    .read()
    .devices.find((d) => d.address === addressOrHandle || d.handle === addressOrHandle);
  if (!device) {
    throw new AuthError(
      "unbound",
      `this element is not bound to a device at ${addressOrHandle}: run 'reid bind ${addressOrHandle} --expect-handle HANDLE' (with the code of 'reid pair' on the device) first`,
    );
  }
  return device;
}

/** Signs the next command to `device`, its counter stored first. */
export function nextCommand(
  identity: Identity,
  device: DeviceBinding,
  name: string,
  args: readonly string[],
  now: Date,
): SignedCommand {
  const counter = device.counter + 1;
  const bindings = identity.file.read();
  identity.file.write({
    ...bindings,
    devices: bindings.devices.map((d) => (d.handle === device.handle ? { ...d, counter } : d)),
  });
  return signCommand(identity.party, { device: device.handle, counter, time: now.getTime(), name, args });
}

/** Sends a command and checks the device's signed receipt. */
export async function sendCommand(
  address: string,
  device: DeviceBinding,
  command: SignedCommand,
): Promise<void> {
  const answer = await deviceAt(address).command(command);
  checkReceipt(
    answer,
    peerOf(Buffer.from(device.ed25519, "hex"), Buffer.from(device.x25519, "hex")).verifier,
    command,
  );
}

/** Asks for telemetry and opens it: sealed to us, by the bound device, for this very request. */
export async function fetchTelemetry(
  identity: Identity,
  device: DeviceBinding,
  command: SignedCommand,
): Promise<Uint8Array[]> {
  const answer = await deviceAt(device.address).telemetry(command);
  const readings = await openTelemetry(
    answer,
    { handle: identity.party.handle, x25519: identity.x25519 },
    { handle: device.handle, x25519: Buffer.from(device.x25519, "hex") },
    command.counter,
  );
  if (readings.length > requestedCount(command.args)) {
    throw new ReidError(
      "device-protocol",
      ExitCode.internal,
      "the device answered more readings than asked for",
    );
  }
  return readings;
}
