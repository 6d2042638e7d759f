import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { type BindingKeys, type Party, partyOf } from "../../src/binding/parties.js";
import { deriveKeys } from "../../src/derive/derivation.js";
import { type CliOptions, reid } from "./cli.js";
import type { ServedDaemon } from "./daemon.js";
import { secretFile } from "./temp.js";

/** A binding party from a fresh random identifier: a user or device that exists only in the test. */
export function testParty(): Party & { readonly keys: BindingKeys } {
  const keys = deriveKeys(randomBytes(32), ["ed25519", "x25519"]) as BindingKeys;
  return { ...partyOf(keys), keys };
}

/**
 * The device role's HOST:PORT, from the line `reid serve --device` prints once it listens (it was
 * asked for port 0, so only the daemon knows the port).
 */
export async function deviceAddress(
  daemon: ServedDaemon,
  timeoutMs = 10_000,
): Promise<{ address: string; handle: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /device ([0-9a-f]{32}) serves binding on (\S+)/.exec(daemon.stdout());
    if (match) return { handle: match[1] as string, address: match[2] as string };
    assert.ok(Date.now() < deadline, `no device line from reid serve: ${daemon.stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The device owner's `reid pair --for DURATION` on the device's store: the window's code and handle. */
export async function openPairing(
  deviceStore: string,
  duration = "2m",
  options: CliOptions = {},
  /** Global options before the command: the owner's `--pin-file FILE` when a PIN is set. */
  global: readonly string[] = [],
): Promise<{ code: string; handle: string; address: string; until: string }> {
  const result = await reid(
    ["--store", deviceStore, ...global, "--json", "pair", "--for", duration],
    options,
  );
  assert.equal(result.code, 0, `reid pair exited ${result.code}: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout);
}

/**
 * Opens a pairing window on the device and writes its code into a 0600 file in `dir`, for
 * `reid bind --code-file`: the arguments to add to a bind.
 */
export async function pairingCode(
  deviceStore: string,
  dir: string,
  options: CliOptions = {},
): Promise<string[]> {
  const { code } = await openPairing(deviceStore, "2m", options);
  return ["--code-file", secretFile(dir, `pairing-${randomBytes(4).toString("hex")}.code`, `${code}\n`)];
}

/**
 * A private network namespace with only loopback up, multicast on and a multicast route, for mDNS
 * tests that must never touch the machine's real interfaces; removed when the test ends. Null when
 * not root (the caller skips, saying why).
 */
export function privateNetwork(t: TestContext): { prefix: readonly string[] } | null {
  if (process.getuid?.() !== 0) return null;
  const name = namespace(t);
  ip("netns", "exec", name, "ip", "route", "add", "224.0.0.0/4", "dev", "lo");
  return { prefix: ["ip", "netns", "exec", name] };
}

/**
 * Two private namespaces joined by a veth pair, a LAN of two hosts that exists only for the test:
 * `device` holds DEVICE_LAN_ADDRESS on its link, `lan` a neighbour on the same /24. Multicast goes
 * out on the link. Null when not root.
 */
export function linkedNetworks(t: TestContext): { device: readonly string[]; lan: readonly string[] } | null {
  if (process.getuid?.() !== 0) return null;
  const [device, lan] = [namespace(t), namespace(t)];
  const link = `rd${randomBytes(3).toString("hex")}`;
  ip("link", "add", `${link}a`, "netns", device, "type", "veth", "peer", "name", `${link}b`, "netns", lan);
  for (const [ns, end, address] of [
    [device, `${link}a`, `${DEVICE_LAN_ADDRESS}/24`],
    [lan, `${link}b`, "10.77.0.2/24"],
  ] as const) {
    ip("-n", ns, "addr", "add", address, "dev", end);
    ip("-n", ns, "link", "set", end, "up");
    ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", end);
  }
  return { device: ["ip", "netns", "exec", device], lan: ["ip", "netns", "exec", lan] };
}

export const DEVICE_LAN_ADDRESS = "10.77.0.1";

/** A new namespace, loopback up with multicast on; deleted when the test ends. */
function namespace(t: TestContext): string {
  const name = `reid-test-${process.pid}-${randomBytes(3).toString("hex")}`;
  ip("netns", "add", name);
  t.after(() => {
    spawnSync("ip", ["netns", "del", name]);
  });
  ip("netns", "exec", name, "ip", "link", "set", "lo", "up");
  ip("netns", "exec", name, "ip", "link", "set", "lo", "multicast", "on");
  return name;
}

function ip(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  assert.equal(result.status, 0, `ip ${args.join(" ")}: ${result.stderr}`);
}
