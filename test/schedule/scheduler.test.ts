// Scheduled requests (docs/spec.md §2.6: a request may carry a time, --at ISO-8601; it is persisted
// and carried out at that time, also after a restart; until then it can be listed and cancelled).
// The daemon runs in this process with a fake clock: time moves only when a test moves it, so no
// test sleeps, and "not before its time" is checked at the last millisecond before it.
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { RemoteElement } from "../../src/daemon/client.js";
import { RETRY_MS } from "../../src/daemon/scheduler.js";
import { type Daemon, startDaemon } from "../../src/daemon/server.js";
import type { Notification } from "../../src/element/request.js";
import { ReidError } from "../../src/errors.js";
import { splitEvents } from "../../src/http/event-stream.js";
import { renderings, storedIdentifier } from "../cli/store.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { containsBytes } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Where the fake clock starts: a whole minute a day ahead of the real clock, because the daemon
 * refuses a time in the real past when a request is scheduled.
 */
function start(): Date {
  return new Date(Math.ceil(Date.now() / MINUTE) * MINUTE + 24 * HOUR);
}

function plus(from: Date, ms: number): Date {
  return new Date(from.getTime() + ms);
}

interface Served {
  readonly daemon: Daemon;
  readonly api: RemoteElement;
  /** Every notification the control unit gave, in order (heard in this process). */
  readonly heard: Notification[];
  /** Waits for the scheduler to finish what a fired timer started. */
  readonly settle: () => Promise<void>;
  close(): Promise<void>;
}

/** An in-process daemon on `store` with `clock`, closed when the test ends (if not before). */
async function serve(t: TestContext, store: string, clock: FakeClock): Promise<Served> {
  const daemon = await startDaemon({
    storeDirectory: store,
    source: { kind: "os" },
    lockTimeoutMs: 2000,
    kek: null,
    clock,
  });
  const api = new RemoteElement(daemon.socket);
  const heard: Notification[] = [];
  daemon.service.control.onNotification((n) => heard.push(n));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await api.close();
    await daemon.close();
  };
  t.after(close);
  return { daemon, api, heard, settle: () => daemon.scheduler.settled(), close };
}

/** A stream of /events over the daemon's socket, subscribed once it has said "ready". */
interface Follower {
  /** The next notification not yet taken (waits for it, up to a safety timeout). */
  next(): Promise<Notification>;
  /** Hangs up. */
  close(): void;
}

function follow(t: TestContext, socket: string): Promise<Follower> {
  const queue: Notification[] = [];
  const waiting: ((n: Notification) => void)[] = [];
  return new Promise((resolve, reject) => {
    const request = httpRequest({ socketPath: socket, path: "/events", method: "GET" }, (response) => {
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers["content-type"]), /^text\/event-stream/);
      let buffer = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        const { events, rest } = splitEvents(buffer + chunk);
        buffer = rest;
        for (const { event: name, data = "", id } of events) {
          // The daemon keeps no history to resume from: its events carry no id (docs/spec.md §6.6).
          assert.equal(id, undefined, `an id on the daemon's stream: ${id}`);
          if (name === "ready") resolve(follower);
          if (name !== "request") continue;
          const notification = JSON.parse(data) as Notification;
          const waiter = waiting.shift();
          if (waiter) waiter(notification);
          else queue.push(notification);
        }
      });
    });
    const follower: Follower = {
      next: () => {
        const queued = queue.shift();
        if (queued) return Promise.resolve(queued);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no event arrived within 10 s")), 10_000);
          waiting.push((n) => {
            clearTimeout(timer);
            resolve(n);
          });
        });
      },
      close: () => request.destroy(),
    };
    request.on("error", (error) => {
      if (!request.destroyed) reject(error);
    });
    request.end();
    t.after(() => request.destroy());
  });
}

function id(entry: { id: string }): string {
  return entry.id;
}

describe("scheduled requests in the daemon (fake clock)", () => {
  it("fire when the clock reaches their time and not a millisecond before; the notification names them", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const { daemon, api, settle } = await serve(t, store, clock);
    const before = await api.submit("init");
    const events = await follow(t, daemon.socket);

    const at = plus(clock.now(), MINUTE);
    const scheduled = await api.schedule("reset", undefined, at.toISOString());
    assert.match(scheduled.id, /^[0-9a-f]{8}$/);
    assert.deepEqual(
      { type: scheduled.type, at: scheduled.at, principal: scheduled.principal },
      { type: "reset", at: at.toISOString(), principal: "cli" },
    );
    assert.deepEqual(clock.pending(), [at], "the scheduler waits for exactly that time");
    const waiting = await api.status();
    assert.deepEqual(waiting.scheduled, [{ id: scheduled.id, type: "reset", at: at.toISOString() }]);

    await clock.advance(MINUTE - 1, settle);
    assert.equal(clock.fired, 0);
    const early = await api.status();
    assert.deepEqual(
      [early.generation, early.handle, early.scheduled.length],
      [before.generation, before.handle, 1],
      "nothing ran before its time",
    );

    await clock.advance(1, settle);
    assert.equal(clock.fired, 1);
    const notification = await events.next();
    assert.deepEqual(notification, {
      request: "reset",
      requested: "reset",
      state: "set",
      mode: "random",
      generation: before.generation + 1,
      handle: notification.handle,
      time: at.toISOString(),
      scheduled: scheduled.id,
      late: false,
    });
    assert.notEqual(notification.handle, before.handle);
    const after = await api.status();
    assert.deepEqual(
      [after.generation, after.handle, after.scheduled],
      [before.generation + 1, notification.handle, []],
    );
    assert.deepEqual(clock.pending(), [], "nothing left to wait for");

    const { records } = await api.auditLog();
    const last = records.at(-1);
    // The run's intent, naming the handle it committed, is its one record, shown ok (docs/spec.md
    // §9.3): the daemon carries it in the commit's journal, with no bindings to revoke first.
    assert.deepEqual(
      { ...last, seq: 0, prev: "", hash: "" },
      {
        seq: 0,
        time: at.toISOString(),
        request: "reset",
        principal: "scheduler:cli",
        outcome: "ok",
        generation: before.generation + 1,
        handle: notification.handle,
        detail: { schedule: scheduled.id, late: false },
        prev: "",
        hash: "",
      },
    );
  });

  it("fire in time order, each at its own time, whatever order they were scheduled in", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const { api, heard, settle } = await serve(t, store, clock);
    const { generation } = await api.submit("init");
    const t0 = clock.now();
    const reset = await api.schedule("reset", "digits:40", plus(t0, 30 * SECOND).toISOString());
    const erase = await api.schedule("erase", undefined, plus(t0, 10 * SECOND).toISOString());
    const init = await api.schedule("init", "base32:40", plus(t0, 20 * SECOND).toISOString());
    assert.deepEqual((await api.status()).scheduled.map(id), [erase.id, init.id, reset.id]);
    assert.deepEqual(clock.pending(), [plus(t0, 10 * SECOND)], "one timer, for the earliest");
    heard.length = 0;

    await clock.advance(MINUTE, settle);
    assert.equal(clock.fired, 3);
    assert.deepEqual(
      heard.map((n) => [n.request, n.state, n.generation, n.time, n.scheduled, n.late]),
      [
        ["erase", "blank", generation, erase.at, erase.id, false],
        ["init", "set", generation + 1, init.at, init.id, false],
        ["reset", "set", generation + 2, reset.at, reset.id, false],
      ],
    );
    const after = await api.status();
    assert.deepEqual([after.generation, after.format, after.scheduled], [generation + 2, "digits:40", []]);
  });

  it("a cancelled request never runs, and the timer moves on to the next", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const { daemon, api, heard, settle } = await serve(t, store, clock);
    const before = await api.submit("init");
    const first = await api.schedule("reset", undefined, plus(clock.now(), MINUTE).toISOString());
    const second = await api.schedule("erase", undefined, plus(clock.now(), HOUR).toISOString());
    assert.deepEqual(clock.pending(), [new Date(first.at)]);

    assert.deepEqual(await api.cancelScheduled(first.id), first);
    assert.deepEqual(clock.pending(), [new Date(second.at)], "re-armed for the one left");
    assert.deepEqual(await api.cancelScheduled(second.id), second);
    assert.deepEqual(clock.pending(), []);
    await assert.rejects(api.cancelScheduled(first.id), (error: unknown) => {
      assert.ok(error instanceof ReidError);
      assert.deepEqual([error.code, error.exitCode], ["no-such-schedule", 3]);
      assert.match(error.message, new RegExp(`no scheduled request has the id '${first.id}'`));
      return true;
    });

    heard.length = 0;
    await clock.advance(24 * HOUR, settle);
    // A tick of its own, past both times: the register no longer holds them.
    await daemon.scheduler.tick();
    assert.equal(clock.fired, 0);
    assert.deepEqual(heard, []);
    const after = await api.status();
    assert.deepEqual(
      [after.state, after.generation, after.handle, after.scheduled],
      ["set", before.generation, before.handle, []],
    );
    const cancels = (await api.auditLog()).records.filter((r) => r.request === "cancel-schedule");
    assert.deepEqual(
      cancels.map((r) => [r.outcome, r.detail?.schedule]),
      [
        ["ok", first.id],
        ["ok", second.id],
        ["no-such-schedule", first.id],
      ],
    );
  });

  it("survive a restart: one that fell due while no daemon ran runs at start, marked late; the rest on time", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const first = await serve(t, store, clock);
    const before = await first.api.submit("init");
    const due = await first.api.schedule("reset", "base32:32", plus(clock.now(), MINUTE).toISOString());
    const later = await first.api.schedule("reset", undefined, plus(clock.now(), HOUR).toISOString());
    await first.close();
    assert.deepEqual(clock.pending(), [], "a closed daemon leaves no timer");

    // Down past the first one's time (no timer fires: no daemon armed one).
    await clock.advance(5 * MINUTE);
    assert.equal(clock.fired, 0);
    const restartedAt = clock.now();
    const second = await serve(t, store, clock);
    const status = await second.api.status();
    assert.deepEqual(
      [status.generation, status.format, status.scheduled.map(id)],
      [before.generation + 1, "base32:32", [later.id]],
      "the late one ran at start; the other waits",
    );
    const ran = (await second.api.auditLog()).records.at(-1);
    assert.deepEqual(ran && [ran.request, ran.principal, ran.outcome, ran.generation, ran.time, ran.detail], [
      "reset",
      "scheduler:cli",
      "ok",
      before.generation + 1,
      restartedAt.toISOString(),
      { schedule: due.id, late: true },
    ]);
    assert.deepEqual(clock.pending(), [new Date(later.at)]);

    await clock.advanceTo(later.at, second.settle);
    assert.deepEqual(
      second.heard.map((n) => [n.scheduled, n.late, n.generation, n.time]),
      [[later.id, false, before.generation + 2, later.at]],
    );
  });

  it("a scheduled init refused at its time is removed and audited with its error; the next one still runs", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const { api, heard, settle } = await serve(t, store, clock);
    const before = await api.submit("init");
    const init = await api.schedule("init", undefined, plus(clock.now(), 10 * SECOND).toISOString());
    const reset = await api.schedule("reset", undefined, plus(clock.now(), 20 * SECOND).toISOString());
    heard.length = 0;

    await clock.advance(MINUTE, settle);
    assert.deepEqual(
      heard.map((n) => [n.request, n.scheduled, n.generation]),
      [["reset", reset.id, before.generation + 1]],
      "the refused init notified nobody; the reset after it ran",
    );
    const status = await api.status();
    assert.deepEqual([status.generation, status.scheduled], [before.generation + 1, []]);
    const records = (await api.auditLog()).records.filter((r) => r.principal === "scheduler:cli");
    assert.deepEqual(
      records.map((r) => [r.request, r.outcome, r.generation, r.time, r.detail]),
      [
        ["init", "already-initialized", before.generation, init.at, { schedule: init.id, late: false }],
        ["reset", "ok", before.generation + 1, reset.at, { schedule: reset.id, late: false }],
      ],
    );
  });

  it("schedule.json holds the requests, and never the identifier", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const { api, settle } = await serve(t, store, clock);
    await api.submit("init");
    const identifiers = [storedIdentifier(store)];
    const t0 = clock.now();
    await api.schedule("reset", undefined, plus(t0, MINUTE).toISOString());
    await api.schedule("reset", "digits:40", plus(t0, 2 * MINUTE).toISOString());
    await api.schedule("erase", undefined, plus(t0, 3 * MINUTE).toISOString());
    const check = () => {
      const bytes = readFileSync(join(store, "schedule.json"));
      const entries = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>[];
      for (const entry of entries) {
        for (const key of Object.keys(entry)) {
          assert.ok(["id", "type", "format", "at", "principal", "created"].includes(key), `field ${key}`);
        }
      }
      for (const [n, identifier] of identifiers.entries()) {
        assert.ok(identifier, "an identifier was read from the store");
        const leaked = renderings(identifier).some((form) => containsBytes(bytes, form));
        assert.ok(!leaked, `schedule.json holds identifier #${n} (or a piece of it)`);
      }
      return entries.length;
    };
    assert.equal(check(), 3);
    await clock.advance(MINUTE, settle);
    identifiers.push(storedIdentifier(store));
    assert.equal(check(), 2);
    await clock.advance(MINUTE, settle);
    identifiers.push(storedIdentifier(store));
    assert.equal(check(), 1);
  });

  it("a schedule that cannot be read while the daemon runs is reported and tried again; the daemon stays up", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const { api, heard, settle } = await serve(t, store, clock);
    const before = await api.submit("init");
    const due = await api.schedule("reset", undefined, plus(clock.now(), MINUTE).toISOString());
    const file = join(store, "schedule.json");
    const saved = readFileSync(file);
    const reports: string[] = [];
    t.mock.method(process.stderr, "write", (text: string | Uint8Array) => {
      reports.push(String(text));
      return true;
    });

    writeFileSync(file, "{ not a schedule");
    // A change to the schedule re-arms the timer; the failure to read it must not crash the daemon.
    await assert.rejects(api.schedule("erase", undefined, plus(clock.now(), HOUR).toISOString()), {
      code: "store-corrupt",
    });
    await clock.advance(MINUTE, settle);
    assert.deepEqual(heard.slice(1), [], "nothing ran from a schedule that could not be read");
    assert.ok(
      reports.some((line) =>
        /^reid: scheduled requests: the schedule in .* is corrupt; trying again/.test(line),
      ),
      `reported: ${JSON.stringify(reports)}`,
    );
    assert.equal((await api.auditLog()).verdict.intact, true, "the daemon still answers");

    writeFileSync(file, saved);
    await clock.advance(RETRY_MS, settle);
    assert.deepEqual(
      heard.slice(1).map((n) => [n.scheduled, n.late, n.generation]),
      [[due.id, false, before.generation + 1]],
      "run once the schedule could be read again",
    );
    assert.deepEqual((await api.status()).scheduled, []);
  });

  it("a schedule that cannot be read stops the daemon from starting, and it leaves nothing behind", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const { api, close } = await serve(t, store, clock);
    await api.submit("init");
    await close();
    writeFileSync(join(store, "schedule.json"), "[1,");
    await assert.rejects(
      startDaemon({ storeDirectory: store, source: { kind: "os" }, lockTimeoutMs: 200, kek: null, clock }),
      { code: "store-corrupt" },
    );
    assert.ok(!existsSync(join(store, "reid.sock")), "no socket left behind");
    // The store's lock was let go: a daemon starts at once once the schedule is removed.
    rmSync(join(store, "schedule.json"));
    const again = await serve(t, store, clock);
    assert.equal((await again.api.status()).state, "set");
  });
});

describe("/events (server-sent events)", () => {
  it("streams every finished request to every follower; HEAD and closed streams leave no subscription", async (t) => {
    const { store } = tempDir(t);
    const clock = new FakeClock(start());
    const { daemon, api, settle } = await serve(t, store, clock);
    const control = daemon.service.control;
    const active = new Set<unknown>();
    const subscribe = control.onNotification.bind(control);
    t.mock.method(control, "onNotification", (listener: (n: Notification) => void) => {
      active.add(listener);
      const unsubscribe = subscribe(listener);
      return () => {
        active.delete(listener);
        return unsubscribe();
      };
    });

    const a = await follow(t, daemon.socket);
    const b = await follow(t, daemon.socket);
    assert.equal(active.size, 2);
    const init = await api.submit("init");
    const scheduled = await api.schedule("erase", undefined, plus(clock.now(), MINUTE).toISOString());
    await clock.advance(MINUTE, settle);
    for (const follower of [a, b]) {
      assert.deepEqual(await follower.next(), init);
      const erased = await follower.next();
      assert.deepEqual([erased.request, erased.scheduled, erased.late], ["erase", scheduled.id, false]);
    }

    const head = await new Promise<{ status: number | undefined; type: string | undefined }>(
      (resolve, reject) => {
        const request = httpRequest({ socketPath: daemon.socket, path: "/events", method: "HEAD" }, (r) => {
          r.resume();
          r.on("end", () => resolve({ status: r.statusCode, type: r.headers["content-type"] }));
        });
        request.on("error", reject);
        request.end();
      },
    );
    assert.deepEqual(head, { status: 200, type: "text/event-stream" });
    assert.equal(active.size, 2, "HEAD /events subscribed");

    // A follower that hangs up is unsubscribed (safety net: a few seconds); the other still hears.
    a.close();
    for (let waited = 0; active.size > 1 && waited < 5000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(active.size, 1, "a closed stream stayed subscribed");
    const reset = await api.submit("reset");
    assert.deepEqual(await b.next(), reset);
  });
});
