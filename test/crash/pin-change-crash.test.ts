// A PIN change on the TPM moves the NV indices to the new PIN's authValue (docs/spec.md §5.7):
// owner.json takes the new check (and the previous authValue, wrapped under the new PIN), then the
// record is committed again under the new authValue and the old index undefined. Real `reid pin
// change` processes on a real swtpm are SIGKILLed before each of their file calls (the fault
// shim), then at random moments across a whole run; after every kill, before anything else runs,
// exactly one of the two PINs makes owner.json's check, and with it the store opens (the TPM
// answers to the authValue it gives, or to the previous one it unwraps) with the identifier it had:
// the same generation and handle. The next change goes from that PIN to the other one. Only reid is
// killed, never swtpm (test/crash/tpm-crash.test.ts says why).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { checks, pinSecret } from "../../src/auth/owner-secret.js";
import { REID, reid } from "../helpers/cli.js";
import { faultEnv, readFaultLog } from "../helpers/faults.js";
import { finished } from "../helpers/process.js";
import { startSwtpm } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";

const NV = 0x01525400;
const PINS = ["correct horse 42", "battery staple 7"] as const;
/** Kills at random moments, on top of one before each file call. */
const RANDOM_KILLS = 24;

interface Status {
  readonly generation: number;
  readonly handle: string;
  readonly protectedBy: string;
}

test("pin change on the TPM killed before each file call and at random moments: exactly one PIN opens the store, nothing lost", async (t) => {
  const swtpm = await startSwtpm();
  t.after(() => swtpm.stop());
  const { dir, store } = tempDir(t);
  const pinFiles = PINS.map((pin, i) => secretFile(dir, `pin-${i}`, pin));
  const base = ["--store", store, "--tpm", `${swtpm.spec},nv-index=0x${NV.toString(16)}`];
  const ok = async (args: readonly string[], env?: NodeJS.ProcessEnv) => {
    const result = await reid([...base, ...args], env ? { env } : {});
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result;
  };
  /** The PIN's status; a kill after the try was counted leaves a backoff of 1 s, waited out. */
  const statusWith = async (pin: 0 | 1, where: string): Promise<Status> => {
    for (let attempt = 0; ; attempt++) {
      const result = await reid([...base, "--pin-file", pinFiles[pin] as string, "--json", "status"]);
      if (result.code === 0) return JSON.parse(result.stdout) as Status;
      assert.ok(attempt < 5 && /pin-backoff/.test(result.stderr), `${where}: ${result.stderr.trim()}`);
      await sleep(1100);
    }
  };
  /** Which PINs make owner.json's check: read as the attacker with the directory would. */
  const opening = async (): Promise<(0 | 1)[]> => {
    const owner = JSON.parse(readFileSync(join(store, "owner.json"), "utf8")) as {
      pin: { salt: string; check: string };
    };
    const salt = Buffer.from(owner.pin.salt, "hex");
    const found: (0 | 1)[] = [];
    for (const i of [0, 1] as const) {
      if (checks(await pinSecret(PINS[i], salt), Buffer.from(owner.pin.check, "hex"))) found.push(i);
    }
    return found;
  };
  const change = (from: 0 | 1) => [
    "--pin-file",
    pinFiles[from] as string,
    "pin",
    "change",
    "--new-pin-file",
    pinFiles[1 - from] as string,
  ];

  await ok(["init"]);
  await ok(["pin", "set", "--new-pin-file", pinFiles[0] as string]);
  const before = await statusWith(0, "before");
  assert.equal(before.protectedBy, "tpm-pin");

  // The file calls of one fault-free change, in order, and how long a whole one takes.
  const log = join(dir, "calls.log");
  const started = Date.now();
  await ok(change(0), await faultEnv({ path: store, op: ["write", "fsync", "open"], nth: 1_000_000, log }));
  const span = Date.now() - started;
  const calls = readFaultLog(log).map(({ call, path }) => `${call} ${path.slice(store.length + 1) || "."}`);
  assert.ok(
    calls.some((call) => /owner\.json/.test(call)),
    `no write of owner.json among ${calls.join(", ")}`,
  );
  let current: 0 | 1 = 1;
  assert.deepEqual(await opening(), [1]);

  const outcomes = { old: 0, new: 0, midMove: 0 };
  const after = async (where: string) => {
    // A move left unfinished: owner.json keeps the previous authValue for the index still under it.
    if ((JSON.parse(readFileSync(join(store, "owner.json"), "utf8")) as { nv?: unknown }).nv)
      outcomes.midMove++;
    const found = await opening();
    assert.equal(found.length, 1, `${where}: ${found.length} PINs make owner.json's check`);
    const pin = found[0] as 0 | 1;
    const status = await statusWith(pin, where);
    assert.deepEqual(
      [status.generation, status.handle, status.protectedBy],
      [before.generation, before.handle, "tpm-pin"],
      `${where}: the store under PIN ${pin}`,
    );
    if (pin === current) outcomes.old++;
    else outcomes.new++;
    current = pin;
  };

  for (let n = 1; n <= calls.length; n++) {
    const where = `killed before call ${n} (${calls[n - 1]})`;
    const env = await faultEnv({ path: store, op: ["write", "fsync", "open"], nth: n, kill: true });
    const killed = await reid([...base, ...change(current)], { env });
    assert.equal(
      killed.signal,
      "SIGKILL",
      `${where}: not killed (exit ${killed.code}: ${killed.stderr.trim()})`,
    );
    await after(where);
  }
  for (let i = 0; i < RANDOM_KILLS; i++) {
    const delay = randomInt(0, span + 1);
    const child = spawn(process.execPath, [REID, ...base, ...change(current)], {
      env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), delay);
    const { code, stderr } = await finished(child);
    clearTimeout(timer);
    // A run that ended before its kill must have succeeded.
    assert.ok(code === 0 || code === null, `random kill ${i} after ${delay} ms: exit ${code}: ${stderr}`);
    await after(`random kill ${i} after ${delay} ms`);
  }
  // Kills fell before the change took (the old PIN opens) and after it (the new one does).
  // and some inside the move itself, an index still under the old authValue.
  assert.ok(outcomes.old > 0 && outcomes.new > 0 && outcomes.midMove > 0, JSON.stringify(outcomes));
  t.diagnostic(
    `${calls.length} + ${RANDOM_KILLS} kills; old PIN ${outcomes.old}, new PIN ${outcomes.new}, mid-move ${outcomes.midMove}`,
  );
});
