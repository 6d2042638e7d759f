// Bad input of any kind: one line naming what was wrong, the right exit code, no stack trace, and the
// store exactly as it was (or still absent).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { assertOneLineError, type CliResult, reid, reidOk } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { assertNoSecretIn, assertUnchanged, currentRecord, fingerprint } from "./store.js";

/** A store with an identifier whose current record sits in area-1 (init, then reset). */
let template = "";
before(async () => {
  const dir = join(tmpdir(), `reid-bad-input-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  template = join(dir, "store");
  await reidOk(["--store", template, "init"]);
  await reidOk(["--store", template, "reset"]);
  assert.equal(currentRecord(template).area, 1);
});
after(() => rmSync(join(template, ".."), { recursive: true, force: true }));

/** A private copy of the template store. */
function setStore(t: TestContext): string {
  const { store } = tempDir(t);
  cpSync(template, store, { recursive: true });
  chmodSync(store, 0o700);
  return store;
}

/** JSON error output: one object {"error":{"code","message"}} on stderr, nothing on stdout. */
function assertJsonError(result: CliResult, exitCode: number, pattern: RegExp): void {
  assertOneLineError(result, exitCode, pattern);
  const parsed = JSON.parse(result.stderr) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(parsed), ["error"]);
  assert.deepEqual(Object.keys(parsed.error).sort(), ["code", "message"]);
  assert.match(parsed.error.code, /^[a-z][a-z-]*$/);
}

type Case = readonly [what: string, args: readonly string[], pattern: RegExp, env?: NodeJS.ProcessEnv];

/**
 * Input judged against the store (a --format's N against what its areas hold): on a missing store
 * there is nothing to judge it by, and the missing store is what is said (exit 6), for any command
 * but init, which creates the store.
 */
const JUDGED_BY_THE_STORE = new Set([
  "--format raw:65 (too long)",
  "--format digits:38 (too short)",
  "--format raw:",
]);

const USAGE: readonly Case[] = [
  ["unknown command", ["frob"], /unknown command 'frob'/],
  ["unknown command in help", ["help", "frob"], /unknown command 'frob'/],
  ["no command", [], /no command/],
  ["unknown option", ["status", "--frob"], /unknown option '--frob'/],
  ["unknown option before the command", ["--frob", "init"], /unknown option '--frob'/],
  ["unknown short option", ["reset", "-x"], /unknown option '-x'/],
  ["an option of another command", ["erase", "--format", "raw"], /unknown option '--format'/],
  ["option missing its value", ["init", "--format"], /'--format'.* needs a value/],
  ["global option missing its value", ["status", "--source"], /'--source'.* needs a value/],
  ["global option missing its value before the command", ["--source"], /'--source' needs a value/],
  ["a value for a flag", ["status", "--json=yes"], /'--json'.* takes no value/],
  ["extra positional", ["status", "now"], /unexpected argument 'now'/],
  ["extra positional for a request", ["init", "again"], /unexpected argument 'again'/],
  ["bad config setting", ["config", "colour", "on"], /unknown setting 'colour'/],
  ["bad config value", ["config", "single-type", "maybe"], /'on' or 'off'/],
  ["--bytes 0", ["random", "--bytes", "0"], /bad --bytes '0'/],
  ["--bytes -3", ["random", "--bytes", "-3"], /'--bytes'.* needs a value/],
  ["--bytes=-3", ["random", "--bytes=-3"], /bad --bytes '-3'/],
  ["--bytes abc", ["random", "--bytes", "abc"], /bad --bytes 'abc'/],
  ["--bytes 1.5", ["random", "--bytes", "1.5"], /bad --bytes '1\.5'/],
  ["--bytes 99999999999999999", ["random", "--bytes", "99999999999999999"], /bad --bytes '9+'/],
  ["--bytes beyond 2^50", ["random", "--bytes", "1048577G"], /bad --bytes '1048577G'/],
  ["--bytes 5X", ["random", "--bytes", "5X"], /bad --bytes '5X'/],
  ["--bytes empty", ["random", "--bytes="], /bad --bytes ''/],
  ["missing --bytes", ["random"], /needs --bytes/],
  ["missing --bytes with --hex", ["random", "--hex"], /needs --bytes/],
  ["--json random above its limit", ["random", "--bytes", "1M", "--json"], /at most 65536 bytes/],
  ["--format xyz", ["init", "--format", "xyz"], /bad --format 'xyz'/],
  ["--format raw:8 (too short)", ["init", "--format", "raw:8"], /bad --format 'raw:8'.*16\.\.64/],
  ["--format raw:65 (too long)", ["reset", "--format", "raw:65"], /bad --format 'raw:65'/],
  ["--format digits:200 (too long)", ["init", "--format", "digits:200"], /bad --format 'digits:200'/],
  ["--format digits:38 (too short)", ["reset", "--format", "digits:38"], /bad --format 'digits:38'/],
  ["--format base32:25 (too short)", ["init", "--format", "base32:25"], /bad --format 'base32:25'/],
  ["--format digits:abc", ["init", "--format", "digits:abc"], /bad --format 'digits:abc'/],
  ["--format raw:", ["reset", "--format", "raw:"], /bad --format 'raw:'/],
  [
    "--format with a line break and a terminal escape",
    ["init", "--format", "raw\n\u001b[31mred"],
    /bad --format 'raw\\u\{a\}\\u\{1b\}\[31mred'/,
  ],
  ["unknown command with a line break", ["fo\u2028o"], /unknown command 'fo\\u\{2028\}o'/],
  ["--source foo", ["--source", "foo", "init"], /bad --source 'foo'/],
  ["--source device: without a path", ["reset", "--source", "device:"], /bad --source 'device:'/],
  [
    "--source with a bad min-entropy",
    ["init", "--source", "device:/dev/urandom,min-entropy=9"],
    /bad --source 'device:\/dev\/urandom,min-entropy=9'/,
  ],
  ["REID_SOURCE foo", ["init"], /bad --source 'foo'/, { REID_SOURCE: "foo" }],
  ["REID_LOCK_TIMEOUT abc", ["status"], /bad REID_LOCK_TIMEOUT 'abc'/, { REID_LOCK_TIMEOUT: "abc" }],
  ["REID_LOCK_TIMEOUT -1", ["reset"], /bad REID_LOCK_TIMEOUT '-1'/, { REID_LOCK_TIMEOUT: "-1" }],
  ["REID_LOCK_TIMEOUT 1e9", ["init"], /bad REID_LOCK_TIMEOUT '1e9'/, { REID_LOCK_TIMEOUT: "1e9" }],
];

describe("usage errors: exit 2, one line, nothing changed", { concurrency: 8 }, () => {
  for (const [what, args, pattern, env] of USAGE) {
    it(what, async (t) => {
      const options = env ? { env } : {};
      const store = setStore(t);
      const plain = await assertUnchanged(store, () => reid(["--store", store, ...args], options));
      assertOneLineError(plain, 2, pattern);
      const json = await assertUnchanged(store, () => reid(["--json", "--store", store, ...args], options));
      assertJsonError(json, 2, pattern);
      const { store: missing } = tempDir(t);
      const onMissing = await reid(["--store", missing, ...args], options);
      if (JUDGED_BY_THE_STORE.has(what))
        assertOneLineError(onMissing, 6, /no store at .*'reid init' creates it/);
      else assertOneLineError(onMissing, 2, pattern);
      assert.equal(existsSync(missing), false, "a usage error created the store");
    });
  }
});

/** What a broken store looks like; each returns the path to pass as --store. */
type Breakage = (t: TestContext) => string;

const BROKEN: readonly [what: string, breakage: Breakage, pattern: RegExp][] = [
  [
    "the store path is a regular file",
    (t) => {
      const { store } = tempDir(t);
      writeFileSync(store, "not a store\n", { mode: 0o600 });
      return store;
    },
    /store .* is not a directory/,
  ],
  [
    "the store directory is open to others (0755)",
    (t) => {
      const store = setStore(t);
      chmodSync(store, 0o755);
      return store;
    },
    /open to other users \(mode 0755\); run: chmod 700 /,
  ],
  [
    "the store directory is open to its group (0750)",
    (t) => {
      const store = setStore(t);
      chmodSync(store, 0o750);
      return store;
    },
    /open to other users \(mode 0750\); run: chmod 700 /,
  ],
  [
    "an area file is a directory",
    (t) => {
      const store = setStore(t);
      rmSync(join(store, "area-0"));
      mkdirSync(join(store, "area-0"), { mode: 0o700 });
      return store;
    },
    /area-0: is a directory/,
  ],
  [
    "the current area holds random garbage",
    (t) => {
      const store = setStore(t);
      writeFileSync(join(store, "area-1"), randomBytes(256));
      return store;
    },
    /corrupt/,
  ],
  [
    "one byte of the stored identifier is flipped",
    (t) => {
      const store = setStore(t);
      const bytes = readFileSync(join(store, "area-1"));
      bytes[40] = (bytes[40] ?? 0) ^ 0x01;
      writeFileSync(join(store, "area-1"), bytes);
      return store;
    },
    /corrupt.*checksum/,
  ],
  [
    "the current area file is truncated",
    (t) => {
      const store = setStore(t);
      truncateSync(join(store, "area-1"), 100);
      return store;
    },
    /corrupt.*100 bytes/,
  ],
  [
    "the current area file is empty",
    (t) => {
      const store = setStore(t);
      truncateSync(join(store, "area-1"), 0);
      return store;
    },
    /corrupt/,
  ],
  [
    "the current area file is longer than an area",
    (t) => {
      const store = setStore(t);
      writeFileSync(join(store, "area-1"), Buffer.alloc(10), { flag: "a" });
      return store;
    },
    /corrupt/,
  ],
  [
    "an area file is missing",
    (t) => {
      const store = setStore(t);
      rmSync(join(store, "area-0"));
      return store;
    },
    /damaged: area-0 is missing/,
  ],
  [
    "both areas are zeroed",
    (t) => {
      const store = setStore(t);
      writeFileSync(join(store, "area-1"), Buffer.alloc(256));
      return store;
    },
    /corrupt/,
  ],
];

const TOUCHING_THE_STORE: readonly (readonly string[])[] = [
  ["status"],
  ["init"],
  ["init", "--format", "digits"],
  ["reset"],
  ["erase"],
  ["config"],
  ["config", "single-type", "on"],
];

describe("unusable stores: exit 6, one line, nothing changed, no identifier shown", {
  concurrency: 4,
}, () => {
  const identifier = (): Uint8Array => {
    const id = currentRecord(template).identifier;
    assert.ok(id);
    return id;
  };
  for (const [what, breakage, pattern] of BROKEN) {
    it(what, async (t) => {
      const store = breakage(t);
      const before = fingerprint(store);
      for (const args of TOUCHING_THE_STORE) {
        const result = await reid(["--store", store, ...args]);
        assertOneLineError(result, 6, pattern);
        assertNoSecretIn(result, [identifier()], `reid ${args.join(" ")}`);
      }
      const json = await reid(["--store", store, "--json", "reset"]);
      assertJsonError(json, 6, pattern);
      assertNoSecretIn(json, [identifier()], "reid --json reset");
      assert.equal(fingerprint(store), before, "the store changed");
    });
  }

  it("a store under a regular file cannot be created (exit 6), and nothing is", async (t) => {
    const { dir } = tempDir(t);
    writeFileSync(join(dir, "file"), "x");
    const store = join(dir, "file", "store");
    // Reading needs a store, so status says there is none; init cannot make one there.
    assertOneLineError(await reid(["--store", store, "status"]), 6, /no store at .*: 'reid init' creates it/);
    assertOneLineError(await reid(["--store", store, "init"]), 6, /not a directory/);
    assert.equal(readFileSync(join(dir, "file"), "utf8"), "x");
  });
});

describe("state conflicts with --json", () => {
  it("init on a set element and erase on a blank one print one JSON error", async (t) => {
    const store = setStore(t);
    const init = await assertUnchanged(store, () => reid(["--json", "--store", store, "init"]));
    assertJsonError(init, 3, /already holds an identifier/);
    assert.equal(JSON.parse(init.stderr).error.code, "already-initialized");
    const { store: blank } = tempDir(t);
    mkdirSync(blank, { mode: 0o700 });
    const erase = await reid(["--store", blank, "erase", "--json"]);
    assertJsonError(erase, 3, /no identifier/);
    assert.equal(JSON.parse(erase.stderr).error.code, "already-blank");
  });
});
