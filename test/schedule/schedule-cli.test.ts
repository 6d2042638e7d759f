// The CLI of scheduled requests and events (docs/spec.md §2.6; issue 4): `--at ISO-8601` on init,
// reset and erase, `reid schedule list|cancel ID`, `status.scheduled`, and `reid events --follow`
// against a real `reid serve`. These tests run the built CLI as separate processes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import type { Notification } from "../../src/element/request.js";
import type { ScheduledRequest } from "../../src/element/schedule.js";
import { assertUnchanged, initStore, status } from "../cli/store.js";
import { assertOneLineError, type CliResult, REID, reid, reidJson, reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { type Finished, finished } from "../helpers/process.js";
import { tempDir } from "../helpers/temp.js";

const HOUR = 3_600_000;

function inHours(hours: number): string {
  return new Date(Date.now() + hours * HOUR).toISOString();
}

/** `reid [--json] events --follow` as a child process whose output lines are watched as they come. */
interface Follower {
  /** Waits until at least `count` lines were printed (safety net: a timeout) and returns them all. */
  lines(count: number): Promise<string[]>;
  /** How many lines it has printed so far. */
  count(): number;
  /** SIGTERM by PID; resolves with the exit. */
  stop(): Promise<Finished>;
  /** Resolves when it exits by itself. */
  readonly exited: Promise<Finished>;
}

function follow(t: TestContext, store: string, json: boolean): Follower {
  const child = spawn(
    process.execPath,
    [REID, "--store", store, ...(json ? ["--json"] : []), "events", "--follow"],
    { env: { PATH: process.env.PATH, HOME: "/nonexistent-home" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = finished(child);
  exited.catch(() => undefined);
  let text = "";
  const changed = new Set<() => void>();
  child.stdout.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
    for (const wake of changed) wake();
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, "SIGTERM");
    }
    return exited;
  };
  t.after(stop);
  return {
    stop,
    exited,
    count: () => text.split("\n").length - 1,
    async lines(count) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const lines = text.split("\n").slice(0, -1);
        if (lines.length >= count) return lines;
        if (child.exitCode !== null) {
          const { stderr } = await exited;
          assert.fail(`events --follow exited ${child.exitCode}: ${stderr.toString()}`);
        }
        assert.ok(Date.now() < deadline, `waited 20 s for ${count} lines, got: ${JSON.stringify(text)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 500);
          function done() {
            clearTimeout(timer);
            changed.delete(done);
            resolve();
          }
          changed.add(done);
        });
      }
    },
  };
}

/**
 * assertOneLineError() for messages that quote a time: its stack-trace check takes "at
 * '2030-01-01T09:00:00Z'" for a stack frame. The same contract, with frames told apart by their
 * shape ("at f (file:1:2)", "    at file:1:2").
 */
function assertTimeRefused(result: CliResult, exitCode: number, pattern: RegExp): void {
  assert.equal(result.code, exitCode, `expected exit ${exitCode}, got ${result.code}: ${result.stderr}`);
  assert.equal(result.stdout, "", "a failed command prints nothing on stdout");
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  const line = lines[0] ?? "";
  assert.doesNotMatch(
    line,
    /^\s*at \S|\(\S+:\d+:\d+\)|Error:|node:internal/,
    `stack-trace-like output: ${line}`,
  );
  const message = line.startsWith("{")
    ? String((JSON.parse(line) as { error: { message: unknown } }).error.message)
    : line;
  if (!line.startsWith("{")) assert.match(line, /^reid: \S/);
  assert.match(message, pattern);
}

describe("reid init|reset|erase --at", () => {
  it("refuses a time in the past, one without a zone, or garbage: exit 2, one line, nothing persisted", async (t) => {
    const { store } = tempDir(t);
    await initStore(store);
    const past = /that time is in the past/;
    const malformed = /expected an ISO-8601 time with a zone/;
    const bad: [string, RegExp][] = [
      ["2001-01-01T00:00:00Z", past],
      [new Date(Date.now() - 60_000).toISOString(), past],
      [inHours(1).replace("Z", ""), malformed], // no zone
      [inHours(1).slice(0, 10), malformed], // a date alone
      ["tomorrow", malformed],
      ["2030-13-45T25:61:00Z", malformed], // shaped like a time, but none
      ["2030-01-01 09:00:00Z", malformed],
      ["", malformed],
    ];
    for (const type of ["init", "reset", "erase"]) {
      for (const [at, message] of bad) {
        const result = await assertUnchanged(store, () => reid(["--store", store, type, "--at", at]));
        assertTimeRefused(result, 2, message);
        assert.match(result.stderr, /bad --at/);
      }
      const json = await reid(["--store", store, "--json", type, "--at", "noon"]);
      assertTimeRefused(json, 2, /bad --at 'noon'/);
      assert.equal((JSON.parse(json.stderr) as { error: { code: string } }).error.code, "usage");
    }
    assert.ok(!existsSync(join(store, "schedule.json")), "a refused --at left a schedule");
    assert.deepEqual((await status(store)).scheduled, []);
  });

  it("refuses --at with a bad --format before anything waits (exit 2)", async (t) => {
    const { store } = tempDir(t);
    await initStore(store);
    for (const args of [
      ["reset", "--format", "digits:1"],
      ["init", "--format", "hex:32"],
      ["reset", "--format", "raw:65"],
    ]) {
      const result = await assertUnchanged(store, () =>
        reid(["--store", store, ...args, "--at", inHours(1)]),
      );
      assertTimeRefused(result, 2, /bad --format/);
    }
    assertTimeRefused(
      await reid(["--store", store, "erase", "--format", "raw", "--at", inHours(1)]),
      2,
      /unknown option '--format'/,
    );
    assert.deepEqual((await status(store)).scheduled, []);
  });

  it("without a daemon, persists the request and says 'reid serve' carries it out; list, status and cancel show it", async (t) => {
    const { store } = tempDir(t);
    await initStore(store);
    const before = await status(store);
    const later = inHours(2);
    const sooner = inHours(1);

    const reset = await reidOk(["--store", store, "reset", "--at", later]);
    const line = /^scheduled: reset at (\S+) \(id ([0-9a-f]{8})\); 'reid serve' carries it out\n$/.exec(
      reset.stdout,
    );
    assert.ok(line, `unexpected output: ${reset.stdout}`);
    assert.equal(line[1], later);
    const resetId = line[2] as string;
    const init = await reidJson<{ request: string; state: string; scheduled: ScheduledRequest }>([
      "--store",
      store,
      "init",
      "--format",
      "base32:40",
      "--at",
      sooner,
    ]);
    assert.deepEqual(
      { ...init, scheduled: { ...init.scheduled, id: "", created: "" } },
      {
        request: "init",
        state: "scheduled",
        scheduled: { id: "", type: "init", format: "base32:40", at: sooner, principal: "cli", created: "" },
      },
    );
    const initId = init.scheduled.id;

    // Earliest first, whatever order they were made in.
    const listed = await reidOk(["--store", store, "schedule", "list"]);
    assert.equal(
      listed.stdout,
      `${initId}  ${sooner}  init --format base32:40\n${resetId}  ${later}  reset\n`,
    );
    const entries = [
      { id: initId, type: "init", at: sooner, format: "base32:40" },
      { id: resetId, type: "reset", at: later },
    ];
    assert.deepEqual(await reidJson(["--store", store, "schedule", "list"]), { scheduled: entries });
    assert.deepEqual((await status(store)).scheduled, entries);
    assert.match((await reidOk(["--store", store, "status"])).stdout, /^scheduled {3}2$/m);

    const cancelled = await reidOk(["--store", store, "schedule", "cancel", resetId]);
    assert.equal(cancelled.stdout, `cancelled: reset at ${later} (id ${resetId})\n`);
    assert.deepEqual((await status(store)).scheduled, [entries[0]]);
    const again = await assertUnchanged(store, () => reid(["--store", store, "schedule", "cancel", resetId]));
    assertOneLineError(again, 3, new RegExp(`no scheduled request has the id '${resetId}'`));
    assertOneLineError(await reid(["--store", store, "schedule", "cancel", "deadbeef"]), 3, /'deadbeef'/);
    const json = await reidJson<{ cancelled: ScheduledRequest }>([
      "--store",
      store,
      "schedule",
      "cancel",
      initId,
    ]);
    assert.deepEqual([json.cancelled.id, json.cancelled.type, json.cancelled.at], [initId, "init", sooner]);
    assert.equal((await reidOk(["--store", store, "schedule", "list"])).stdout, "no scheduled requests\n");

    // Nothing ran: no daemon carried anything out.
    const after = await status(store);
    assert.deepEqual(
      [after.generation, after.handle, after.scheduled],
      [before.generation, before.handle, []],
    );
  });

  it("refuses a bad 'reid schedule' line (exit 2, one line)", async (t) => {
    const { store } = tempDir(t);
    await initStore(store);
    for (const args of [
      ["schedule"],
      ["schedule", "cancel"],
      ["schedule", "list", "x"],
      ["schedule", "run"],
    ]) {
      assertOneLineError(await reid(["--store", store, ...args]), 2);
    }
  });
});

describe("reid events --follow with reid serve", () => {
  it("prints the scheduled reset when it happens (real clock, about 4 s)", { timeout: 90_000 }, async (t) => {
    const { store } = tempDir(t);
    await initStore(store);
    const daemon = await serve(t, store);
    const human = follow(t, store, false);
    const json = follow(t, store, true);

    // The followers subscribe on their own time: reset until both have heard one, which proves they
    // listen before the scheduled request can happen. Later lines are counted from there.
    let now: Notification | null = null;
    for (let attempt = 0; attempt < 60 && (human.count() === 0 || json.count() === 0); attempt++) {
      now = JSON.parse((await reidOk(["--store", store, "--json", "reset"])).stdout) as Notification;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.ok(now, "no reset was made");
    const heardBefore = human.count();
    const jsonBefore = json.count();
    const lastHuman = (await human.lines(heardBefore)).at(-1);
    assert.equal(lastHuman, `reset: generation ${now.generation}, handle ${now.handle}, at ${now.time}`);
    assert.deepEqual(JSON.parse((await json.lines(jsonBefore)).at(-1) as string), now);

    // Through the daemon: listed and cancelled there (a time far enough ahead not to run).
    const far = inHours(1);
    const waiting = await reidJson<{ scheduled: ScheduledRequest }>(["--store", store, "erase", "--at", far]);
    const listed = await reidJson<{ scheduled: { id: string }[] }>(["--store", store, "schedule", "list"]);
    assert.deepEqual(listed, { scheduled: [{ id: waiting.scheduled.id, type: "erase", at: far }] });
    await reidOk(["--store", store, "schedule", "cancel", waiting.scheduled.id]);

    // About 4 s ahead; on a machine so loaded that starting the command took longer, a new time.
    let at = "";
    let scheduled: CliResult | null = null;
    for (let attempt = 0; attempt < 3 && scheduled === null; attempt++) {
      at = new Date(Date.now() + 4000).toISOString();
      const result = await reid(["--store", store, "reset", "--at", at]);
      if (result.code === 2 && /in the past/.test(result.stderr)) continue;
      scheduled = result;
    }
    assert.ok(scheduled, "could not schedule 2 s ahead in 3 tries");
    assert.equal(scheduled.code, 0, scheduled.stderr);
    const id = /\(id ([0-9a-f]{8})\)/.exec(scheduled.stdout)?.[1];
    assert.ok(id, scheduled.stdout);
    assert.match(scheduled.stdout, /'reid serve' carries it out/);

    const heard = JSON.parse((await json.lines(jsonBefore + 1))[jsonBefore] as string) as Notification;
    assert.deepEqual(
      [heard.request, heard.generation, heard.scheduled, heard.late],
      ["reset", now.generation + 1, id, false],
    );
    assert.ok(Date.parse(heard.time) >= Date.parse(at), `ran at ${heard.time}, before its time ${at}`);
    assert.equal(
      (await human.lines(heardBefore + 1))[heardBefore],
      `reset: generation ${heard.generation}, handle ${heard.handle}, at ${heard.time} (scheduled request ${id})`,
    );
    const after = await status(store);
    assert.deepEqual([after.generation, after.handle, after.scheduled], [heard.generation, heard.handle, []]);

    const interrupted = await human.stop();
    assert.deepEqual([interrupted.code, interrupted.stderr.toString()], [0, ""], "ends quietly on SIGTERM");
    // The daemon stopping ends the stream, and the follower says so: exit 7, the daemon stopped.
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, stopped.stderr.toString());
    const ended = await json.exited;
    assert.deepEqual(
      [ended.code, ended.signal, ended.stderr.toString()],
      [
        7,
        null,
        `${JSON.stringify({ error: { code: "daemon-stopped", message: `the daemon serving store ${store} stopped: no more events` } })}\n`,
      ],
    );
    assert.equal(json.count(), jsonBefore + 1, "nothing printed after the last request");
  });

  it("needs --follow (exit 2), a store (exit 6) and a running daemon (exit 7, naming 'reid serve')", async (t) => {
    const { store } = tempDir(t);
    assertOneLineError(
      await reid(["--store", store, "events", "--follow"]),
      6,
      new RegExp(`^reid: no store at ${store}: 'reid init' creates it$`),
    );
    await initStore(store);
    assertOneLineError(await reid(["--store", store, "events"]), 2, /--follow/);
    const none = `no daemon serves store ${store} \\(no socket\\): start 'reid serve' to follow its events`;
    assertOneLineError(
      await reid(["--store", store, "events", "--follow"]),
      7,
      new RegExp(`^reid: ${none}$`),
    );
    const json = await reid(["--store", store, "--json", "events", "--follow"]);
    assertOneLineError(json, 7, new RegExp(`^${none}$`));
    assert.equal(JSON.parse(json.stderr).error.code, "daemon-unreachable");
  });
});
