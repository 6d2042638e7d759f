// The CLI on the TPM backend: --tpm / REID_TPM, what the store remembers, the daemon, the TPM
// entropy source, the owner's password, and every kind of bad input as one line with its exit code.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { decodeArea } from "../../src/storage/record.js";
import type { Tpm } from "../../src/tpm/tpm.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { startServe } from "../helpers/daemon.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";
import { readIndex, writeIndex } from "../helpers/tpm-nv.js";
import { encodeRecordV1 } from "../storage/record-v1.js";
import { tpm2Ok } from "./tools.js";

const swtpm = swtpmForFile();
let nextIndex = 0x01524800;

async function tpmSpec(): Promise<{ spec: string; base: string; nvIndex: number }> {
  const { spec } = await swtpm();
  const nvIndex = nextIndex;
  nextIndex += 4;
  return { base: spec, spec: `${spec},nv-index=0x${nvIndex.toString(16).padStart(8, "0")}`, nvIndex };
}

async function ok(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  const result = await reid(args, env ? { env } : {});
  assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  return result;
}

async function statusOf(store: string, extra: readonly string[] = []): Promise<Record<string, unknown>> {
  return JSON.parse((await ok(["--store", store, ...extra, "--json", "status"])).stdout) as Record<
    string,
    unknown
  >;
}

async function tpm2(args: readonly string[]) {
  await tpm2Ok((await swtpm()).tcti, args);
}

describe("reid --tpm", () => {
  test("the store remembers its TPM: later commands need no --tpm, and status names TPM and source", async (t) => {
    const { store } = tempDir(t);
    const { spec, nvIndex } = await tpmSpec();
    await ok(["--store", store, "--tpm", spec, "init"]);
    const status = await statusOf(store);
    assert.equal(status.state, "set");
    assert.equal(
      status.source,
      "tpm+os",
      "the TPM backend defaults to the TPM's generator mixed with the OS",
    );
    assert.equal(status.store, store, "status names the store directory");
    assert.match(String(status.backend), new RegExp(`NV 0x0${nvIndex.toString(16)}`));
    await ok(["--store", store, "reset"]);
    assert.equal((await statusOf(store)).generation, 2);
    // REID_TPM works like --tpm.
    const viaEnv = JSON.parse((await ok(["--store", store, "--json", "status"], { REID_TPM: spec })).stdout);
    assert.equal(viaEnv.generation, 2);
    // tpm info and random find the TPM through the store too; random draws on its default, tpm+os.
    assert.match(
      (await ok(["--store", store, "tpm", "info"])).stdout,
      /^NV 0x0152[0-9a-f]{4} area [01]: reid's, holds a record \(authwrite\|authread\|written\)$/m,
    );
    assert.equal((await ok(["--store", store, "random", "--bytes", "64"])).stdoutBytes.length, 64);
  });

  test("--source tpm and --source os are honoured and shown", async (t) => {
    for (const source of ["tpm", "os", "tpm+os"]) {
      const { store } = tempDir(t);
      const { spec } = await tpmSpec();
      await ok(["--store", store, "--tpm", spec, "--source", source, "init"]);
      assert.equal((await statusOf(store, ["--source", source])).source, source);
    }
  });

  test("reid random --source tpm streams from the TPM through the health tests", async () => {
    const { spec } = await tpmSpec();
    const result = await ok(["--tpm", spec, "--source", "tpm", "random", "--bytes", "4096"]);
    assert.equal(result.stdoutBytes.length, 4096);
    const again = await ok(["--tpm", spec, "--source", "tpm", "random", "--bytes", "4096"]);
    assert.ok(!result.stdoutBytes.equals(again.stdoutBytes));
  });

  test("the daemon serves a TPM store; commands reach it without --tpm, and a different index is refused", async (t) => {
    const { store } = tempDir(t);
    const { spec } = await tpmSpec();
    const daemon = await startServe(store, { args: ["--tpm", spec] });
    t.after(() => daemon.stop());
    await ok(["--store", store, "init"]);
    await ok(["--store", store, "reset"]);
    const status = await statusOf(store);
    assert.equal(status.generation, 2);
    assert.equal(status.source, "tpm+os");
    await ok(["--store", store, "--tpm", spec, "status"]);
    const other = await tpmSpec();
    assertOneLineError(
      await reid(["--store", store, "--tpm", other.spec, "status"]),
      2,
      /the daemon serving store .* uses the TPM/,
    );
    await daemon.stop();
    // After the daemon, the next command opens the TPM itself: swtpm's one client slot is free again.
    assert.equal((await statusOf(store)).generation, 2);
  });

  test("an owner password set with tpm2_changeauth is needed (owner-auth-file=), and a wrong one is one clear line", async (t) => {
    const { dir, store } = tempDir(t);
    const { spec } = await tpmSpec();
    const password = join(dir, "owner.pass");
    writeFileSync(password, "correct horse\n", { mode: 0o600 });
    const wrong = join(dir, "wrong.pass");
    writeFileSync(wrong, "wrong\n", { mode: 0o600 });
    await tpm2(["tpm2_changeauth", "-c", "o", "correct horse"]);
    t.after(() => tpm2(["tpm2_changeauth", "-c", "o", "-p", "correct horse"]));
    assertOneLineError(
      await reid(["--store", store, "--tpm", spec, "init"]),
      6,
      /refused the owner authorization/,
    );
    const otherStore = join(dir, "other");
    assertOneLineError(
      await reid(["--store", otherStore, "--tpm", `${spec},owner-auth-file=${wrong}`, "init"]),
      6,
      /refused the owner authorization/,
    );
    await ok(["--store", store, "--tpm", `${spec},owner-auth-file=${password}`, "init"]);
    // The store remembers the file, not the password.
    assert.equal((await statusOf(store)).state, "set");
    writeFileSync(join(dir, "open.pass"), "x", { mode: 0o644 });
    assertOneLineError(
      await reid([
        "--store",
        join(dir, "third"),
        "--tpm",
        `${spec},owner-auth-file=${join(dir, "open.pass")}`,
        "init",
      ]),
      2,
      /readable by other users/,
    );
  });

  test("tpm info prints the manufacturer, firmware, properties and reid's indices", async () => {
    const { spec, nvIndex } = await tpmSpec();
    const text = (await ok(["--tpm", spec, "tpm", "info"])).stdout;
    for (const row of ["manufacturer", "firmware", "spec", "NV buffer", "NV index max"]) {
      assert.match(text, new RegExp(`^${row} `, "m"));
    }
    assert.match(text, /^manufacturer\s+IBM/m);
    assert.match(text, new RegExp(`NV 0x0${nvIndex.toString(16)}\\s+area 0: free$`, "m"));
    const json = JSON.parse((await ok(["--tpm", spec, "--json", "tpm", "info"])).stdout);
    assert.ok(json.requirements.every((r: { ok: boolean }) => r.ok));
    assert.equal(json.properties.nvBufferMax > 0, true);
  });

  test("tpm info lists every index of the store: its areas, its counter and its audit key, with their attributes", async (t) => {
    const { store, dir } = tempDir(t);
    const { spec, nvIndex } = await tpmSpec();
    const at = (offset: number) => `0x${(nvIndex + offset).toString(16).padStart(8, "0")}`;
    await ok(["--store", store, "--tpm", spec, "init"]);
    await ok(["--store", store, "pin", "set"], { REID_PIN_NEW: "correct horse 42" });
    const info = () => ok(["--store", store, "--json", "tpm", "info"]);
    const { indices } = JSON.parse((await info()).stdout) as {
      indices: { index: string; role: string; state: string; attributes: string | null }[];
    };
    const byRole = new Map(indices.map((i) => [i.role, i]));
    assert.deepEqual([...byRole.keys()], ["area 0", "area 1", "counter", "audit key"]);
    assert.deepEqual(
      indices.map((i) => i.index),
      [at(0), at(1), at(2), at(3)],
    );
    assert.deepEqual(byRole.get("counter"), {
      index: at(2),
      role: "counter",
      state: "reid's, counted",
      attributes: "ownerwrite|ownerread|no_da|written|counter",
    });
    assert.deepEqual(byRole.get("audit key"), {
      index: at(3),
      role: "audit key",
      state: "reid's, holds a key",
      attributes: "authwrite|authread|written",
    });
    // One area holds the record, the other is free (erased at the last commit).
    const states = [byRole.get("area 0")?.state, byRole.get("area 1")?.state].sort();
    assert.deepEqual(states, ["free", "reid's, holds a record"]);
    // Chosen elsewhere (store.json records them), they are shown where they are.
    const file = join(store, "store.json");
    const remembered = JSON.parse(readFileSync(file, "utf8")) as { nv: { counter: string } };
    writeFileSync(file, JSON.stringify({ ...remembered, nv: { ...remembered.nv, counter: at(40) } }));
    const moved = (await ok(["--store", store, "tpm", "info"])).stdout;
    assert.match(moved, new RegExp(`^NV ${at(40)} counter: free$`, "m"));
    assert.doesNotMatch(moved, new RegExp(`^NV ${at(2)} `, "m"));
    // Another store directory (or none) on the same TPM shows only the areas of the index given.
    const bare = (await ok(["--store", join(dir, "none"), "--tpm", spec, "tpm", "info"])).stdout;
    assert.equal(bare.match(/^NV 0x/gm)?.length, 2, bare);
  });
});

describe("bad input on the TPM backend: one line, the right exit code, nothing written", () => {
  test("malformed --tpm specs are usage errors (exit 2)", async () => {
    for (const [spec, why] of [
      ["tpm", /expected swtpm:host/],
      ["swtpm:host=127.0.0.1", /port= must be a number/],
      ["swtpm:host=127.0.0.1,port=70000", /port= must be a number/],
      ["swtpm:port=1,port=2", /given twice/],
      ["swtpm:path=/x,port=1", /either path= or host= and port=/],
      ["swtpm:port=2321,nv-index=0x81000000", /owner NV index/],
      ["swtpm:port=2321,nv-index=12", /owner NV index/],
      ["swtpm:port=2321,colour=blue", /unknown parameter 'colour'/],
      ["device:", /device path is missing/],
      ["swtpm:port=2321,owner-auth-file=", /owner-auth-file needs a path/],
    ] as const) {
      assertOneLineError(await reid(["--tpm", spec, "tpm", "info"]), 2, why);
    }
  });

  test("--source tpm without a TPM is a usage error", async (t) => {
    const { store } = tempDir(t);
    assertOneLineError(
      await reid(["--store", store, "--source", "tpm", "init"]),
      2,
      /needs the TPM backend \(--tpm\)/,
    );
    assertOneLineError(await reid(["--source", "tpm", "random", "--bytes", "8"]), 2, /needs the TPM backend/);
  });

  test("an unreachable TPM is a storage error naming it (exit 6), for swtpm and for a device path", async (t) => {
    const { store, dir } = tempDir(t);
    mkdirSync(store, { mode: 0o700 });
    assertOneLineError(
      await reid(["--store", store, "--tpm", "swtpm:host=127.0.0.1,port=1", "status"]),
      6,
      /cannot connect to swtpm at 127\.0\.0\.1:1/,
    );
    assertOneLineError(
      await reid(["--store", store, "--tpm", `device:${join(dir, "no-tpm")}`, "status"]),
      6,
      /no-tpm/,
    );
    assertOneLineError(
      await reid(["--tpm", "swtpm:path=/nonexistent/tpm.sock", "tpm", "info"]),
      6,
      /cannot connect/,
    );
  });

  test("a file-backed store refuses --tpm, and a TPM store refuses another index", async (t) => {
    const { store } = tempDir(t);
    await ok(["--store", store, "init"]);
    const { spec } = await tpmSpec();
    assertOneLineError(
      await reid(["--store", store, "--tpm", spec, "status"]),
      2,
      /keeps its identifier with the files backend, not the TPM backend/,
    );
    // A file store from before store.json is a file store all the same.
    rmSync(join(store, "store.json"));
    for (const args of [["status"], ["reset"]]) {
      assertOneLineError(
        await reid(["--store", store, "--tpm", spec, ...args]),
        2,
        /keeps its identifier with the files backend, not the TPM backend/,
      );
    }
    assert.ok(!existsSync(join(store, "store.json")), "the refused store was changed");
    const { store: tpmStore } = tempDir(t);
    await ok(["--store", tpmStore, "--tpm", spec, "init"]);
    const other = await tpmSpec();
    assertOneLineError(
      await reid(["--store", tpmStore, "--tpm", other.spec, "status"]),
      2,
      /keeps its identifier at swtpm:.*nv-index=0x0152/,
    );
  });
});

describe("one store per TPM index", () => {
  test("a second store directory naming the same index is refused (exit 3, store-owned); the first store is untouched", async (t) => {
    const { dir } = tempDir(t);
    const owner = join(dir, "owner");
    const other = join(dir, "other");
    const { spec } = await tpmSpec();
    await ok(["--store", owner, "--tpm", spec, "init"]);
    const before = await statusOf(owner);
    const audit = readFileSync(join(owner, "audit.log"));
    mkdirSync(other, { mode: 0o700 });
    // Someone else points a new store directory at the same index: every request is refused,
    // naming the store that owns the index.
    for (const args of [["init"], ["reset"], ["erase"], ["status"], ["keys"]]) {
      const refused = await reid(["--store", other, "--tpm", spec, "--json", ...args]);
      assertOneLineError(refused, 3);
      const { error } = JSON.parse(refused.stderr) as { error: { code: string; message: string } };
      assert.equal(error.code, "store-owned", `${args.join(" ")}: ${error.message}`);
      assert.ok(error.message.includes(`the store at ${owner}`), error.message);
      assert.match(error.message, /NV 0x0152/);
      assert.match(error.message, /nv-index=/);
    }
    // Nor does a daemon start there, nor a directory that exists remember the owner's place.
    const served = await reid(["--store", other, "--tpm", spec, "serve"], { timeoutMs: 20_000 });
    assertOneLineError(served, 3, /holds? the identifier of the store at/);
    mkdirSync(other, { recursive: true, mode: 0o700 });
    assertOneLineError(await reid(["--store", other, "--tpm", spec, "reset"]), 3, /the store at/);
    assert.ok(!existsSync(join(other, "store.json")), "the refused directory remembers the owner's place");
    const after = await statusOf(owner);
    assert.deepEqual(
      [after.state, after.generation, after.handle],
      [before.state, before.generation, before.handle],
    );
    assert.ok(readFileSync(join(owner, "audit.log")).equals(audit), "the owner's audit log changed");
    // The owner goes on as before.
    await ok(["--store", owner, "reset"]);
    assert.equal((await statusOf(owner)).generation, 2);
  });

  test("a store from before store.json (a 'tpm' file, records without a store id) opens without --tpm and is upgraded by its next write", async (t) => {
    const { store } = tempDir(t);
    const { spec, nvIndex } = await tpmSpec();
    await ok(["--store", store, "--tpm", spec, "init"]);
    const before = await statusOf(store);
    const keys = (await ok(["--store", store, "--json", "keys"])).stdout;
    // As an earlier reid left it: the record in layout v1 and the 'tpm' marker file.
    await withTpm(async (tpm) => {
      for (const index of [nvIndex, nvIndex + 1]) {
        const decoded = decodeArea(await readIndex(tpm, index));
        if (decoded.kind === "record")
          await writeIndex(tpm, index, encodeRecordV1(decoded.record, decoded.record.epoch));
      }
    });
    rmSync(join(store, "store.json"));
    writeFileSync(join(store, "tpm"), `${spec}\ncommitted\n`, { mode: 0o600 });
    const legacy = await statusOf(store);
    assert.deepEqual([legacy.state, legacy.generation, legacy.handle], ["set", 1, before.handle]);
    assert.equal((await ok(["--store", store, "--json", "keys"])).stdout, keys);
    assert.ok(existsSync(join(store, "tpm")), "a read replaced the legacy file");
    await ok(["--store", store, "reset"]);
    assert.ok(!existsSync(join(store, "tpm")), "the legacy file is still there");
    const remembered = JSON.parse(readFileSync(join(store, "store.json"), "utf8"));
    assert.deepEqual([remembered.backend, remembered.committed], ["tpm", true]);
    const decoded = await withTpm(async (tpm) => [
      decodeArea(await readIndex(tpm, nvIndex)),
      decodeArea(await readIndex(tpm, nvIndex + 1)),
    ]);
    const records = decoded.filter((d) => d.kind === "record");
    assert.equal(records.length, 1);
    const [record] = records;
    assert.ok(record?.kind === "record" && record.owner, "the reset did not write the store id");
    assert.equal(Buffer.from(record.owner.id).toString("hex"), remembered.id);
    assert.equal(record.owner.hint, store);
  });
});

async function withTpm<T>(task: (tpm: Tpm) => Promise<T>): Promise<T> {
  const tpm = await connectTpm((await swtpm()).address);
  try {
    return await task(tpm);
  } finally {
    await tpm.close();
  }
}
