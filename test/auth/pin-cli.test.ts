// The owner PIN through the CLI (issue 4, parts 2 and 4), straight on the store and through a real
// `reid serve` child process. `pin set` prints the recovery code once; from then on every owner
// operation needs the PIN (--pin-file, REID_PIN or the terminal prompt, never argv) and is refused
// without it in one line, exit 4. Five wrong PINs lock the element, a daemon restart keeps it
// locked, and the recovery code unlocks it. The prompt works on a real terminal (a pty from
// `script`) and never echoes what is typed.
//
// The back-off between wrong PINs (1, 2, 4, 8 s) is real time here; instead of sleeping through it
// the tests move the last failure's time in owner.json into the past, exactly what waiting would
// amount to (test/auth/owner-pin.test.ts checks the waits themselves on a fake clock). Every CLI
// run gets REID_LOCK_TIMEOUT=0, so in daemon mode a command that did not go through the daemon
// would fail at once on the store lock the daemon holds.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { assertOneLineError, type CliResult, REID, reid } from "../helpers/cli.js";
import { type ServedDaemon, serve, stopCleanly } from "../helpers/daemon.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { onTerminal } from "../helpers/terminal.js";

const PIN = "4711-owner-pin";
const RECOVERY_CODE = /[A-HJ-NP-Z2-9]{4}(?:-[A-HJ-NP-Z2-9]{4}){4}/;

const MODES = ["direct", "daemon"] as const;
type Mode = (typeof MODES)[number];

/** Every recovery code in `text`. */
function recoveryCodes(text: string): string[] {
  return text.match(new RegExp(RECOVERY_CODE.source, "g")) ?? [];
}

interface Session {
  readonly mode: Mode;
  readonly dir: string;
  readonly store: string;
  readonly env: NodeJS.ProcessEnv;
  readonly pinFile: string;
  readonly wrapKey: string;
  /** Runs `reid --store STORE ARGS` with the session's environment plus `env`. */
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  ok(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** Stops the daemon and starts a new one (direct mode: nothing to restart). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function session(t: TestContext, mode: Mode): Promise<Session> {
  const { dir, store } = tempDir(t, "reid-pin-cli-");
  const kek = secretFile(dir, "kek", randomBytes(32));
  const env = { REID_LOCK_TIMEOUT: "0", REID_KEK_FILE: kek };
  let daemon: ServedDaemon | null = mode === "daemon" ? await serve(t, store, { env }) : null;
  const run = (args: readonly string[], extra: NodeJS.ProcessEnv = {}) =>
    reid(["--store", store, ...args], { env: { ...env, ...extra } });
  return {
    mode,
    dir,
    store,
    env,
    pinFile: secretFile(dir, "pin", `${PIN}\n`),
    wrapKey: secretFile(dir, "wrap-key", randomBytes(32)),
    run,
    ok: async (args, extra) => {
      const result = await run(args, extra);
      assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
      return result;
    },
    restart: async () => {
      if (!daemon) return;
      await stopCleanly(daemon);
      daemon = await serve(t, store, { env });
    },
    stop: async () => {
      if (daemon) await stopCleanly(daemon);
      daemon = null;
    },
  };
}

/** The element's files (not the audit log, which records refusals too, nor the daemon's socket). */
const ELEMENT_FILES = ["area-0", "area-1", "owner.json", "schedule.json"];

function fingerprint(store: string): string {
  return ELEMENT_FILES.map((name) => {
    const path = join(store, name);
    if (!existsSync(path)) return `${name} absent`;
    return `${name} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
  }).join("\n");
}

/** Runs `check` and asserts that the element's files are exactly as they were before. */
async function assertUnchanged(store: string, check: () => Promise<void>): Promise<void> {
  const before = fingerprint(store);
  await check();
  assert.equal(fingerprint(store), before, "the element changed");
}

/** The error code of a failed `--json` run. */
function errorCode(result: CliResult): string {
  const parsed = JSON.parse(result.stderr) as { error: { code: string } };
  return parsed.error.code;
}

interface OwnerJson {
  failures: number;
  lastFailure: string | null;
}

function ownerState(store: string): OwnerJson {
  return JSON.parse(readFileSync(join(store, "owner.json"), "utf8")) as OwnerJson;
}

/** What waiting out the back-off amounts to: the last failure moved an hour into the past. */
function expireBackoff(store: string): void {
  const path = join(store, "owner.json");
  const state = JSON.parse(readFileSync(path, "utf8")) as OwnerJson;
  if (state.lastFailure === null) return;
  state.lastFailure = new Date(Date.now() - 3_600_000).toISOString();
  writeFileSync(path, JSON.stringify(state));
}

/** Keeps the back-off on: the last failure put an hour ahead of the clock (a clock set back). */
function holdBackoff(store: string): void {
  const path = join(store, "owner.json");
  const state = JSON.parse(readFileSync(path, "utf8")) as OwnerJson;
  state.lastFailure = new Date(Date.now() + 3_600_000).toISOString();
  writeFileSync(path, JSON.stringify(state));
}

async function setPin(s: Session): Promise<string> {
  const result = await s.ok(["pin", "set", "--new-pin-file", s.pinFile]);
  const codes = recoveryCodes(result.stdout);
  assert.equal(codes.length, 1, "pin set shows the recovery code exactly once");
  return codes[0] as string;
}

// The two modes side by side: each has its own store (and daemon).
describe("owner PIN through the CLI", { concurrency: true }, () => {
  for (const mode of MODES) {
    describe(`owner PIN through the CLI (${mode})`, { concurrency: false }, () => {
      it("a PIN no PIN can be (empty, over 128 characters) is bad input: exit 2 in one line, never counted", async (t) => {
        const s = await session(t, mode);
        await s.ok(["init"]);
        await s.ok(["pin", "set", "--new-pin-file", s.pinFile]);
        const empty = secretFile(s.dir, "empty-pin", "\n");
        const long = secretFile(s.dir, "long-pin", "7".repeat(129));
        await assertUnchanged(s.store, async () => {
          for (const [file, why] of [
            [empty, "empty"],
            [long, "129 characters"],
          ] as const) {
            const result = await s.run(["--json", "--pin-file", file, "reset"]);
            assertOneLineError(result, 2, /must have 1 to 128 characters/);
            assert.equal(errorCode(result), "usage", why);
          }
          const fromEnv = await s.run(["reset"], { REID_PIN: "x".repeat(200) });
          assertOneLineError(fromEnv, 2, /^reid: REID_PIN must have 1 to 128 characters$/);
          // A schedule id no schedule has: too long to be one, refused as input whichever way it went.
          const cancel = await s.run(["--pin-file", s.pinFile, "schedule", "cancel", "a".repeat(1025)]);
          assertOneLineError(cancel, 2, /'id' must be a string of at most 1024 characters/);
        });
        const status = JSON.parse((await s.ok(["--json", "status"])).stdout) as { owner: unknown };
        assert.deepEqual(
          status.owner,
          { pin: true, failures: 0, locked: false, passkeysBypassLockout: false, unlockedUntil: null },
          "a bad PIN was counted",
        );
      });

      it("pin set prints the recovery code once; then every owner operation needs the PIN, given by file or environment", async (t) => {
        const s = await session(t, mode);
        const future = new Date(Date.now() + 30 * 86_400_000).toISOString();
        await s.ok(["init"]);
        const pending = JSON.parse((await s.ok(["--json", "reset", "--at", future])).stdout) as {
          scheduled: { id: string };
        };

        // Set: the code once on stdout, nothing on stderr, never again afterwards.
        const set = await s.ok(["pin", "set", "--new-pin-file", s.pinFile]);
        assert.match(
          set.stdout,
          /^PIN set\.\nRecovery code \(shown only now; keep it offline, it unlocks the element\): /,
        );
        const codes = recoveryCodes(set.stdout);
        assert.equal(codes.length, 1);
        assert.equal(set.stderr, "");
        assert.ok(!set.stdout.includes(PIN));
        const status = JSON.parse((await s.ok(["--json", "status"])).stdout) as { owner: unknown };
        assert.deepEqual(status.owner, {
          pin: true,
          failures: 0,
          locked: false,
          passkeysBypassLockout: false,
          unlockedUntil: null,
        });
        // A second set is refused: the PIN is changed with the present one, never replaced without it.
        const again = await s.run(["--json", "pin", "set", "--new-pin-file", s.pinFile]);
        assertOneLineError(again, 3, /use 'reid pin change'/);
        assert.equal(errorCode(again), "pin-already-set");

        // Without the PIN: exit 4, one line, code pin-required, and the store as it was.
        const newPin = secretFile(s.dir, "new-pin", "a-new-pin-2024");
        const gated: string[][] = [
          ["init"],
          ["reset"],
          ["erase"],
          ["reset", "--format", "digits:40"],
          ["config", "single-type", "on"],
          ["config", "single-type", "off"],
          ["seal"],
          ["export", "--wrap-key", s.wrapKey],
          ["init", "--at", future],
          ["erase", "--at", future],
          ["schedule", "cancel", pending.scheduled.id],
          ["pin", "change", "--new-pin-file", newPin],
        ];
        await assertUnchanged(s.store, async () => {
          for (const [n, args] of gated.entries()) {
            const json = await s.run(["--json", ...args]);
            assertOneLineError(
              json,
              4,
              /^a PIN is set: give it with --pin-file FILE, REID_PIN or at the prompt$/,
            );
            assert.equal(errorCode(json), "pin-required", `reid ${args.join(" ")}`);
            if (n > 2) continue;
            const plain = await s.run(args);
            assertOneLineError(
              plain,
              4,
              /^reid: a PIN is set: give it with --pin-file FILE, REID_PIN or at the prompt$/,
            );
            // An empty REID_PIN is no PIN.
            assertOneLineError(await s.run(args, { REID_PIN: "" }), 4, /a PIN is set/);
          }
        });
        // Reading needs no PIN: status, settings, the schedule, the log.
        for (const args of [["status"], ["config"], ["schedule", "list"], ["log"], ["log", "--verify"]]) {
          await s.ok(args);
        }

        // With --pin-file, and with REID_PIN, the same operations go through.
        const file = ["--pin-file", s.pinFile];
        const env = { REID_PIN: PIN };
        await s.ok([...file, "reset"]);
        await s.ok(["reset", "--format", "digits:40"], env);
        await s.ok([...file, "config", "single-type", "on"]);
        await s.ok(["config", "single-type", "off"], env);
        assert.match(
          (await s.ok([...file, "export", "--wrap-key", s.wrapKey])).stdout,
          /^(?:[0-9a-f]{16}){5,}\n$/,
        );
        const scheduled = JSON.parse((await s.ok(["--json", "erase", "--at", future], env)).stdout) as {
          scheduled: { id: string };
        };
        await s.ok([...file, "schedule", "cancel", pending.scheduled.id]);
        await s.ok(["schedule", "cancel", scheduled.scheduled.id], env);
        await s.ok([...file, "erase"]);
        await s.ok(["init"], env);
        const sealed = JSON.parse((await s.ok(["--json", ...file, "seal"])).stdout) as { sealed: boolean };
        assert.equal(sealed.sealed, true);
        // The file wins over the environment, and a wrong PIN is wrong either way.
        const wrongFile = secretFile(s.dir, "wrong-pin", "not-the-pin\n");
        const wrong = await s.run(["--json", "--pin-file", wrongFile, "reset"], env);
        assertOneLineError(wrong, 4, /wrong PIN \(4 tries left/);
        assert.equal(errorCode(wrong), "wrong-pin");
        expireBackoff(s.store);
        await s.ok(["reset"], { REID_PIN: PIN });
        assert.equal(ownerState(s.store).failures, 0);
        // A PIN file others can read is refused before it is used.
        const open = join(s.dir, "open-pin");
        writeFileSync(open, PIN, { mode: 0o644 });
        assertOneLineError(await s.run(["--pin-file", open, "reset"]), 2, /readable by other users/);
        // No output after the set showed the recovery code again.
        for (const args of [["status"], ["--json", "status"], ["log"], ["--json", "log"]]) {
          const result = await s.ok(args);
          assert.ok(
            !`${result.stdout}${result.stderr}`.includes(codes[0] as string),
            `reid ${args.join(" ")}`,
          );
        }
        await s.stop();
      });

      it("a PIN cannot be given on the command line: there is no such option", async (t) => {
        const s = await session(t, mode);
        await s.ok(["init"]);
        await setPin(s);
        await assertUnchanged(s.store, async () => {
          for (const args of [
            ["--pin", PIN, "reset"],
            ["reset", "--pin", PIN],
            ["reset", `--pin=${PIN}`],
            ["pin", "change", "--pin", PIN],
            ["--json", "erase", "--pin", PIN],
          ]) {
            const result = await s.run(args);
            assertOneLineError(result, 2, /unknown option '--pin'/);
            assert.ok(!result.stderr.includes(PIN), `reid ${args.join(" ")} repeats the PIN`);
          }
        });
        await s.stop();
      });

      it("pin change needs the old PIN; afterwards only the new one works and the recovery code stays", async (t) => {
        const s = await session(t, mode);
        const code = await setPin(s);
        const newPin = "changed-pin-8080";
        const newPinFile = secretFile(s.dir, "new-pin", `${newPin}\n`);
        const change = ["pin", "change", "--new-pin-file", newPinFile];
        assertOneLineError(await s.run(change), 4, /a PIN is set/);
        const wrong = await s.run(["--json", ...change], { REID_PIN: "not-the-old-pin" });
        assert.equal(errorCode(wrong), "wrong-pin");
        expireBackoff(s.store);
        const changed = await s.ok(["--pin-file", s.pinFile, ...change]);
        assert.equal(changed.stdout, "PIN changed.\n", "a change shows no recovery code");
        assert.equal(changed.stderr, "");
        // pin set is for the first PIN only; a change without any PIN set is refused too.
        assertOneLineError(await s.run(["pin", "set", "--new-pin-file", newPinFile]), 3, /reid pin change/);

        const old = await s.run(["--json", "--pin-file", s.pinFile, "init"]);
        assert.equal(errorCode(old), "wrong-pin");
        expireBackoff(s.store);
        await s.ok(["init"], { REID_PIN: newPin });
        // A new PIN must meet the policy; the check spends no try.
        const short = secretFile(s.dir, "short", "12345");
        const bad = await s.run(["--json", "pin", "change", "--new-pin-file", short], { REID_PIN: newPin });
        assertOneLineError(bad, 2, /6 to 128 characters/);
        assert.equal(errorCode(bad), "bad-pin");
        // The recovery code made at the first set still unlocks.
        const codeFile = secretFile(s.dir, "code", code);
        await s.ok(["pin", "unlock", "--recovery-file", codeFile]);
        await s.stop();

        const fresh = await session(t, mode);
        await fresh.ok(["init"]);
        const none = await fresh.run(["--json", "pin", "change", "--new-pin-file", newPinFile]);
        assertOneLineError(none, 3, /no PIN is set/);
        assert.equal(errorCode(none), "no-pin");
        await fresh.stop();
      });

      it("5 wrong PINs lock the element, a restart keeps it locked, and the recovery code unlocks it once", async (t) => {
        const s = await session(t, mode);
        await s.ok(["init"]);
        const code = await setPin(s);
        const wrongFile = secretFile(s.dir, "wrong-pin", "000000\n");
        const wrong = ["--json", "--pin-file", wrongFile, "reset"];
        for (let n = 1; n <= 4; n++) {
          const result = await s.run(wrong);
          // Said as it is: "1 try left", not "1 tries".
          const left = n === 4 ? "1 try" : `${5 - n} tries`;
          assertOneLineError(
            result,
            4,
            new RegExp(`^wrong PIN \\(${left} left before the element locks\\)$`),
          );
          assert.equal(errorCode(result), "wrong-pin");
          assert.equal(ownerState(s.store).failures, n, "the try was not persisted");
          if (n < 4) expireBackoff(s.store);
        }
        // Inside the back-off after the fourth failure (held on, however long the command takes to
        // start, by putting that failure ahead of the clock: the gate counts no more than the whole
        // wait) a try is refused and not counted, even with the right PIN.
        holdBackoff(s.store);
        const early = await s.run(["--json", "--pin-file", s.pinFile, "reset"]);
        assertOneLineError(early, 4, /^4 wrong PINs in a row: try again in 8 s$/);
        assert.equal(errorCode(early), "pin-backoff");
        assert.equal(ownerState(s.store).failures, 4);
        expireBackoff(s.store);

        const fifth = await s.run(wrong);
        assertOneLineError(fifth, 4, /locked after 5 wrong PINs: unlock it with 'reid pin unlock'/);
        assert.equal(errorCode(fifth), "locked");
        const locked = async () => {
          const result = await s.run(["--json", "--pin-file", s.pinFile, "reset"]);
          assertOneLineError(result, 4, /locked/);
          assert.equal(errorCode(result), "locked");
          const status = JSON.parse((await s.ok(["--json", "status"])).stdout) as { owner: unknown };
          assert.deepEqual(status.owner, {
            pin: true,
            failures: 5,
            locked: true,
            passkeysBypassLockout: false,
            unlockedUntil: null,
          });
          assert.match((await s.ok(["status"])).stdout, /owner PIN\s+LOCKED \(reid pin unlock\)/);
        };
        await locked();
        expireBackoff(s.store);
        await locked();
        // Neither a restart (of the daemon, or of nothing at all) nor time unlocks it.
        await s.restart();
        await locked();
        // Nor does changing the PIN around the lock.
        const newPin = secretFile(s.dir, "new-pin", "sneaky-new-pin");
        const change = await s.run([
          "--json",
          "--pin-file",
          s.pinFile,
          "pin",
          "change",
          "--new-pin-file",
          newPin,
        ]);
        assert.equal(errorCode(change), "locked");

        // A wrong recovery code does not unlock.
        const bogus = secretFile(s.dir, "bogus-code", "AAAA-BBBB-CCCC-DDDD-EEEE\n");
        const refused = await s.run(["--json", "pin", "unlock", "--recovery-file", bogus]);
        assertOneLineError(refused, 4, /wrong recovery code/);
        assert.equal(errorCode(refused), "wrong-recovery-code");
        await locked();

        // The right one does, and a new code is shown in its place.
        const codeFile = secretFile(s.dir, "code", `${code}\n`);
        const unlocked = await s.ok(["pin", "unlock", "--recovery-file", codeFile]);
        const shown = recoveryCodes(unlocked.stdout);
        assert.equal(shown.length, 1, "unlock shows the new recovery code once");
        assert.notEqual(shown[0], code);
        assert.match(unlocked.stdout, /^Unlocked\. The recovery code is spent\.\n/);
        await s.ok(["--pin-file", s.pinFile, "reset"]);
        assert.deepEqual(ownerState(s.store), { ...ownerState(s.store), failures: 0, lastFailure: null });

        // The old code is spent; the new one works (after a restart too).
        const spent = await s.run(["--json", "pin", "unlock", "--recovery-file", codeFile]);
        assert.equal(errorCode(spent), "wrong-recovery-code");
        await s.restart();
        const next = secretFile(s.dir, "next-code", (shown[0] as string).toLowerCase());
        const json = JSON.parse(
          (await s.ok(["--json", "pin", "unlock", "--recovery-file", next])).stdout,
        ) as {
          pin: string;
          recoveryCode: string;
        };
        assert.equal(json.pin, "unlocked");
        assert.match(json.recoveryCode, RECOVERY_CODE);
        await s.ok(["reset"], { REID_PIN: PIN });
        await s.stop();
      });
    });
  }
});

describe("the PIN prompt on a terminal", () => {
  it("the harness sees what a terminal echoes (so the checks below can fail)", async () => {
    const run = await onTerminal(
      ["sh", "-c", 'printf "say: "; read line; echo "read: $line"'],
      [["say: ", "visible-secret\r"]],
      {},
    );
    assert.equal(run.code, 0);
    assert.match(run.screen, /visible-secret\n(?:.*\n)?read: visible-secret/);
  });

  for (const mode of MODES) {
    it(`asks for the PIN when a command needs it, and never echoes it (${mode})`, async (t) => {
      const s = await session(t, mode);
      await s.ok(["init"]);
      await setPin(s);
      const reset = [process.execPath, REID, "--store", s.store, "reset"];

      const good = await onTerminal(reset, [["PIN: ", `${PIN}\r`]], s.env);
      assert.equal(good.code, 0, good.screen);
      assert.match(good.screen, /^PIN: \nreset: generation 2, handle [0-9a-f]{32}, at /);
      assert.ok(!good.screen.includes(PIN), "the PIN was echoed");

      // A wrong PIN at the prompt is a wrong PIN: one line, exit 4, and a counted try.
      const bad = await onTerminal(reset, [["PIN: ", "123456789\r"]], s.env);
      assert.equal(bad.code, 4);
      assert.match(bad.screen, /^PIN: \nreid: wrong PIN \(4 tries left[^\n]*\n$/);
      assert.ok(!bad.screen.includes("123456789"));
      assert.equal(ownerState(s.store).failures, 1);
      expireBackoff(s.store);

      // Typed with corrections: backspace takes back the last character.
      const edited = await onTerminal(reset, [["PIN: ", `${PIN}xy\u007f\u007f\r`]], s.env);
      assert.equal(edited.code, 0, edited.screen);

      // Ctrl-C at the prompt cancels: exit 2, nothing done.
      const cancelled = await onTerminal(reset, [["PIN: ", `${PIN.slice(0, 3)}\u0003`]], s.env);
      assert.equal(cancelled.code, 2);
      assert.match(cancelled.screen, /reid: cancelled at the prompt/);

      // With the PIN in the environment, no prompt at all.
      const quiet = await onTerminal(reset, [], { ...s.env, REID_PIN: PIN });
      assert.equal(quiet.code, 0, quiet.screen);
      assert.ok(!quiet.screen.includes("PIN:"), "prompted although REID_PIN was given");

      // A change entirely at the prompts: the new PIN twice, then the present one; none echoed.
      const newPin = "typed-new-pin-55";
      const change = await onTerminal(
        [process.execPath, REID, "--store", s.store, "pin", "change"],
        [
          ["New PIN: ", `${newPin}\r`],
          ["Repeat the new PIN: ", `${newPin}\r`],
          ["PIN: ", `${PIN}\r`],
        ],
        s.env,
      );
      assert.equal(change.code, 0, change.screen);
      assert.equal(change.screen, "New PIN: \nRepeat the new PIN: \nPIN: \nPIN changed.\n");
      const pinNow = await onTerminal(reset, [["PIN: ", `${newPin}\r`]], s.env);
      assert.equal(pinNow.code, 0, pinNow.screen);
      await s.stop();
    });
  }

  it("pin set at the prompts: entries that differ are refused; both pasted at once are both read", async (t) => {
    const { store } = tempDir(t, "reid-pin-tty-");
    const set = [process.execPath, REID, "--store", store, "pin", "set"];
    const env = { REID_LOCK_TIMEOUT: "0" };
    const differ = await onTerminal(
      set,
      [
        ["New PIN: ", "first-entry-1\r"],
        ["Repeat the new PIN: ", "second-entry-2\r"],
      ],
      env,
    );
    assert.equal(differ.code, 2);
    assert.equal(differ.screen, "New PIN: \nRepeat the new PIN: \nreid: the two entries differ\n");

    // Pasted (or typed ahead) in one go, "\r\n" line ends included: the second line answers the
    // second prompt instead of being lost, and neither is echoed.
    const pasted = await onTerminal(set, [["New PIN: ", "pasted-pin-99\r\npasted-pin-99\r\n"]], env);
    assert.equal(pasted.code, 0, pasted.screen);
    assert.match(
      pasted.screen,
      /^New PIN: \nRepeat the new PIN: \nPIN set\.\nRecovery code [^\n]*: [A-Z2-9-]{24}\n$/,
    );
    assert.ok(!pasted.screen.includes("pasted-pin-99"));
    const result = await reid(["--store", store, "--json", "init"], {
      env: { ...env, REID_PIN: "pasted-pin-99" },
    });
    assert.equal(result.code, 0, result.stderr);
  });
});
