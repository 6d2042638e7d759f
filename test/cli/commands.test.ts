// The requests and status as a user meets them: `reid` run as its own process on a private store.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { AREA_FILE } from "../../src/storage/file/file-area.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { assertDifferentSecret, assertSameSecret } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";
import {
  assertUnchanged,
  currentRecord,
  fingerprint,
  initStore,
  request,
  status,
  storeContains,
  storedIdentifier,
} from "./store.js";

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

const STATUS_KEYS = ["state", "generation", "handle", "mode", "source", "format", "scheduled"];
const REQUEST_KEYS = ["request", "state", "generation", "handle"];

/** A blank element has no handle; a set one has 16 bytes of hex (never the identifier: see secrets.test.ts). */
function assertHandle(value: Record<string, unknown>): void {
  if (value.state === "blank") assert.equal(value.handle, null, "a blank element has no handle");
  else assert.match(String(value.handle), /^[0-9a-f]{32}$/, "a set element's handle is 32 hex digits");
}

function assertStatusShape(value: Record<string, unknown>): void {
  for (const key of STATUS_KEYS) assert.ok(key in value, `status --json lacks "${key}"`);
  assert.ok(value.state === "blank" || value.state === "set");
  assert.ok(Number.isSafeInteger(value.generation) && (value.generation as number) >= 0);
  assertHandle(value);
  assert.equal(value.mode, "random");
  assert.equal(typeof value.source, "string");
  assert.match(String(value.format), /^(raw|digits|base32):\d+$/);
  assert.deepEqual(value.scheduled, []);
}

function assertRequestShape(value: Record<string, unknown>, request: string): void {
  for (const key of REQUEST_KEYS) assert.ok(key in value, `request --json lacks "${key}"`);
  assert.equal(value.request, request);
  assert.ok(value.state === "blank" || value.state === "set");
  assert.ok(Number.isSafeInteger(value.generation));
  assertHandle(value);
  if ("time" in value) assert.ok(!Number.isNaN(Date.parse(String(value.time))), "time is ISO-8601");
}

describe("status", () => {
  it("on a missing store is exit 6 naming it and 'reid init', and creates nothing", async (t) => {
    const { dir, store } = tempDir(t);
    for (const json of [[], ["--json"]]) {
      const result = await reid(["--store", store, ...json, "status"]);
      assertOneLineError(result, 6, new RegExp(`^(reid: )?no store at ${store}: 'reid init' creates it$`));
      if (json.length > 0) assert.equal(JSON.parse(result.stderr).error.code, "no-store");
    }
    assert.equal(existsSync(store), false, "status created the store");
    assert.deepEqual(readdirSync(dir), [], "status created something next to the store");
  });

  it("on an empty store directory is blank, generation 0, and writes nothing", async (t) => {
    const { store } = tempDir(t);
    mkdirSync(store, { mode: 0o700 });
    const json = await reidJson(["--store", store, "status"]);
    assertStatusShape(json);
    assert.equal(json.state, "blank");
    assert.equal(json.generation, 0);
    assert.equal(json.source, "os");
    assert.equal(json.format, "raw:32");
    const human = await reidOk(["--store", store, "status"]);
    assert.match(human.stdout, /^state\s+blank$/m);
    assert.match(human.stdout, /^generation\s+0$/m);
    assert.match(human.stdout, /^format\s+raw:32$/m);
    assert.equal(human.stderr, "");
    assert.deepEqual(readdirSync(store), [], "status wrote into the store");
  });
});

describe("requests", () => {
  it("init, init again, reset, erase, erase again, reset on blank: states, generations, identifiers", async (t) => {
    const { store } = tempDir(t);

    const init = await request(store, "init");
    assertRequestShape(init, "init");
    assert.equal(init.state, "set");
    assert.equal(init.generation, 1);
    const first = storedIdentifier(store);
    assert.ok(first && first.length === 32, "init stores 32 raw bytes by default");
    assert.equal((await status(store)).state, "set");

    const again = await assertUnchanged(store, () => reid(["--store", store, "init"]));
    assertOneLineError(again, 3, /already holds an identifier/);
    assertSameSecret(storedIdentifier(store), first);

    const reset = await request(store, "reset");
    assertRequestShape(reset, "reset");
    assert.equal(reset.state, "set");
    assert.equal(reset.generation, 2);
    const second = storedIdentifier(store);
    assertDifferentSecret(second, first);
    assert.ok(second);
    assert.equal(storeContains(store, first), false, "reset left the old identifier in the store");

    const erase = await request(store, "erase");
    assertRequestShape(erase, "erase");
    assert.equal(erase.state, "blank");
    assert.equal(erase.generation, 2, "erase keeps the generation");
    const blank = currentRecord(store);
    assert.equal(blank.state, "blank");
    assert.equal(blank.identifier, null);
    assert.equal(storeContains(store, second), false, "erase left the identifier's bytes in the store");
    const afterErase = await status(store);
    assert.deepEqual([afterErase.state, afterErase.generation], ["blank", 2]);

    const eraseAgain = await assertUnchanged(store, () => reid(["--store", store, "erase"]));
    assertOneLineError(eraseAgain, 3, /no identifier/);

    const revived = await request(store, "reset");
    assert.equal(revived.state, "set");
    assert.equal(revived.generation, 3, "the generation never goes back across erase");
    const third = storedIdentifier(store);
    assertDifferentSecret(third, first);
    assertDifferentSecret(third, second);

    // init after erase: blank -> set again, still counting up.
    await request(store, "erase");
    const reinit = await request(store, "init");
    assert.equal(reinit.generation, 4);
    assert.equal((await status(store)).generation, 4);
  });

  it("reset on a never-initialized store sets generation 1; on a missing one it is exit 6", async (t) => {
    const { store } = tempDir(t);
    assertOneLineError(await reid(["--store", store, "reset"]), 6, /no store at .*: 'reid init' creates it/);
    assert.equal(existsSync(store), false);
    mkdirSync(store, { mode: 0o700 });
    const reset = await request(store, "reset");
    assert.deepEqual([reset.request, reset.state, reset.generation], ["reset", "set", 1]);
    assert.ok(storedIdentifier(store));
  });

  it("erase on a never-initialized store is exit 3; on a missing one exit 6, and creates nothing", async (t) => {
    const { store } = tempDir(t);
    assertOneLineError(await reid(["--store", store, "erase"]), 6, /no store at .*: 'reid init' creates it/);
    assert.equal(existsSync(store), false);
    mkdirSync(store, { mode: 0o700 });
    assertOneLineError(await reid(["--store", store, "erase"]), 3, /no identifier/);
  });

  it("human outputs say what happened", async (t) => {
    const { store } = tempDir(t);
    const init = await reidOk(["--store", store, "init"]);
    assert.match(init.stdout, /^initialized: generation 1\b.*\n$/);
    const reset = await reidOk(["--store", store, "reset"]);
    assert.match(reset.stdout, /^reset: generation 2\b.*\n$/);
    const erase = await reidOk(["--store", store, "erase"]);
    assert.match(erase.stdout, /^erased: the element is blank \(generation 2 kept\).*\n$/);
    const human = await reidOk(["--store", store, "status"]);
    assert.match(human.stdout, /^state\s+blank$/m);
    assert.match(human.stdout, /^generation\s+2$/m);
    assert.match(human.stdout, /^requests\s+init, reset, erase$/m);
    for (const result of [init, reset, erase, human]) assert.equal(result.stderr, "");
  });
});

describe("identifier formats", { concurrency: true }, () => {
  const ALPHABETS = { digits: /^[0-9]+$/, base32: /^[A-Z2-7]+$/ } as const;
  const cases: [option: string, kind: "raw" | "digits" | "base32", length: number][] = [
    ["raw:16", "raw", 16],
    ["raw:64", "raw", 64],
    ["raw", "raw", 32],
    ["digits:39", "digits", 39],
    ["digits:50", "digits", 50],
    ["digits", "digits", 64],
    ["base32:26", "base32", 26],
    ["base32:40", "base32", 40],
    ["base32", "base32", 64],
  ];

  function assertFormat(store: string, kind: "raw" | "digits" | "base32", length: number): Uint8Array {
    const record = currentRecord(store);
    assert.equal(record.format.kind, kind);
    assert.equal(record.format.length, length);
    const identifier = record.identifier;
    assert.ok(identifier, "a set element holds an identifier");
    assert.equal(identifier.length, length, "identifier length");
    if (kind !== "raw") {
      const text = Buffer.from(identifier).toString("latin1");
      assert.ok(ALPHABETS[kind].test(text), `the identifier has a byte outside the ${kind} alphabet`);
    }
    return identifier;
  }

  for (const [option, kind, length] of cases) {
    it(`--format ${option} gives ${kind}:${length}, kept by later resets and across erase`, async (t) => {
      const { store } = tempDir(t);
      await initStore(store, "--format", option);
      const first = assertFormat(store, kind, length);
      assert.equal((await status(store)).format, `${kind}:${length}`);
      await request(store, "reset");
      assertDifferentSecret(assertFormat(store, kind, length), first);
      await request(store, "erase");
      assert.equal((await status(store)).format, `${kind}:${length}`, "a blank element keeps its format");
      await request(store, "reset");
      assertFormat(store, kind, length);
    });
  }

  it("reset --format changes the format, and later resets keep the new one", async (t) => {
    const { store } = tempDir(t);
    await initStore(store, "--format", "digits:40");
    await request(store, "reset", "--format", "base32:30");
    assertFormat(store, "base32", 30);
    await request(store, "reset");
    assertFormat(store, "base32", 30);
    assert.equal((await status(store)).format, "base32:30");
  });
});

describe("single-type mode", () => {
  it("init on a set element and erase are both carried out as resets", async (t) => {
    const { store } = tempDir(t);
    await initStore(store);
    const on = await reidJson(["--store", store, "config", "single-type", "on"]);
    assert.equal(on["single-type"], true);
    assert.equal((await status(store)).requests, "single-type");
    const human = await reidOk(["--store", store, "config"]);
    assert.match(human.stdout, /^single-type on$/m);
    const before = storedIdentifier(store);

    const init = await request(store, "init");
    assertRequestShape(init, "reset");
    assert.deepEqual([init.requested, init.state, init.generation], ["init", "set", 2]);
    const afterInit = storedIdentifier(store);
    assertDifferentSecret(afterInit, before);

    const erase = await request(store, "erase");
    assertRequestShape(erase, "reset");
    assert.deepEqual([erase.requested, erase.state, erase.generation], ["erase", "set", 3]);
    const afterErase = storedIdentifier(store);
    assertDifferentSecret(afterErase, afterInit);
    assert.ok(afterInit && !storeContains(store, afterInit), "the replaced identifier is gone");

    const note = await reidOk(["--store", store, "erase"]);
    assert.match(note.stdout, /^reset: generation 4\b.*single-type mode: 'erase' carried out as reset/);

    const off = await reidJson(["--store", store, "config", "single-type", "off"]);
    assert.equal(off["single-type"], false);
    const typed = await request(store, "erase");
    assert.deepEqual(
      [typed.request, typed.requested, typed.state, typed.generation],
      ["erase", "erase", "blank", 4],
    );
  });

  it("the setting survives erase and is kept in the store", async (t) => {
    const { store } = tempDir(t);
    // A store not initialized yet: its directory, empty.
    mkdirSync(store, { mode: 0o700 });
    await reidOk(["--store", store, "config", "single-type", "on"]);
    assert.equal(currentRecord(store).singleType, true);
    const init = await request(store, "init");
    assert.deepEqual([init.request, init.requested, init.generation], ["reset", "init", 1]);
    assert.equal(currentRecord(store).singleType, true);
  });
});

describe("help and version", { concurrency: true }, () => {
  for (const args of [["help"], ["--help"], ["-h"]]) {
    it(`reid ${args.join(" ")} lists every command`, async (t) => {
      const { store } = tempDir(t);
      const result = await reidOk(["--store", store, ...args]);
      for (const name of ["status", "init", "reset", "erase", "random", "config", "help"]) {
        assert.match(result.stdout, new RegExp(`^ {2}reid .*\\b${name}\\b`, "m"), `help lacks ${name}`);
      }
      assert.match(result.stdout, /Exit codes: 0 ok/);
      assert.equal(result.stderr, "");
      assert.equal(existsSync(store), false);
    });
  }

  for (const name of ["status", "init", "reset", "erase", "random", "config"]) {
    it(`reid ${name} --help and reid help ${name} show its usage and do nothing`, async (t) => {
      const { store } = tempDir(t);
      const flag = await reidOk(["--store", store, name, "--help"]);
      assert.match(flag.stdout, new RegExp(`^usage: reid .*\\b${name}\\b`));
      const topic = await reidOk(["--store", store, "help", name]);
      assert.match(topic.stdout, new RegExp(`^ {2}reid .*\\b${name}\\b`, "m"));
      assert.equal(topic.stdout.match(/^ {2}reid /gm)?.length, 1, "help NAME shows that command only");
      assert.equal(existsSync(store), false, "--help ran the command");
    });
  }

  it("reid --version prints the package version", async () => {
    const result = await reidOk(["--version"]);
    assert.equal(result.stdout, `reid ${VERSION}\n`);
    assert.equal(result.stderr, "");
  });
});

describe("store files", () => {
  it("the store directory is 0700 and the area files 0600, whatever the umask", async (t) => {
    const { dir } = tempDir(t);
    const store = join(dir, "deep", "er", "store");
    await reidOk(["--store", store, "init"], { prefix: ["sh", "-c", 'umask 000; exec "$@"', "sh"] });
    for (const path of [join(dir, "deep"), join(dir, "deep", "er"), store]) {
      assert.equal(statSync(path).mode & 0o777, 0o700, `${path} mode`);
    }
    const FILES = ["area-0", "area-1", "audit.log", "commit-counter", "store.json"];
    assert.deepEqual(readdirSync(store).sort(), FILES);
    for (const file of FILES) assert.equal(statSync(join(store, file)).mode & 0o777, 0o600, `${file} mode`);
    for (const area of ["area-0", "area-1"])
      assert.equal(statSync(join(store, area)).size, AREA_FILE, `${area} size`);
    await reidOk(["--store", store, "reset"]);
    await reidOk(["--store", store, "erase"]);
    assert.deepEqual(readdirSync(store).sort(), FILES, "commits leave no other files");
  });
});

describe("store location", { concurrency: true }, () => {
  type Paths = { home: string; xdg: string; env: string; option: string };
  /** Runs init and status from `args`/`env` and checks the store landed at `expected`, nowhere else. */
  async function initAt(
    t: TestContext,
    args: string[],
    env: (paths: Paths) => NodeJS.ProcessEnv,
    expected: (paths: Paths) => { store: string; root: string },
  ): Promise<void> {
    const { dir } = tempDir(t);
    const paths: Paths = {
      home: join(dir, "home"),
      xdg: join(dir, "xdg"),
      env: join(dir, "env-store"),
      option: join(dir, "option-store"),
    };
    const options = { home: paths.home, env: env(paths) };
    const argv = args.map((arg) => (arg === "OPTION" ? paths.option : arg));
    await reidOk([...argv, "init"], options);
    const { store, root } = expected(paths);
    assert.ok(existsSync(join(store, "area-0")), `the store is not at ${store}`);
    const json = await reidJson([...argv, "status"], options);
    assert.equal(json.state, "set");
    assert.equal(json.store, store);
    const roots = [paths.xdg, paths.env, paths.option, join(paths.home, ".local")];
    assert.deepEqual(roots.filter(existsSync), [root], "only the chosen location was touched");
  }

  it("--store wins over REID_STORE and XDG_DATA_HOME", (t) =>
    initAt(
      t,
      ["--store", "OPTION"],
      (p) => ({ REID_STORE: p.env, XDG_DATA_HOME: p.xdg }),
      (p) => ({ store: p.option, root: p.option }),
    ));

  it("REID_STORE wins over XDG_DATA_HOME", (t) =>
    initAt(
      t,
      [],
      (p) => ({ REID_STORE: p.env, XDG_DATA_HOME: p.xdg }),
      (p) => ({ store: p.env, root: p.env }),
    ));

  it("XDG_DATA_HOME/reid without REID_STORE", (t) =>
    initAt(
      t,
      [],
      (p) => ({ XDG_DATA_HOME: p.xdg }),
      (p) => ({ store: join(p.xdg, "reid"), root: p.xdg }),
    ));

  it("HOME/.local/share/reid without either", (t) =>
    initAt(
      t,
      [],
      () => ({}),
      (p) => ({ store: join(p.home, ".local", "share", "reid"), root: join(p.home, ".local") }),
    ));

  it("the chosen store is the one later commands use", async (t) => {
    const { dir } = tempDir(t);
    const home = join(dir, "home");
    await reidOk(["init"], { home });
    const viaHome = fingerprint(join(home, ".local", "share", "reid"));
    const explicit = await reidJson(["--store", join(home, ".local", "share", "reid"), "status"]);
    assert.equal(explicit.state, "set");
    assert.equal(explicit.generation, 1);
    assert.equal(fingerprint(join(home, ".local", "share", "reid")), viaHome);
  });
});
