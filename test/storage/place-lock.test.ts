// The place lock of the TPM and PKCS#11 backends (one writer per NV index pair, per token), taken
// by a process in another network namespace, as the abstract socket it replaces could not be; and
// the account's lock directory, which no other account may own or open.
// Specified in docs/spec.md §5.5. Runs as root (unshare, nsenter), as CI does.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, it, type TestContext } from "node:test";
import { StorageError } from "../../src/errors.js";
import { acquirePlaceLock, runtimeDirectory } from "../../src/storage/process-lock.js";
import { compileFixture } from "../helpers/fixtures.js";
import { tempDir } from "../helpers/temp.js";

const KEY = "tpm-nv swtpm at 127.0.0.1:2321 0x01524500";
let runtime = "";
const before = process.env.XDG_RUNTIME_DIR;

beforeEach((t) => {
  runtime = tempDir(t as TestContext, "reid-place-").dir;
  process.env.XDG_RUNTIME_DIR = runtime;
});
afterEach(() => {
  if (before === undefined) delete process.env.XDG_RUNTIME_DIR;
  else process.env.XDG_RUNTIME_DIR = before;
});

async function failure(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
  return error;
}

it("a place held from another network namespace is busy here, and free once its holder is SIGKILLed", async (t) => {
  assert.equal(process.getuid?.(), 0, "the place lock test needs root (unshare -n); CI runs it as root");
  const fixture = await compileFixture("hold-place");
  const holder = spawn("unshare", ["--net", process.execPath, fixture, KEY], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, XDG_RUNTIME_DIR: runtime },
  });
  t.after(() => holder.kill("SIGKILL"));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("held")) resolve();
    });
    holder.on("exit", (code) => reject(new Error(`the holder exited ${code}`)));
  });
  const busy = await failure(acquirePlaceLock(KEY, { timeoutMs: 100, what: "NV index 0x01524500" }));
  assert.equal(busy.code, "store-busy");
  assert.match(busy.message, /NV index 0x01524500 is busy/);
  // Another place is not held by it.
  await (await acquirePlaceLock(`${KEY}0`, { timeoutMs: 0, what: "another" })).release();
  await new Promise<void>((resolve) => {
    holder.once("exit", () => resolve());
    holder.kill("SIGKILL");
  });
  const lock = await acquirePlaceLock(KEY, { timeoutMs: 0, what: "NV index 0x01524500" });
  await lock.release();
});

it("two holders in one process exclude each other; a released place can be taken again", async () => {
  const first = await acquirePlaceLock(KEY, { timeoutMs: 0, what: "the token" });
  assert.equal(
    (await failure(acquirePlaceLock(KEY, { timeoutMs: 50, what: "the token" }))).code,
    "store-busy",
  );
  await first.release();
  await (await acquirePlaceLock(KEY, { timeoutMs: 0, what: "the token" })).release();
  assert.equal(statSync(join(runtime, "reid")).mode & 0o777, 0o700);
});

it("a lock directory open to others is refused, not used", () => {
  mkdirSync(join(runtime, "reid"), { mode: 0o700 });
  chmodSync(join(runtime, "reid"), 0o755);
  assert.throws(() => runtimeDirectory(), /lock directory .* is not this account's own 0700 directory/);
});
