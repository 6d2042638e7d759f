// One writer per store, whatever the namespaces: written as the second container on the same
// volume. Writers in two network namespaces, or reaching the store through a bind mount at another
// path, reset at the same time; every acknowledged reset must have its own generation, none may be
// lost, and the audit log must verify. A holder killed with SIGKILL must let go at once.
// Specified in docs/spec.md §5.5. Runs as root (unshare, nsenter, mount), as CI does.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { openElement } from "../../src/element/element.js";
import { type CliOptions, reid, reidJson, reidOk } from "../helpers/cli.js";
import { inMountNamespace } from "../helpers/faults.js";
import { compileFixture } from "../helpers/fixtures.js";
import { finished } from "../helpers/process.js";
import { tempDir } from "../helpers/temp.js";

const RESETS = 40;
/** Long enough that a writer waits its turn instead of giving up: a refusal would hide nothing. */
const PATIENT = { REID_LOCK_TIMEOUT: "120" };

interface Status {
  readonly state: string;
  readonly generation: number;
  readonly handle: string;
}

function assertRoot(): void {
  assert.equal(
    process.getuid?.(),
    0,
    "the one-writer tests need root (unshare -n, nsenter, mount --bind); CI runs them as root",
  );
}

/** A network namespace of its own, kept by a sleeping holder that is killed when the test ends. */
async function networkNamespace(t: TestContext): Promise<string[]> {
  const holder = spawn("unshare", ["--net", "sh", "-c", "echo ready && exec sleep 600"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => holder.kill("SIGKILL"));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve();
    });
    holder.on("exit", (code) => reject(new Error(`unshare --net exited ${code}`)));
  });
  const ns = `/proc/${holder.pid}/ns/net`;
  assert.notEqual(readlinkSync(ns), readlinkSync("/proc/self/ns/net"), "unshare gave no new namespace");
  return ["nsenter", `--net=${ns}`, "--"];
}

interface Side {
  readonly store: string;
  readonly options: CliOptions;
}

interface Acknowledged {
  readonly generation: number;
  readonly handle: string;
}

/** RESETS resets one after another from `side`; what each acknowledged, and every refusal. */
async function resets(side: Side): Promise<{ acked: Acknowledged[]; refused: string[] }> {
  const acked: Acknowledged[] = [];
  const refused: string[] = [];
  for (let i = 0; i < RESETS; i++) {
    const result = await reid(["--store", side.store, "--json", "reset"], {
      ...side.options,
      env: PATIENT,
      timeoutMs: 180_000,
    });
    if (result.code === 0) {
      const { generation, handle } = JSON.parse(result.stdout) as Acknowledged;
      acked.push({ generation, handle });
    } else {
      refused.push(`exit ${result.code}: ${result.stderr.trim()}`);
    }
  }
  return { acked, refused };
}

/**
 * Both sides reset at once; then the store must account for every acknowledged reset. Every
 * finding is gathered first, so a failure shows all that went wrong, not only the first.
 */
async function race(store: string, sides: readonly [Side, Side]): Promise<void> {
  const start = await reidJson<Status>(["--store", store, "status"]);
  const [a, b] = await Promise.all(sides.map(resets));
  assert.ok(a && b);
  const problems: string[] = [];
  for (const refusal of [...a.refused, ...b.refused]) problems.push(`refused instead of waiting: ${refusal}`);
  const acked = [...a.acked, ...b.acked];
  const seen = new Map<number, number>();
  for (const ack of acked) seen.set(ack.generation, (seen.get(ack.generation) ?? 0) + 1);
  for (const [generation, count] of seen) {
    if (count > 1) problems.push(`generation ${generation} acknowledged to ${count} resets`);
  }
  if (new Set(acked.map((ack) => ack.handle)).size !== acked.length)
    problems.push("a handle acknowledged twice");
  const end = await reidJson<Status>(["--store", store, "status"]);
  if (end.generation !== start.generation + acked.length) {
    problems.push(
      `generation ${end.generation} after ${acked.length} acknowledged resets from ${start.generation}`,
    );
  }
  const last = acked.find((ack) => ack.generation === end.generation);
  if (last?.handle !== end.handle) problems.push("the store's handle is not the last acknowledged reset's");
  const verify = await reid(["--store", store, "log", "--verify"]);
  if (verify.code !== 0) problems.push(`reid log --verify exited ${verify.code}: ${verify.stderr.trim()}`);
  assert.deepEqual(problems, [], "two writers ran on one store at once");
}

describe("one writer per store, whatever the namespaces", { concurrency: 1 }, () => {
  it("writers in two network namespaces on one store: every acknowledged reset has its own generation", async (t) => {
    assertRoot();
    const { store } = tempDir(t, "reid-one-writer-");
    await reidOk(["--store", store, "init"]);
    const [first, second] = [await networkNamespace(t), await networkNamespace(t)];
    await race(store, [
      { store, options: { prefix: first } },
      { store, options: { prefix: second } },
    ]);
  });

  it("a writer reaching the store through a bind mount at another path waits for the other", async (t) => {
    assertRoot();
    const { dir, store } = tempDir(t, "reid-one-writer-");
    await reidOk(["--store", store, "init"]);
    const mirror = join(dir, "mirror");
    mkdirSync(mirror, { mode: 0o700 });
    // The mount lives in the writer's own mount namespace, as in a second container.
    const bound = inMountNamespace(`mount --bind "$0" "${mirror}"`, store);
    await race(store, [
      { store, options: {} },
      { store: mirror, options: { prefix: bound } },
    ]);
  });
});

/** Starts a process that holds `store` until killed; resolves once it holds it. */
async function holder(
  t: TestContext,
  store: string,
  fixtureArgs: readonly string[] = [],
): Promise<ChildProcess> {
  const fixture = await compileFixture(fixtureArgs.length > 0 ? "commit-and-hold" : "hold-store");
  const child = spawn(process.execPath, [fixture, store, ...fixtureArgs], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
  });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("held")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`the holder exited ${code}: ${stderr.trim()}`)));
  });
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("a holder killed with SIGKILL", () => {
  it("lets go at once: a waiting writer gets the store, and then a writer that will not wait", async (t) => {
    const { store } = tempDir(t, "reid-one-writer-");
    await reidOk(["--store", store, "init"]);
    const held = await holder(t, store);
    const refused = await reid(["--store", store, "reset"], { env: { REID_LOCK_TIMEOUT: "0.2" } });
    assert.equal(refused.code, 6, `a reset while the store was held: ${refused.stderr.trim()}`);
    assert.match(refused.stderr, /busy/);
    // A writer that waits (long enough that only the kill can let it in before its time runs out).
    let done = false;
    const waiting = reid(["--store", store, "--json", "reset"], { env: PATIENT, timeoutMs: 180_000 });
    void waiting.then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(done, false, "the waiting writer did not wait for the holder");
    await killed(held);
    const result = await waiting;
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as Status).generation, 2);
    // Nothing of the dead holder is left to wait for: a writer that does not wait gets it too.
    const after = await reidJson<Status>(["--store", store, "reset"], { env: { REID_LOCK_TIMEOUT: "0" } });
    assert.equal(after.generation, 3);
  });

  it("a holder killed while another process waits on a store that does not exist yet", async (t) => {
    const { store } = tempDir(t, "reid-one-writer-");
    const held = await holder(t, store);
    const waiting = reid(["--store", store, "--json", "init"], { env: PATIENT, timeoutMs: 180_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await killed(held);
    const result = await waiting;
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as Status).generation, 1);
  });
});

describe("a store that did not exist when its writer took it", () => {
  it("once the writer has made it, a writer from another network namespace still waits for it", async (t) => {
    assertRoot();
    const { store } = tempDir(t, "reid-one-writer-");
    const holder = await openElement({
      storeDirectory: store,
      source: { kind: "os" },
      write: true,
      lockTimeoutMs: 5_000,
    });
    const elsewhere = { prefix: await networkNamespace(t), env: { REID_LOCK_TIMEOUT: "0.3" } };
    try {
      // The holder locked a store with no directory; its first commit makes the directory.
      assert.equal((await holder.control.submit({ type: "init" })).generation, 1);
      for (const args of [["reset"], ["status"]]) {
        const result = await reid(["--store", store, ...args], elsewhere);
        assert.equal(result.code, 6, `reid ${args[0]} beside the holder: ${result.stderr.trim()}`);
        assert.match(result.stderr, /busy/);
      }
      assert.equal((await holder.control.submit({ type: "reset" })).generation, 2);
    } finally {
      await holder.close();
    }
    const after = await reidJson<Status>(["--store", store, "reset"], { prefix: elsewhere.prefix });
    assert.equal(after.generation, 3);
  });
});

/** One process that keeps `store` open across `count` commits; what each acknowledged, or its refusal. */
async function commitsInOneOpen(
  store: string,
  count: number,
  prefix: readonly string[],
): Promise<{ acked: Acknowledged[]; refused: string | null }> {
  const fixture = await compileFixture("commit-and-hold");
  const [command, ...args] = [...prefix, process.execPath, fixture, store, String(count)];
  const child = spawn(command as string, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
    timeout: 180_000,
  });
  const { code, stdout, stderr } = await finished(child);
  const acked = stdout
    .toString()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Acknowledged);
  return { acked, refused: code === 0 ? null : `exit ${code}: ${stderr.toString().trim()}` };
}

describe("a writer on a store it made moves from the parent's lock to the store's own", {
  concurrency: 1,
}, () => {
  it("two processes racing to make the same new store, one from another network namespace: every acknowledged commit has its own generation", async (t) => {
    assertRoot();
    const { dir } = tempDir(t, "reid-one-writer-");
    const elsewhere = await networkNamespace(t);
    const ROUNDS = 10;
    const EACH = 3;
    const problems: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Half the rounds the parent is there already, half the writers make it too.
      const parent = join(dir, `round-${round}`);
      if (round % 2 === 0) mkdirSync(parent, { mode: 0o700 });
      const store = join(parent, "store");
      const sides = await Promise.all([
        commitsInOneOpen(store, EACH, []),
        commitsInOneOpen(store, EACH, elsewhere),
      ]);
      for (const side of sides) if (side.refused) problems.push(`round ${round}: refused: ${side.refused}`);
      const acked = sides.flatMap((side) => side.acked);
      const generations = acked.map((ack) => ack.generation).sort((a, b) => a - b);
      const expected = Array.from({ length: acked.length }, (_, i) => i + 1);
      if (generations.join() !== expected.join())
        problems.push(`round ${round}: acknowledged generations ${generations.join(",")}`);
      if (new Set(acked.map((ack) => ack.handle)).size !== acked.length)
        problems.push(`round ${round}: a handle acknowledged twice`);
      const end = await reidJson<Status>(["--store", store, "status"]);
      if (end.generation !== acked.length)
        problems.push(
          `round ${round}: generation ${end.generation} after ${acked.length} acknowledged commits`,
        );
      if (acked.find((ack) => ack.generation === end.generation)?.handle !== end.handle)
        problems.push(`round ${round}: the store's handle is not the last acknowledged commit's`);
      const verify = await reid(["--store", store, "log", "--verify"]);
      if (verify.code !== 0) problems.push(`round ${round}: reid log --verify: ${verify.stderr.trim()}`);
    }
    assert.deepEqual(problems, [], "two writers ran on one new store at once");
  });

  it("a long-lived writer on a new store no longer holds up the other stores of its parent once it made its own", async (t) => {
    assertRoot();
    const { dir } = tempDir(t, "reid-one-writer-");
    const [mine, sibling, fresh] = ["mine", "sibling", "fresh"].map((name) => join(dir, name)) as [
      string,
      string,
      string,
    ];
    await reidOk(["--store", sibling, "init"]);
    // Keeps its store open after the first commit made it (the directory did not exist at open).
    const held = await holder(t, mine, ["1", "--hold"]);
    const elsewhere = { prefix: await networkNamespace(t), env: { REID_LOCK_TIMEOUT: "2" } };
    const reset = await reid(["--store", sibling, "--json", "reset"], elsewhere);
    assert.equal(reset.code, 0, `a reset of a store beside it: ${reset.stderr.trim()}`);
    assert.equal((JSON.parse(reset.stdout) as Status).generation, 2);
    const init = await reid(["--store", fresh, "--json", "init"], elsewhere);
    assert.equal(init.code, 0, `an init of a new store beside it: ${init.stderr.trim()}`);
    // Its own store stays its own, from here and from another namespace.
    for (const options of [
      { env: { REID_LOCK_TIMEOUT: "0.3" } },
      { ...elsewhere, env: { REID_LOCK_TIMEOUT: "0.3" } },
    ]) {
      for (const args of [["reset"], ["status"]]) {
        const result = await reid(["--store", mine, ...args], options);
        assert.equal(result.code, 6, `reid ${args[0]} beside the holder: ${result.stderr.trim()}`);
        assert.match(result.stderr, /busy/);
      }
    }
    await killed(held);
    assert.equal((await reidJson<Status>(["--store", mine, "reset"])).generation, 2);
  });
});
