// mDNS announces a device only where its endpoint can be reached: a device listening on loopback
// is never announced to the LAN, one listening on a LAN address is, with that address. Run on a
// LAN of two private network namespaces joined by a veth pair (root, as CI is); never on the
// machine's real interfaces.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { advertisingInterface } from "../../src/binding/mdns.js";
import { initStore } from "../cli/store.js";
import { DEVICE_LAN_ADDRESS, deviceAddress, linkedNetworks } from "../helpers/binding.js";
import { reidJson } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

test("the interface a device is announced on follows its --listen address", () => {
  assert.equal(advertisingInterface("0.0.0.0"), undefined, "the wildcard: every interface");
  assert.equal(advertisingInterface("::"), undefined);
  for (const loopback of ["127.0.0.1", "127.0.0.2", "::1", "localhost"]) {
    assert.equal(advertisingInterface(loopback), "127.0.0.1", loopback);
  }
  assert.equal(advertisingInterface("192.0.2.7"), "192.0.2.7");
});

test("a loopback device is not announced to the LAN; a LAN device is, at its LAN address", async (t) => {
  const networks = linkedNetworks(t);
  if (!networks) {
    t.diagnostic("skipped: not root, so no private network namespaces (CI runs as root)");
    return;
  }
  const { dir } = tempDir(t);
  const start = async (name: string, listen: string) => {
    const store = join(dir, name);
    await initStore(store);
    const daemon = await serve(t, store, {
      prefix: networks.device,
      serveArgs: ["--device", "--listen", listen],
    });
    return deviceAddress(daemon);
  };
  const local = await start("local", "127.0.0.1:0");
  const onLan = await start("lan", `${DEVICE_LAN_ADDRESS}:0`);
  assert.match(onLan.address, new RegExp(`^${DEVICE_LAN_ADDRESS.replaceAll(".", "\\.")}:\\d+$`));
  type Found = { devices: { handle: string; address: string }[] };
  const discover = (prefix: readonly string[]) =>
    reidJson<Found>(["discover", "--timeout", "2"], { prefix }).then(({ devices }) =>
      devices.map((d) => [d.handle, d.address]),
    );
  // From the neighbour: the LAN device at the address it listens on, and nothing of the other.
  assert.deepEqual(await discover(networks.lan), [[onLan.handle, onLan.address]]);
  // On the device's own host, the loopback device is found where it listens.
  assert.deepEqual(
    (await discover(networks.device)).filter(([handle]) => handle === local.handle),
    [[local.handle, local.address]],
  );
});
