// The audit log through the CLI (issue 4, part 4), straight on the store and through a real
// `reid serve` child process: every owner operation and every refusal of one is recorded with its
// request, principal, outcome, generation and handle; `reid log` prints them (one line each, or
// JSON); `reid log --verify` exits 0 on an intact log and 6 (one line, code audit-tampered) on an
// edited, shortened or reordered one, and on one that no longer accounts for a committed generation.
// Then the secrets scan: across a whole session with a PIN set, neither the identifier (in any
// rendering) nor the PIN nor a recovery code shows up in audit.log, owner.json, schedule.json or any
// output, but for the one print of each recovery code.
import assert from "node:assert/strict";
import { createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import type { AuditRecord } from "../../src/audit/audit-log.js";
import { deriveHandle } from "../../src/derive/derivation.js";
import { renderings } from "../cli/store.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { serve, stopCleanly } from "../helpers/daemon.js";
import { containsBytes, textForms } from "../helpers/secret.js";
import { secretFile, tempDir } from "../helpers/temp.js";

const PIN = "audit-owner-pin-31";
const RECOVERY_CODE = /[A-HJ-NP-Z2-9]{4}(?:-[A-HJ-NP-Z2-9]{4}){4}/;
const MODES = ["direct", "daemon"] as const;
type Mode = (typeof MODES)[number];

interface Session {
  readonly dir: string;
  readonly store: string;
  readonly pinFile: string;
  readonly wrapKey: Buffer;
  readonly wrapKeyFile: string;
  /** Every output so far, each named by its run's number and command. */
  outputs(): [what: string, text: Buffer][];
  /** The name of the last CLI run's output. */
  lastRun(): string;
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  ok(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  json<T>(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<T>;
  stop(): Promise<void>;
}

async function session(t: TestContext, mode: Mode): Promise<Session> {
  const { dir, store } = tempDir(t, "reid-log-cli-");
  const kek = secretFile(dir, "kek", randomBytes(32));
  // A command that did not go through the daemon fails at once on the lock the daemon holds.
  const env = { REID_LOCK_TIMEOUT: "0", REID_KEK_FILE: kek };
  const daemon = mode === "daemon" ? await serve(t, store, { env }) : null;
  const outputs: [string, Buffer][] = [];
  const wrapKey = randomBytes(32);
  const run = async (args: readonly string[], extra: NodeJS.ProcessEnv = {}) => {
    const result = await reid(["--store", store, ...args], { env: { ...env, ...extra } });
    const what = `#${outputs.length + 1} reid ${args.join(" ")}`;
    outputs.push([what, Buffer.concat([result.stdoutBytes, Buffer.from(result.stderr)])]);
    return result;
  };
  const ok = async (args: readonly string[], extra?: NodeJS.ProcessEnv) => {
    const result = await run(args, extra);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result;
  };
  return {
    dir,
    store,
    pinFile: secretFile(dir, "pin", `${PIN}\n`),
    wrapKey,
    wrapKeyFile: secretFile(dir, "wrap-key", wrapKey),
    lastRun: () => outputs.at(-1)?.[0] ?? "",
    outputs: () => [
      ...outputs,
      ...(daemon ? [["reid serve", Buffer.from(daemon.stdout() + daemon.stderr())] as [string, Buffer]] : []),
    ],
    run,
    ok,
    json: async <T>(args: readonly string[], extra?: NodeJS.ProcessEnv) =>
      JSON.parse((await ok(["--json", ...args], extra)).stdout) as T,
    stop: async () => {
      if (daemon) await stopCleanly(daemon);
    },
  };
}

function errorCode(result: CliResult): string {
  return (JSON.parse(result.stderr) as { error: { code: string } }).error.code;
}

/** What waiting out the back-off amounts to: the last failure moved an hour into the past. */
function expireBackoff(store: string): void {
  const path = join(store, "owner.json");
  const state = JSON.parse(readFileSync(path, "utf8")) as { lastFailure: string | null };
  if (state.lastFailure === null) return;
  state.lastFailure = new Date(Date.now() - 3_600_000).toISOString();
  writeFileSync(path, JSON.stringify(state));
}

/**
 * Keeps the back-off on however long the next command takes to start: the last failure put ahead
 * of the clock, which the owner gate counts as no more than the whole wait (a clock set back).
 */
function holdBackoff(store: string): void {
  const path = join(store, "owner.json");
  const state = JSON.parse(readFileSync(path, "utf8")) as { lastFailure: string | null };
  state.lastFailure = new Date(Date.now() + 3_600_000).toISOString();
  writeFileSync(path, JSON.stringify(state));
}

type Expected = [request: string, outcome: string, generation: number, handle: string | null];

interface Log {
  records: AuditRecord[];
  verdict: { intact: boolean; records: number; head?: string; problem?: string };
}

/** Runs the owner operations (and refusals) of a session, and returns the records they should leave. */
async function ownerSession(s: Session): Promise<Expected[]> {
  const future = new Date(Date.now() + 7 * 86_400_000).toISOString();
  const expected: Expected[] = [];
  const expect = (...record: Expected) => expected.push(record);
  const pin = { REID_PIN: PIN };

  const h1 = (await s.json<{ handle: string }>(["init"])).handle;
  expect("init", "ok", 1, h1);
  assert.equal((await s.run(["init"])).code, 3);
  expect("init", "already-initialized", 1, h1);
  const h2 = (await s.json<{ handle: string }>(["reset"])).handle;
  expect("reset", "ok", 2, h2);
  await s.ok(["config", "single-type", "on"]);
  expect("single-type-on", "ok", 2, h2);
  // Single-type mode: the init is carried out, and recorded, as a reset (detail: what was asked).
  const h3 = (await s.json<{ handle: string; request: string }>(["init"])).handle;
  expect("reset", "ok", 3, h3);
  await s.ok(["config", "single-type", "off"]);
  expect("single-type-off", "ok", 3, h3);
  await s.ok(["export", "--wrap-key", s.wrapKeyFile]);
  expect("export", "ok", 3, h3);
  const { scheduled } = await s.json<{ scheduled: { id: string } }>(["reset", "--at", future]);
  expect("schedule-reset", "ok", 3, h3);
  await s.ok(["schedule", "cancel", scheduled.id]);
  expect("cancel-schedule", "ok", 3, h3);
  assert.equal((await s.run(["schedule", "cancel", "0badc0de"])).code, 3);
  expect("cancel-schedule", "no-such-schedule", 3, h3);
  await s.ok(["seal"]);
  expect("seal", "ok", 3, h3);
  const set = await s.ok(["pin", "set", "--new-pin-file", s.pinFile]);
  const code = RECOVERY_CODE.exec(set.stdout)?.[0] as string;
  expect("pin-set", "ok", 3, h3);

  // Refusals of the gate.
  assert.equal((await s.run(["erase"])).code, 4);
  expect("erase", "pin-required", 3, h3);
  assert.equal((await s.run(["erase"], { REID_PIN: "not-the-pin" })).code, 4);
  expect("erase", "wrong-pin", 3, h3);
  holdBackoff(s.store);
  assert.equal((await s.run(["erase"], pin)).code, 4);
  expect("erase", "pin-backoff", 3, h3);
  expireBackoff(s.store);
  await s.ok(["erase"], pin);
  expect("erase", "ok", 3, null);
  assert.equal((await s.run(["erase"], pin)).code, 3);
  expect("erase", "already-blank", 3, null);
  assert.equal((await s.run(["config", "single-type", "on"])).code, 4);
  expect("single-type-on", "pin-required", 3, null);
  assert.equal((await s.run(["reset", "--at", future])).code, 4);
  expect("schedule-reset", "pin-required", 3, null);
  assert.equal((await s.run(["export", "--wrap-key", s.wrapKeyFile], pin)).code, 3);
  expect("export", "blank", 3, null);

  // The PIN's own operations.
  const newPin = secretFile(s.dir, "new-pin", "second-audit-pin");
  await s.ok(["--pin-file", s.pinFile, "pin", "change", "--new-pin-file", newPin]);
  expect("pin-change", "ok", 3, null);
  const bogus = secretFile(s.dir, "bogus", "AAAA-BBBB-CCCC-DDDD-EEEE");
  assert.equal((await s.run(["pin", "unlock", "--recovery-file", bogus])).code, 4);
  expect("pin-unlock", "wrong-recovery-code", 3, null);
  await s.ok(["pin", "unlock", "--recovery-file", secretFile(s.dir, "code", code)]);
  expect("pin-unlock", "ok", 3, null);
  const h4 = (
    await s.json<{ handle: string }>(["init", "--format", "digits:40"], { REID_PIN: "second-audit-pin" })
  ).handle;
  expect("init", "ok", 4, h4);

  // Reading is no owner operation, and a bad request never reached the element: neither is recorded.
  for (const args of [["status"], ["keys"], ["config"], ["schedule", "list"], ["log"], ["log", "--verify"]]) {
    await s.ok(args);
  }
  assert.equal((await s.run(["reset", "--format", "raw:8"], pin)).code, 2);
  return expected;
}

// The two modes side by side: each has its own store (and daemon).
describe("reid log", { concurrency: true }, () => {
  for (const mode of MODES) {
    describe(`reid log (${mode})`, { concurrency: false }, () => {
      it("records every owner operation and refusal, prints them, and verifies the chain", async (t) => {
        const s = await session(t, mode);
        const expected = await ownerSession(s);

        const log = await s.json<Log>(["log"]);
        assert.deepEqual(
          log.records.map((r) => [r.request, r.outcome, r.generation, r.handle]),
          expected,
          "the audit log does not say what happened",
        );
        // One record an operation: an intent is shown folded into its outcome (docs/spec.md §9.3).
        const last = log.records.at(-1) as AuditRecord;
        const raw = readFileSync(join(s.store, "audit.log"), "utf8").split("\n").filter(Boolean);
        // The session sets a PIN: from that operation's outcome on, records carry the audit key's MAC.
        const keyedFrom = (
          raw.map((line) => JSON.parse(line) as AuditRecord).find((r) => r.mac) as AuditRecord
        ).seq;
        assert.deepEqual(log.verdict, {
          intact: true,
          records: raw.length,
          head: last.hash,
          key: "checked",
          keyedFrom,
        });
        assert.ok(raw.length > expected.length, "no intent was written");
        let time = 0;
        let seq = 0;
        for (const record of log.records) {
          assert.ok(record.seq > seq, "records out of order");
          seq = record.seq;
          assert.notEqual(record.outcome, "pending", "an intent shown beside its outcome");
          assert.equal(record.principal, "cli");
          assert.match(record.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          assert.ok(Date.parse(record.time) >= time, "records out of time order");
          time = Date.parse(record.time);
        }
        // Scheduling and cancelling say when and which.
        const scheduled = log.records.find((r) => r.request === "schedule-reset" && r.outcome === "ok");
        const cancelled = log.records.filter((r) => r.request === "cancel-schedule");
        assert.match(String(scheduled?.detail?.at), /^\d{4}-\d\d-\d\dT/);
        assert.match(String(cancelled[0]?.detail?.schedule), /^[0-9a-f]{8}$/);
        assert.equal(cancelled[1]?.detail?.schedule, "0badc0de");
        assert.deepEqual(log.records[4]?.detail, { requested: "init" });
        assert.equal(log.records[2]?.detail, undefined);

        // The human form: one line a record, refusals with their reason in brackets.
        const human = await s.ok(["log"]);
        assert.equal(human.stderr, "");
        const lines = human.stdout.split("\n").filter(Boolean);
        assert.equal(lines.length, expected.length);
        for (const [i, line] of lines.entries()) {
          const r = log.records[i] as AuditRecord;
          const outcome = r.outcome === "ok" ? "" : ` \\(${r.outcome}\\)`;
          assert.match(
            line,
            new RegExp(
              `^ *${r.seq}  ${r.time}  ${r.request} +${r.principal} +gen ${r.generation}  ${r.handle ?? "-"}${outcome}$`,
            ),
          );
        }
        const verify = await s.ok(["log", "--verify"]);
        assert.equal(
          verify.stdout,
          `audit log intact: ${raw.length} records, keyed from record ${keyedFrom} (MACs checked), head ${last.hash}\n`,
        );
        assert.deepEqual(await s.json(["log", "--verify"]), log.verdict);
        await s.stop();
      });

      it("reid log --verify fails, in one line with exit 6, on an edited, shortened or reordered log", async (t) => {
        const s = await session(t, mode);
        await s.ok(["init"]);
        await s.ok(["reset"]);
        assert.equal((await s.run(["init"])).code, 3);
        await s.ok(["pin", "set", "--new-pin-file", s.pinFile]);
        assert.equal((await s.run(["erase"])).code, 4);
        await s.ok(["reset"], { REID_PIN: PIN });
        const path = join(s.store, "audit.log");
        const good = readFileSync(path, "utf8");
        const lines = good.split("\n").filter(Boolean);
        // A commit that journals its intent (no bindings to revoke) has that intent, naming its
        // handle, as its one record; another change an intent and its outcome; a refusal before
        // the change one record (docs/spec.md §9.3).
        assert.deepEqual(
          lines.map((l) => {
            const { request, outcome, handle } = JSON.parse(l) as AuditRecord;
            return [request, outcome, handle !== null];
          }),
          [
            ["init", "pending", true],
            ["reset", "pending", true],
            ["init", "already-initialized", true],
            ["pin-set", "pending", true],
            ["pin-set", "ok", true],
            ["erase", "pin-required", true],
            ["reset", "pending", true],
          ],
        );
        await s.ok(["log", "--verify"]);

        const tamper: [what: string, text: string, problem: RegExp][] = [
          [
            "a refusal turned into a success",
            good.replace('"outcome":"pin-required"', '"outcome":"ok"'),
            /record 6 was altered/,
          ],
          [
            "a principal changed",
            good.replace('"principal":"cli"', '"principal":"web:pin"'),
            /record 1 was altered/,
          ],
          [
            "the first record removed",
            lines
              .slice(1)
              .map((l) => `${l}\n`)
              .join(""),
            /sequence number 2, expected 1/,
          ],
          [
            "a middle record removed",
            lines
              .filter((_, i) => i !== 2)
              .map((l) => `${l}\n`)
              .join(""),
            /sequence number 4/,
          ],
          [
            "the last reset's record removed",
            lines
              .slice(0, -1)
              .map((l) => `${l}\n`)
              .join(""),
            /generation 3, which the log does not account for/,
          ],
          [
            "two records swapped",
            [lines[0], lines[2], lines[1], ...lines.slice(3)].map((l) => `${l}\n`).join(""),
            /sequence number 3, expected 2/,
          ],
          // Cut through the last record is what a kill mid-write leaves, never counted (§9.4):
          // here it is the reset's intent, so the commit is missing.
          [
            "the tail cut mid-record",
            good.slice(0, good.length - 40),
            /generation 3, which the log does not account for/,
          ],
        ];
        for (const [what, text, problem] of tamper) {
          assert.notEqual(text, good, what);
          writeFileSync(path, text);
          const result = await s.run(["log", "--verify"]);
          assertOneLineError(result, 6, /^reid: the audit log is not intact: /);
          assert.match(result.stderr, problem, what);
          const json = await s.run(["--json", "log", "--verify"]);
          assertOneLineError(json, 6);
          assert.equal(errorCode(json), "audit-tampered", what);
          // Printing the log still works, with a warning on stderr.
          const printed = await s.run(["log"]);
          assert.equal(printed.code, 0, what);
          assert.match(printed.stderr, /^reid: warning: the audit log is not intact: [^\n]+\n$/);
          writeFileSync(path, good);
          await s.ok(["log", "--verify"]);
        }
        // Records removed from the end stay detected after the next owner operation: the store's
        // generation still counts the commit the log no longer has (and a daemon, which goes on
        // from the record it wrote last, leaves a gap in the sequence as well).
        writeFileSync(
          path,
          lines
            .slice(0, -2)
            .map((l) => `${l}\n`)
            .join(""),
        );
        await s.ok(["config", "single-type", "on"], { REID_PIN: PIN });
        assertOneLineError(
          await s.run(["log", "--verify"]),
          6,
          /generation 3, which the log does not account for|sequence number 8, expected 6/,
        );
        await s.stop();
      });
    });
  }
});

describe("reid log: scheduled requests (daemon)", () => {
  it("a scheduled request is recorded when scheduled (by the owner) and when carried out (by the scheduler)", async (t) => {
    const s = await session(t, "daemon");
    const h1 = (await s.json<{ handle: string }>(["init"])).handle;
    await s.ok(["pin", "set", "--new-pin-file", s.pinFile]);
    const at = new Date(Date.now() + 1500).toISOString();
    const { scheduled } = await s.json<{ scheduled: { id: string } }>(["reset", "--at", at], {
      REID_PIN: PIN,
    });
    // Carried out at its time by the daemon, with no PIN at hand: the owner's PIN was checked
    // when it was scheduled.
    const deadline = Date.now() + 30_000;
    let status = await s.json<{ generation: number; handle: string }>(["status"]);
    while (status.generation < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await s.json<{ generation: number; handle: string }>(["status"]);
    }
    assert.equal(status.generation, 2, "the scheduled reset did not run");
    const { records, verdict } = await s.json<Log>(["log"]);
    assert.equal(verdict.intact, true);
    assert.deepEqual(
      records.map((r) => [r.request, r.principal, r.outcome, r.generation, r.handle]),
      [
        ["init", "cli", "ok", 1, h1],
        ["pin-set", "cli", "ok", 1, h1],
        ["schedule-reset", "cli", "ok", 1, h1],
        ["reset", "scheduler:cli", "ok", 2, status.handle],
      ],
    );
    assert.deepEqual(records[2]?.detail, { at });
    assert.deepEqual(records[3]?.detail, { schedule: scheduled.id, late: false });
    await s.stop();
  });
});

function unwrap(key: Buffer, hex: string): Buffer {
  const decipher = createDecipheriv("id-aes256-wrap-pad", key, Buffer.from("a65959a6", "hex"));
  return Buffer.concat([decipher.update(Buffer.from(hex, "hex")), decipher.final()]);
}

const STORE_FILES = ["audit.log", "owner.json", "schedule.json"];

describe("secrets scan", { concurrency: true }, () => {
  for (const mode of MODES) {
    it(`a session with a PIN: the identifier, the PIN and the recovery codes stay out of files and output (${mode})`, async (t) => {
      const s = await session(t, mode);
      const future = new Date(Date.now() + 7 * 86_400_000).toISOString();
      const identifiers: Buffer[] = [];
      const pins = [PIN];
      const codes: { code: string; printedBy: string }[] = [];
      const pin = () => ({ REID_PIN: pins.at(-1) as string });
      /** The identifier now, taken out through export and unwrapped here (sealed stores too). */
      const capture = async () => {
        const { wrapped, handle } = await s.json<{ wrapped: string; handle: string }>(
          ["export", "--wrap-key", s.wrapKeyFile],
          pin(),
        );
        const identifier = unwrap(s.wrapKey, wrapped);
        // The handle is derived from the identifier: these are the element's identifier bytes.
        assert.equal(deriveHandle(identifier), handle, "the unwrapped export is not the identifier");
        if (!identifiers.some((known) => known.equals(identifier))) identifiers.push(identifier);
      };
      /** Runs a command that prints a new recovery code, and notes which output may show it. */
      const printsCode = async (args: string[]) => {
        const result = await s.ok(args);
        const code = RECOVERY_CODE.exec(result.stdout)?.[0];
        assert.ok(code, `reid ${args.join(" ")} printed no recovery code`);
        codes.push({ code, printedBy: s.lastRun() });
      };

      await s.ok(["init"]);
      await printsCode(["pin", "set", "--new-pin-file", s.pinFile]);
      await capture();
      for (const args of [
        ["reset"],
        ["reset", "--format", "digits:40"],
        ["reset", "--format", "base32:52"],
        ["config", "single-type", "on"],
        ["init", "--json"],
        ["config", "single-type", "off"],
        ["seal"],
        ["reset", "--format", "raw:64"],
      ]) {
        await s.ok(args, pin());
        await capture();
      }
      await s.ok(["reset", "--at", future], pin());
      await s.ok(["erase", "--at", future, "--json"], pin());
      for (const args of [
        ["status"],
        ["--json", "status"],
        ["keys"],
        ["--json", "keys"],
        ["csr"],
        ["cert", "--days", "2"],
        ["config"],
        ["schedule", "list"],
        ["--json", "schedule", "list"],
      ]) {
        await s.ok(args);
      }
      // Wrong PINs, a lock, and the way out.
      const wrong = secretFile(s.dir, "wrong", "wrong-pin-000");
      for (let n = 0; n < 5; n++) {
        assert.equal((await s.run(["--pin-file", wrong, "reset"])).code, 4);
        expireBackoff(s.store);
      }
      assert.equal(errorCode(await s.run(["--json", "reset"], pin())), "locked");
      const codeFile = secretFile(s.dir, "code", codes[0]?.code as string);
      await printsCode(["pin", "unlock", "--recovery-file", codeFile]);
      assert.equal((await s.run(["pin", "unlock", "--recovery-file", codeFile])).code, 4);
      const newPin = "scan-second-pin-77";
      pins.push(newPin);
      await s.ok([
        "--pin-file",
        s.pinFile,
        "pin",
        "change",
        "--new-pin-file",
        secretFile(s.dir, "new-pin", newPin),
      ]);
      await s.ok(["reset"], pin());
      await capture();
      await s.ok(["log"]);
      await s.ok(["--json", "log"]);
      await s.ok(["log", "--verify"]);
      await s.ok(["erase"], pin());
      await s.ok(["--json", "status"]);
      await s.stop();

      assert.ok(identifiers.length >= 7, `only ${identifiers.length} identifiers went by`);
      assert.equal(codes.length, 2);
      const identifierForms = identifiers.flatMap((identifier) => renderings(identifier));
      const secretForms = [...pins, ...codes.map(({ code }) => code)].flatMap((secret) =>
        textForms(secret).map((form) => Buffer.from(form)),
      );

      for (const name of STORE_FILES) {
        const path = join(s.store, name);
        assert.ok(existsSync(path) || name === "schedule.json", `${name} is missing`);
        if (!existsSync(path)) continue;
        const bytes = readFileSync(path);
        for (const [i, form] of identifierForms.entries()) {
          assert.ok(!containsBytes(bytes, form), `${name} shows an identifier (form ${i})`);
        }
        for (const [i, form] of secretForms.entries()) {
          assert.ok(!containsBytes(bytes, form), `${name} shows a PIN or a recovery code (form ${i})`);
        }
      }
      for (const [what, text] of s.outputs()) {
        for (const [i, form] of identifierForms.entries()) {
          assert.ok(!containsBytes(text, form), `${what}: output shows an identifier (form ${i})`);
        }
        for (const pinText of pins) {
          for (const form of textForms(pinText).map((f) => Buffer.from(f)))
            assert.ok(!containsBytes(text, form), `${what}: output shows a PIN`);
        }
        for (const { code, printedBy } of codes) {
          const shown = text.toString("utf8").split(code).length - 1;
          assert.equal(shown, what === printedBy ? 1 : 0, `${what}: shows a recovery code ${shown} times`);
          for (const form of textForms(code)
            .slice(1)
            .map((f) => Buffer.from(f)))
            assert.ok(!containsBytes(text, form), `${what}: shows a recovery code`);
        }
      }
      // The scan finds what it looks for (else it would pass on anything): the printed recovery
      // code where it was printed, the PIN in its own file, the public handle in the audit log,
      // and an identifier in any rendering in a line that held one.
      const printed = s.outputs().find(([what]) => what === codes[0]?.printedBy)?.[1] as Buffer;
      assert.ok(containsBytes(printed, Buffer.from(codes[0]?.code as string)));
      const pinFile = readFileSync(s.pinFile);
      assert.ok(textForms(PIN).some((form) => containsBytes(pinFile, Buffer.from(form))));
      const handle = deriveHandle(identifiers.at(-1) as Buffer);
      assert.ok(containsBytes(readFileSync(join(s.store, "audit.log")), Buffer.from(handle)));
      for (const form of renderings(identifiers[0] as Buffer)) {
        const line = Buffer.concat([Buffer.from('{"leak":"'), form, Buffer.from('"}\n')]);
        assert.ok(identifierForms.some((known) => containsBytes(line, known)));
      }
    });
  }
});
