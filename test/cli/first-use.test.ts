// The CLI as a new user meets it: each rough edge of the first try, as the command, its exit code
// and its one line. The README's commands run as written; secrets come in every way PINs do; a
// mistyped store, an unknown command or option, an unreachable peer are said to be what they are.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { signatureAlgorithms } from "../../src/derive/signature.js";
import { assertOneLineError, REID, reid, reidJson, reidOk } from "../helpers/cli.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { initStore } from "./store.js";

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const PIN = "first-pin-123";
const NEW_PIN = "second-pin-456";

/** A TCP port nothing listens on: taken from the kernel, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `cat FILE | reid ARGS`: stdin a pipe, not a terminal. */
function piped(file: string): readonly string[] {
  return ["sh", "-c", 'cat "$0" | "$@"', file];
}

describe("the README", () => {
  it("spells the command one way, `reid`, and says once how to get it", () => {
    assert.doesNotMatch(README, /node dist\/reid\.js/);
    assert.equal(README.match(/npm link/g)?.length, 1, "npm link is named once");
    assert.match(README, /REID_PIN_NEW/, "the README says how to give pin set its PIN without a terminal");
  });

  it("the first five minutes run as pasted: a new identity, a PIN, a reset that ends the old one", async (t) => {
    const section = README.split("### The first five minutes")[1];
    const block = section?.match(/```sh\n([\s\S]*?)```/)?.[1];
    assert.ok(block, "the README has the walk-through's block");
    const { dir } = tempDir(t);
    // `reid` on the PATH as `npm link` puts it there; mktemp -d lands in the test's own directory.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "reid"), `#!/bin/sh\nexec "${process.execPath}" "${REID}" "$@"\n`, {
      mode: 0o755,
    });
    const shell = spawnSync("bash", ["-e", "-c", block], {
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir, TMPDIR: dir },
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(shell.status, 0, `the block stopped: ${shell.stderr.trim()}`);
    const handles = [...shell.stdout.matchAll(/^handle\s+([0-9a-f]{32})$/gm)].map((m) => m[1]);
    assert.equal(handles.length, 2, "status and keys each name the handle");
    assert.match(shell.stdout, /^signature verifies: note\.txt/m);
    assert.match(shell.stdout, /^Recovery code \(shown only now/m);
    const reset = shell.stdout.match(/^reset: generation 2, handle ([0-9a-f]{32})/m);
    assert.ok(reset, "the reset says its new handle");
    assert.notEqual(reset[1], handles[0], "the reset made a new identity");
    assert.match(shell.stdout, /^the old signature no longer verifies/m);
    assert.match(shell.stdout, /^audit log intact: 4 records/m);
  });
});

describe("a store that does not exist", () => {
  it("is exit 6 naming it and 'reid init' for every command but init, which creates it", async (t) => {
    const { store } = tempDir(t);
    const mistyped = join(store, "mistyped", "path");
    for (const args of [["status"], ["reset"], ["keys"], ["log"], ["bindings"]]) {
      const result = await reid(["--store", mistyped, ...args]);
      assertOneLineError(result, 6, new RegExp(`^reid: no store at ${mistyped}: 'reid init' creates it$`));
    }
    const json = await reid(["--store", mistyped, "--json", "status"]);
    assert.deepEqual(JSON.parse(json.stderr), {
      error: { code: "no-store", message: `no store at ${mistyped}: 'reid init' creates it` },
    });
    await reidOk(["--store", mistyped, "init"]);
    assert.equal((await reidJson(["--store", mistyped, "status"])).state, "set");
  });
});

describe("a new PIN without a terminal", () => {
  it("comes from REID_PIN_NEW or a pipe (read once), never mistaken for REID_PIN", async (t) => {
    const { dir, store } = tempDir(t);
    await initStore(store);
    // REID_PIN is the present PIN: given alone to pin set it is refused, saying so.
    const refused = await reid(["--store", store, "pin", "set"], { env: { REID_PIN: PIN } });
    assertOneLineError(
      refused,
      2,
      /^reid: give the new PIN with --new-pin-file FILE, REID_PIN_NEW or on stdin \(REID_PIN is the present PIN, not the new one\)$/,
    );
    const bad = await reid(["--store", store, "pin", "set"], { env: { REID_PIN_NEW: "12345" } });
    assertOneLineError(bad, 2, /^reid: a PIN has 6 to 128 characters and no line breaks$/);

    const set = await reidOk(["--store", store, "pin", "set"], { env: { REID_PIN_NEW: PIN } });
    assert.match(set.stdout, /^PIN set\.\nRecovery code [^\n]*: [A-Z2-9-]{24}\n$/);
    assert.ok(!`${set.stdout}${set.stderr}`.includes(PIN), "the PIN was shown");
    await reidOk(["--store", store, "reset"], { env: { REID_PIN: PIN } });

    // Piped: one line, no second entry asked for; the present PIN from REID_PIN as ever.
    const newPin = secretFile(dir, "new-pin", `${NEW_PIN}\n`);
    const change = await reid(["--store", store, "pin", "change"], {
      env: { REID_PIN: PIN },
      prefix: piped(newPin),
    });
    assert.deepEqual([change.code, change.stdout, change.stderr], [0, "PIN changed.\n", ""]);
    const old = await reid(["--store", store, "reset"], { env: { REID_PIN: PIN } });
    assertOneLineError(old, 4, /^reid: wrong PIN \(4 tries left before the element locks\)$/);
  });
});

describe("PIN messages say what is true", () => {
  it("one wrong PIN: '4 tries left', then '1 wrong PIN in a row', and status counts '1 wrong try'", async (t) => {
    const { store } = tempDir(t);
    await initStore(store);
    await reidOk(["--store", store, "pin", "set"], { env: { REID_PIN_NEW: PIN } });
    const wrong = await reid(["--store", store, "reset"], { env: { REID_PIN: "not-the-pin" } });
    assertOneLineError(wrong, 4, /^reid: wrong PIN \(4 tries left before the element locks\)$/);
    // Held inside the back-off however slowly the next command starts: the failure put ahead.
    const ownerFile = join(store, "owner.json");
    const owner = JSON.parse(readFileSync(ownerFile, "utf8")) as { lastFailure: string };
    owner.lastFailure = new Date(Date.now() + 3_600_000).toISOString();
    writeFileSync(ownerFile, JSON.stringify(owner));
    const early = await reid(["--store", store, "reset"], { env: { REID_PIN: PIN } });
    assertOneLineError(early, 4, /^reid: 1 wrong PIN in a row: try again in 1 s$/);
    assert.match((await reidOk(["--store", store, "status"])).stdout, /^owner PIN\s+set \(1 wrong try\)$/m);
  });
});

describe("verify", () => {
  it("tells the algorithm from the signature: a P-256 one verifies without --alg", async (t) => {
    const { dir, store } = tempDir(t);
    await initStore(store);
    const message = secretFile(dir, "msg", "hello\n");
    const signature = join(dir, "msg.sig");
    await reidOk(["--store", store, "sign", message, "--alg", "p256", "--out", signature]);
    const { handle } = await reidJson<{ handle: string }>(["--store", store, "keys"]);
    const verified = await reidOk(["--store", store, "verify", message, signature]);
    assert.equal(verified.stdout, `signature verifies: ${message}, handle ${handle}, p256\n`);
    const junk = secretFile(dir, "junk.sig", Buffer.alloc(10, 1));
    assertOneLineError(
      await reid(["--store", store, "verify", message, junk]),
      4,
      /^reid: the signature in \S+junk\.sig is neither an Ed25519 signature \(64 bytes\) nor an ECDSA P-256 one \(DER\)$/,
    );
  });

  it("reads the form alone: DER is P-256, 64 bytes Ed25519, a 64-byte DER one could be either", () => {
    const der = (r: number, s: number) =>
      Uint8Array.from([0x30, 4 + r + s, 0x02, r, ...Array(r).fill(1), 0x02, s, ...Array(s).fill(2)]);
    assert.deepEqual(signatureAlgorithms(der(32, 32)), ["p256"]);
    assert.deepEqual(signatureAlgorithms(der(33, 31)), ["p256"]);
    assert.deepEqual(signatureAlgorithms(der(29, 29)), ["p256", "ed25519"]);
    assert.deepEqual(signatureAlgorithms(new Uint8Array(64).fill(0x30)), ["ed25519"]);
    // Known-bad DER: a length that does not add up, an integer of 34 bytes, a wrong tag.
    const cut = der(32, 32).slice(0, 60);
    assert.deepEqual(signatureAlgorithms(cut), []);
    assert.deepEqual(signatureAlgorithms(der(34, 30)), []);
    const tagged = der(32, 32);
    tagged[2] = 0x04;
    assert.deepEqual(signatureAlgorithms(tagged), []);
  });
});

describe("a peer that cannot be reached is exit 7, naming it", () => {
  it("a device", async (t) => {
    const { dir, store } = tempDir(t);
    await initStore(store);
    const port = await closedPort();
    const code = secretFile(dir, "code", "ABCDE-FGHJK\n");
    const handle = "0123456789abcdef0123456789abcdef";
    const result = await reid([
      "--store",
      store,
      "bind",
      `127.0.0.1:${port}`,
      "--expect-handle",
      handle,
      "--code-file",
      code,
    ]);
    assertOneLineError(
      result,
      7,
      new RegExp(`^reid: cannot reach the device at 127\\.0\\.0\\.1:${port}: ECONNREFUSED$`),
    );
  });

  it("the daemon: a socket left by a daemon that is gone", async (t) => {
    const { store } = tempDir(t);
    await initStore(store);
    // A socket file nobody listens on (a killed daemon's): bound, then closed.
    const made = spawnSync("python3", [
      "-c",
      "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()",
      join(store, "reid.sock"),
    ]);
    assert.equal(made.status, 0, made.stderr.toString());
    const result = await reid(["--store", store, "--json", "events", "--follow"]);
    assertOneLineError(
      result,
      7,
      /^no daemon serves store .* \(connection refused \(ECONNREFUSED\)\): start 'reid serve'/,
    );
    assert.equal(JSON.parse(result.stderr).error.code, "daemon-unreachable");
  });

  it("the registry", async (t) => {
    const { dir, store } = tempDir(t);
    await initStore(store);
    const port = await closedPort();
    const token = secretFile(dir, "token", `${"A".repeat(43)}\n`);
    const pin = `sha256:${"ab".repeat(32)}`;
    const result = await reid([
      "--store",
      store,
      "enroll",
      `https://127.0.0.1:${port}`,
      "--ca-fingerprint",
      pin,
      "--token-file",
      token,
    ]);
    assertOneLineError(
      result,
      7,
      new RegExp(`^reid: cannot reach the registry at 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`),
    );
  });
});

describe("--version, help and typos", () => {
  it("--version honours --json and is in the help", async () => {
    assert.equal((await reidOk(["--version"])).stdout, `reid ${VERSION}\n`);
    assert.deepEqual(await reidJson(["--version"]), { version: VERSION });
    assert.deepEqual(JSON.parse((await reidOk(["--json", "status", "--version"])).stdout), {
      version: VERSION,
    });
    const help = (await reidOk(["help"])).stdout;
    assert.match(help, /^ {7}reid --version \[--json\]/m);
    assert.match(help, /7 unreachable/);
  });

  it("an unknown command or option gets a 'did you mean' when one is close, exit 2", async () => {
    const cases: [string[], string][] = [
      [["statu"], "unknown command 'statu': did you mean 'status'?"],
      [["help", "rest"], "unknown command 'rest': did you mean 'reset'?"],
      [["frobnicate"], "unknown command 'frobnicate' (see 'reid help')"],
      [["status", "--jsno"], "unknown option '--jsno' for 'reid status': did you mean '--json'?"],
      [["keys", "--al"], "unknown option '--al' for 'reid keys': did you mean '--alg'?"],
      [["events", "--folow"], "unknown option '--folow' for 'reid events': did you mean '--follow'?"],
      [["status", "--colour"], "unknown option '--colour' for 'reid status'"],
      [["--stor", "x", "status"], "unknown option '--stor' before the command: did you mean '--store'?"],
      // The name only, never a value that came with it.
      [["--pin=1234", "status"], "unknown option '--pin' before the command: did you mean '--pin-file'?"],
    ];
    for (const [args, message] of cases) {
      const result = await reid(args);
      assertOneLineError(result, 2);
      assert.equal(result.stderr, `reid: ${message}\n`, `reid ${args.join(" ")}`);
    }
    const json = await reid(["--json", "statu"]);
    assert.equal(JSON.parse(json.stderr).error.code, "unknown-command");
  });
});

describe("reid completion", () => {
  const names = ["status", "init", "reset", "verify", "pin", "completion", "registry", "help"];

  it("bash: a script bash accepts, completing commands, global and command options", async (t) => {
    const { dir } = tempDir(t);
    const script = join(dir, "reid.bash");
    writeFileSync(script, (await reidOk(["completion", "bash"])).stdout);
    const syntax = spawnSync("bash", ["-n", script]);
    assert.equal(syntax.status, 0, syntax.stderr.toString());
    const complete = (...words: string[]) => {
      const run = spawnSync("bash", [
        "-c",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own ${...}, not a template
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _reid; printf "%s\\n" "${COMPREPLY[@]}"',
        "bash",
        script,
        ...words,
      ]);
      assert.equal(run.status, 0, run.stderr.toString());
      return run.stdout
        .toString()
        .split("\n")
        .filter((line) => line !== "");
    };
    assert.deepEqual(complete("reid", "sta"), ["status"]);
    assert.deepEqual(complete("reid", "re").sort(), ["registry", "renew", "reset"]);
    assert.deepEqual(complete("reid", "--store", "/tmp/x", "ver"), ["verify"]);
    assert.deepEqual(complete("reid", "--js"), ["--json"]);
    assert.deepEqual(complete("reid", "keys", "--p").sort(), ["--pem", "--pin-file", "--pkcs11"]);
    assert.deepEqual(complete("reid", "events", "--f"), ["--follow"]);
    // After an option that takes a value, nothing is offered: the shell completes file names.
    assert.deepEqual(complete("reid", "--store", "sta"), []);
  });

  it("zsh and fish: scripts naming every command; another shell is exit 2", async () => {
    const zsh = (await reidOk(["completion", "zsh"])).stdout;
    assert.match(zsh, /^#compdef reid\n/);
    const fish = (await reidOk(["completion", "fish"])).stdout;
    for (const name of names) {
      assert.match(zsh, new RegExp(`\\(${name}\\) options\\+=`), `zsh lacks ${name}`);
      assert.match(fish, new RegExp(`^complete -c reid -n __fish_use_subcommand -a ${name} -d '`, "m"));
    }
    assert.match(fish, /^complete -c reid -n '__fish_seen_subcommand_from keys' -l alg -r$/m);
    assert.match(fish, /^complete -c reid -l store -r$/m);
    assertOneLineError(
      await reid(["completion", "tcsh"]),
      2,
      /^reid: bad shell 'tcsh': expected bash, zsh, fish$/,
    );
  });
});
