// The user role's checks on what a device answers, against a device that misbehaves on purpose:
// a real HTTP server on loopback that seals correctly but answers more readings than were asked.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import type { DeviceBinding } from "../../src/binding/bindings-file.js";
import type { Identity } from "../../src/binding/identity.js";
import { sealTelemetry } from "../../src/binding/telemetry.js";
import { fetchTelemetry, nextCommand } from "../../src/binding/user.js";
import { hex } from "../../src/binding/wire.js";
import { ReidError } from "../../src/errors.js";
import { testParty } from "../helpers/binding.js";

test("an answer with more readings than the request asked for is refused", async (t) => {
  const device = testParty();
  const user = testParty();
  let answered = 0;
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", async () => {
      const { counter } = JSON.parse(body) as { counter: number };
      const reading = Buffer.from(
        JSON.stringify({ sensor: "s", time: new Date().toISOString(), value: "1" }),
      );
      const sealed = await sealTelemetry(
        { handle: device.handle, x25519: device.keys.x25519 },
        { handle: user.handle, x25519: user.keys.x25519.publicKey },
        counter,
        Array.from({ length: answered++ === 0 ? 2 : 3 }, () => reading),
      );
      response.setHeader("content-type", "application/json").end(JSON.stringify(sealed));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  let stored: DeviceBinding = {
    handle: device.handle,
    ed25519: hex(device.keys.ed25519.publicKey),
    x25519: hex(device.keys.x25519.publicKey),
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    bound: new Date().toISOString(),
    counter: 0,
  };
  const identity = {
    party: user,
    x25519: user.keys.x25519,
    file: {
      read: () => ({ users: [], devices: [stored] }),
      write: (bindings: { devices: DeviceBinding[] }) => {
        stored = bindings.devices[0] as DeviceBinding;
      },
    },
  } as unknown as Identity;
  const ask = (count: number) =>
    fetchTelemetry(
      identity,
      stored,
      nextCommand(identity, stored, "telemetry", count === 1 ? [] : [String(count)], new Date()),
    );
  // Two readings answer a request for two: accepted. Three for two: refused.
  assert.equal((await ask(2)).length, 2);
  await assert.rejects(
    ask(2),
    (error: unknown) => error instanceof ReidError && error.code === "device-protocol",
  );
});
