// A PIN change on the TPM moves the NV indices to the new PIN's authValue (docs/spec.md §5.7):
// owner.json takes the new check (and the previous authValue, wrapped under the new PIN), then the
// record is committed again under the new authValue and the old index undefined; then the audit
// key's index moves too (§9.7: kept in audit-key.move under the new authValue, undefined, defined
// under it, written, the copy removed). Real `reid pin change` processes on a real swtpm are
// SIGKILLed before each of their file calls (the fault shim), then at random moments across a
// whole run; after every kill, before anything else runs, exactly one of the two PINs makes
// owner.json's check, and with it the store opens (the TPM answers to the authValue it gives, or
// to the previous one it unwraps) with the identifier it had, the same generation and handle, and
// the audit key opens: the log verifies with every MAC checked. The next change goes from that PIN
// to the other one. `pin set` is killed the same way, before each of its file calls. Only reid is
// killed, never swtpm (test/crash/tpm-crash.test.ts says why).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { checks, pinSecret } from "../../src/auth/owner-secret.js";
import { REID, reid } from "../helpers/cli.js";
import { faultEnv, readFaultLog } from "../helpers/faults.js";
import { finished } from "../helpers/process.js";
import { startSwtpm } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { tpm2 } from "../tpm/tools.js";

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

  const outcomes = { old: 0, new: 0, midMove: 0, keyMove: 0 };
  const after = async (where: string) => {
    // A move left unfinished: owner.json keeps the previous authValue for the index still under it.
    if ((JSON.parse(readFileSync(join(store, "owner.json"), "utf8")) as { nv?: unknown }).nv)
      outcomes.midMove++;
    // The audit key's move left unfinished: its copy is there.
    if (existsSync(join(store, "audit-key.move"))) outcomes.keyMove++;
    const found = await opening();
    assert.equal(found.length, 1, `${where}: ${found.length} PINs make owner.json's check`);
    const pin = found[0] as 0 | 1;
    const status = await statusWith(pin, where);
    assert.deepEqual(
      [status.generation, status.handle, status.protectedBy],
      [before.generation, before.handle, "tpm-pin"],
      `${where}: the store under PIN ${pin}`,
    );
    await assertKeyed(base, pinFiles[pin] as string, where);
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
  // and some inside the move itself, an index still under the old authValue, and the key's.
  assert.ok(
    outcomes.old > 0 && outcomes.new > 0 && outcomes.midMove > 0 && outcomes.keyMove > 0,
    JSON.stringify(outcomes),
  );
  t.diagnostic(
    `${calls.length} + ${RANDOM_KILLS} kills; old PIN ${outcomes.old}, new PIN ${outcomes.new}, mid-move ${outcomes.midMove}, key mid-move ${outcomes.keyMove}`,
  );
});

/**
 * The audit key opens under the PIN in force: `log --verify` checks every MAC (a kill leaves no
 * unkeyed record: only refusals without the PIN are, and there are none here). A kill after the try
 * was counted leaves a backoff of 1 s, waited out.
 */
async function assertKeyed(base: readonly string[], pinFile: string, where: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const result = await reid([...base, "--pin-file", pinFile, "--json", "log", "--verify"]);
    if (result.code === 0) {
      const verdict = JSON.parse(result.stdout) as { key: string; unkeyedTail?: number };
      assert.equal(verdict.key, "checked", `${where}: the audit key did not open: ${result.stdout}`);
      assert.equal(verdict.unkeyedTail, undefined, `${where}: ${result.stdout}`);
      return;
    }
    assert.ok(
      attempt < 5 && /pin-backoff/.test(result.stderr),
      `${where}: log --verify: ${result.stderr.trim()}`,
    );
    await sleep(1100);
  }
}

test("pin set on the TPM killed before each file call: no PIN and the store as it was, or the PIN opens the store and the audit key", async (t) => {
  const swtpm = await startSwtpm();
  t.after(() => swtpm.stop());
  const { dir } = tempDir(t);
  const pinFile = secretFile(dir, "pin", PINS[0]);
  const tpmSpec = `${swtpm.spec},nv-index=0x${NV.toString(16)}`;
  let round = 0;
  /** A new store on the same indices: the last one's NV indices undefined, its directory gone. */
  const fresh = async () => {
    const store = join(dir, `store-${round++}`);
    const base = ["--store", store, "--tpm", tpmSpec];
    assert.equal((await reid([...base, "init"])).code, 0);
    const status = JSON.parse((await reid([...base, "--json", "status"])).stdout) as Status;
    return { store, base, status };
  };
  const clear = async () => {
    const listed = await tpm2(swtpm.tcti, ["tpm2_getcap", "handles-nv-index"]);
    for (const handle of listed.stdout.toString().match(/0x[0-9a-fA-F]+/g) ?? [])
      await tpm2(swtpm.tcti, ["tpm2_nvundefine", "-C", "o", handle]);
  };
  const log = join(dir, "set-calls.log");
  const first = await fresh();
  const clean = await reid([...first.base, "pin", "set", "--new-pin-file", pinFile], {
    env: await faultEnv({ path: first.store, op: ["write", "fsync", "open"], nth: 1_000_000, log }),
  });
  assert.equal(clean.code, 0, clean.stderr);
  const calls = readFaultLog(log).map(
    ({ call, path }) => `${call} ${path.slice(first.store.length + 1) || "."}`,
  );
  assert.ok(
    calls.some((call) => /store\.json/.test(call)),
    `the key's index was not recorded: ${calls.join(", ")}`,
  );
  await assertKeyed(first.base, pinFile, "a whole pin set");
  const seen = { none: 0, set: 0, keyed: 0 };
  for (let n = 1; n <= calls.length; n++) {
    await clear();
    const { store, base, status: before } = await fresh();
    const where = `pin set killed before call ${n} (${calls[n - 1]})`;
    const env = await faultEnv({ path: store, op: ["write", "fsync", "open"], nth: n, kill: true });
    const killed = await reid([...base, "pin", "set", "--new-pin-file", pinFile], { env });
    assert.equal(
      killed.signal,
      "SIGKILL",
      `${where}: not killed (exit ${killed.code}: ${killed.stderr.trim()})`,
    );
    const set = existsSync(join(store, "owner.json"));
    const auth = set ? ["--pin-file", pinFile] : [];
    const status = await reid([...base, ...auth, "--json", "status"]);
    assert.equal(status.code, 0, `${where}: ${status.stderr.trim()}`);
    const after = JSON.parse(status.stdout) as Status;
    assert.deepEqual([after.generation, after.handle], [before.generation, before.handle], where);
    if (!set) {
      seen.none++;
      continue;
    }
    seen.set++;
    // Keyed once the key was made; before it, the chain alone (the next PIN change makes it).
    const verified = await reid([...base, ...auth, "--json", "log", "--verify"]);
    assert.equal(verified.code, 0, `${where}: ${verified.stderr.trim()}`);
    if ((JSON.parse(verified.stdout) as { key: string }).key === "checked") seen.keyed++;
    rmSync(store, { recursive: true, force: true });
  }
  assert.ok(seen.none > 0 && seen.set > 0 && seen.keyed > 0, JSON.stringify(seen));
  t.diagnostic(`${calls.length} kills of pin set: no PIN ${seen.none}, PIN ${seen.set}, keyed ${seen.keyed}`);
});
