import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { type BindingKeys, type Party, partyOf } from "../../src/binding/parties.js";
import { deriveKeys } from "../../src/derive/derivation.js";
import type { ServedDaemon } from "./daemon.js";

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

/**
 * A private network namespace with only loopback up, multicast on and a multicast route, for mDNS
 * tests that must never touch the machine's real interfaces; removed when the test ends. Null when
 * not root (the caller skips, saying why).
 */
export function privateNetwork(t: TestContext): { prefix: readonly string[] } | null {
  if (process.getuid?.() !== 0) return null;
  const name = `reid-test-${process.pid}-${randomBytes(3).toString("hex")}`;
  const ip = (...args: string[]) => {
    const result = spawnSync("ip", args, { encoding: "utf8" });
    assert.equal(result.status, 0, `ip ${args.join(" ")}: ${result.stderr}`);
  };
  ip("netns", "add", name);
  t.after(() => {
    spawnSync("ip", ["netns", "del", name]);
  });
  ip("netns", "exec", name, "ip", "link", "set", "lo", "up");
  ip("netns", "exec", name, "ip", "link", "set", "lo", "multicast", "on");
  ip("netns", "exec", name, "ip", "route", "add", "224.0.0.0/4", "dev", "lo");
  return { prefix: ["ip", "netns", "exec", name] };
}
