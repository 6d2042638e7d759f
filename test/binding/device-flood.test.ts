// A stranger who can reach a device's binding endpoint sends it junk commands: random user
// handles, or the bound user's handle with a signature that is not the user's. Each is refused;
// none may cost the device an audit record of its own, so the log stays under a size that does not
// depend on how many were sent (docs/spec.md §9.5), while the legitimate user's command is still
// accepted and audited as an intent and its outcome.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { AuditRecord } from "../../src/audit/audit-log.js";
import { bindRequest, checkHello } from "../../src/binding/handshake.js";
import { PROTOCOL } from "../../src/binding/wire.js";
import { deviceAddress, openPairing, pairingCode, testParty } from "../helpers/binding.js";
import { reid } from "../helpers/cli.js";
import { serve, stopCleanly } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

const JUNK = 10_000;
/** What the summaries of a few minutes take, whatever the count: far below one record per refusal. */
const LOG_BOUND = 64 * 1024;

test("10,000 junk commands leave the audit log under a fixed size", { timeout: 600_000 }, async (t) => {
  const { dir } = tempDir(t);
  const inputs = join(dir, "inputs");
  mkdirSync(inputs, { mode: 0o700 });
  const deviceStore = join(dir, "device");
  const userStore = join(dir, "user");
  const json = async <T = Record<string, unknown>>(store: string, ...args: string[]): Promise<T> => {
    const result = await reid(["--store", store, "--json", ...args]);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as T;
  };
  await json(deviceStore, "init");
  await json(userStore, "init");
  const daemon = await serve(t, deviceStore, {
    serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"],
  });
  const { address, handle: device } = await deviceAddress(daemon);
  const bound = await json<{ user: string }>(
    userStore,
    "bind",
    address,
    "--expect-handle",
    device,
    ...(await pairingCode(deviceStore, inputs)),
  );
  const before = logSize(deviceStore);

  // The stranger: 16 connections at once, each command well-formed but proving nothing.
  const refused = new Map<string, number>();
  let next = 0;
  const stranger = async () => {
    while (next < JUNK) {
      const i = next++;
      const user = i % 2 === 0 ? randomBytes(16).toString("hex") : bound.user;
      const answer = await fetch(`http://${address}/v1/command`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          v: PROTOCOL,
          device,
          user,
          counter: 1_000_000 + i,
          time: Date.now(),
          name: "unlock-door",
          args: ["now"],
          signature: randomBytes(64).toString("hex"),
        }),
      });
      const body = (await answer.json()) as { error?: { code?: string } };
      assert.equal(answer.status >= 400, true, `junk command ${i} was accepted`);
      const code = body.error?.code ?? `status ${answer.status}`;
      refused.set(code, (refused.get(code) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 16 }, stranger));
  assert.deepEqual(Object.fromEntries(refused), { unbound: JUNK / 2, "bad-signature": JUNK / 2 });

  // The legitimate user's command goes through, and is audited.
  const receipt = await json<{ counter: number }>(userStore, "command", address, "unlock-door", "now");
  assert.equal(receipt.counter, 1);
  await stopCleanly(daemon);

  const size = logSize(deviceStore);
  assert.ok(
    size - before < LOG_BOUND,
    `${JUNK} refused commands grew the device's audit log by ${size - before} bytes (bound ${LOG_BOUND})`,
  );

  const records = rawRecords(deviceStore);
  const summaries = records.filter((r) => r.request === "refused");
  const counted = new Map<string, number>();
  for (const summary of summaries) {
    const detail = summary.detail as Record<string, string | number>;
    assert.equal(summary.principal, "network");
    assert.equal(summary.outcome, detail.reason);
    assert.equal(detail.peer, "127.0.0.1");
    assert.ok(typeof detail.count === "number" && detail.count > 0);
    assert.ok(Date.parse(detail.from as string) <= Date.parse(detail.to as string));
    counted.set(detail.reason as string, (counted.get(detail.reason as string) ?? 0) + detail.count);
  }
  assert.deepEqual(Object.fromEntries(counted), { unbound: JUNK / 2, "bad-signature": JUNK / 2 });
  // Nothing else was written for the junk: no intent, no outcome under a claimed user.
  const commands = records.filter((r) => r.request === "command:unlock-door");
  assert.deepEqual(
    commands.map((r) => [r.principal, r.outcome, r.detail?.counter]),
    [
      [`network:${bound.user}`, "pending", 1],
      [`network:${bound.user}`, "ok", 1],
    ],
    "the audit log holds command records besides the legitimate user's intent and outcome",
  );
  assert.equal(commands[1]?.of, commands[0]?.seq);

  const verify = await reid(["--store", deviceStore, "--json", "log", "--verify"]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(JSON.parse(verify.stdout).intact, true);
});

test("refusals are summarised at each minute's end, and a kill loses no minute that has ended", {
  timeout: 300_000,
}, async (t) => {
  const { dir } = tempDir(t);
  const deviceStore = join(dir, "device");
  assert.equal((await reid(["--store", deviceStore, "init"])).code, 0);
  const daemon = await serve(t, deviceStore, {
    serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"],
  });
  const { address, handle: device } = await deviceAddress(daemon);
  const post = async (path: string, body: unknown) => {
    const answer = await fetch(`http://${address}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return ((await answer.json()) as { error?: { code?: string } }).error?.code ?? `status ${answer.status}`;
  };
  // All within one minute of the device's clock.
  const second = new Date().getUTCSeconds();
  if (second > 45) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
  const sent = new Map<string, number>();
  const note = (code: string) => sent.set(code, (sent.get(code) ?? 0) + 1);
  const hello = () => post("/v1/bind/hello", { v: PROTOCOL, nonce: randomBytes(32).toString("hex") });
  for (let i = 0; i < 5; i++) note(await hello());
  const junkBind = {
    v: PROTOCOL,
    challenge: randomBytes(32).toString("hex"),
    handle: randomBytes(16).toString("hex"),
    ed25519: randomBytes(32).toString("hex"),
    x25519: randomBytes(32).toString("hex"),
    signature: randomBytes(64).toString("hex"),
    proof: randomBytes(32).toString("hex"),
  };
  for (let i = 0; i < 4; i++) note(await post("/v1/bind/request", junkBind));
  // Inside the owner's window, a stranger guessing the code.
  await openPairing(deviceStore, "2m");
  for (let i = 0; i < 3; i++) {
    const nonce = randomBytes(32);
    const answer = await fetch(`http://${address}/v1/bind/hello`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ v: PROTOCOL, nonce: nonce.toString("hex") }),
    });
    const { device: party, challenge } = checkHello(
      (await answer.json()) as Record<string, unknown>,
      nonce,
      device,
    );
    note(
      await post("/v1/bind/request", bindRequest(testParty(), party, challenge, nonce, "0000000000").message),
    );
  }
  for (let i = 0; i < 20; i++) {
    note(
      await post("/v1/command", {
        v: PROTOCOL,
        device,
        user: randomBytes(16).toString("hex"),
        counter: i + 1,
        time: Date.now(),
        name: "unlock-door",
        args: [],
        signature: randomBytes(64).toString("hex"),
      }),
    );
  }
  const expected = { "not-pairing": 5, "unknown-challenge": 4, "wrong-code": 3, unbound: 20 };
  assert.deepEqual(Object.fromEntries(sent), expected);

  // The daemon runs on: the summary is written once the minute has ended.
  const deadline = Date.now() + 75_000;
  let counted: Record<string, number> = {};
  while (Date.now() < deadline) {
    counted = {};
    for (const r of rawRecords(deviceStore).filter((r) => r.request === "refused")) {
      const reason = String(r.detail?.reason);
      counted[reason] = (counted[reason] ?? 0) + Number(r.detail?.count);
    }
    if (Object.values(counted).reduce((a, b) => a + b, 0) >= 32) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.deepEqual(counted, expected, "the minute's summary was not written while the daemon ran");
  await daemon.kill();
  // The kill came after the minute's summary: nothing of it is lost, the log verifies, and none of
  // the refusals wrote a record of its own (the only others: init and the owner's pair).
  const records = rawRecords(deviceStore);
  assert.deepEqual([...new Set(records.map((r) => r.request))].sort(), ["init", "pair", "refused"]);
  const verify = await reid(["--store", deviceStore, "--json", "log", "--verify"]);
  assert.equal(verify.code, 0, verify.stderr);
});

/** The audit log's size on disk, every file of it. */
function logSize(store: string): number {
  return readdirSync(store)
    .filter((name) => name.startsWith("audit.log"))
    .reduce((sum, name) => sum + statSync(join(store, name)).size, 0);
}

/** Every record of the log, oldest first, as written (intents not folded). */
function rawRecords(store: string): AuditRecord[] {
  const files = readdirSync(store)
    .filter((name) => /^audit\.log(\.\d+)?$/.test(name))
    .sort((a, b) => rotation(b) - rotation(a));
  return files.flatMap((name) =>
    readFileSync(join(store, name), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as AuditRecord),
  );
}

function rotation(name: string): number {
  return Number(/\.(\d+)$/.exec(name)?.[1] ?? 0);
}
