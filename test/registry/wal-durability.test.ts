// The registry answers a change only once its database log is on disk (docs/spec.md §10.3): SQLite
// commits without waiting for the disk (synchronous=NORMAL) and reid fsyncs the WAL itself, off the
// event loop, before it answers. Seen from outside, through the LD_PRELOAD fault shim in a real
// `reid registry serve`: the WAL is fsync'd for the enrollments it answers, and when that fsync
// fails, no enrollment is answered as done.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import { issueEnrollmentToken } from "../../src/registry/tokens.js";
import { ERRNO, faultEnv } from "../helpers/faults.js";
import { csrBase64, curl, makeRegistry, newKey, serveRegistry } from "../helpers/registry.js";

async function tokens(dir: string, count: number): Promise<string[]> {
  const store = await openSqliteRegistry(join(dir, "registry.db"));
  try {
    const made: string[] = [];
    for (let i = 0; i < count; i++) {
      made.push(
        (await issueEnrollmentToken(store, { ttlSeconds: 3600, label: null, now: new Date() })).token,
      );
    }
    return made;
  } finally {
    await store.close();
  }
}

function enroll(root: string, base: string, dir: string, key: string, handle: string, token: string) {
  return curl(root, `${base}/.well-known/est/simpleenroll`, {
    ca: join(dir, "ca.pem"),
    body: csrBase64(key, handle),
    args: ["-H", "Content-Type: application/pkcs10", "-u", `device:${token}`],
    mayFail: true,
  });
}

/** How many fsyncs of the WAL the shim's log has seen. */
function syncsIn(log: string): number {
  let text = "";
  try {
    text = readFileSync(log, "utf8");
  } catch {
    return 0;
  }
  return text.split("\n").filter((line) => /^f(data)?sync \d+ /.test(line)).length;
}

test("every answered enrollment had the registry's WAL fsync'd before its answer", async (t) => {
  const { root, dir, remove } = await makeRegistry();
  t.after(remove);
  const key = newKey(join(root, "device.key"), "p256");
  const made = await tokens(dir, 3);
  const log = join(root, "fsync.log");
  // Never fails (the millionth call), only logs each fsync of the WAL.
  const env = await faultEnv({ path: "registry.db-wal", op: "fsync", nth: 1_000_000, log });
  const server = await serveRegistry(dir, [], env);
  t.after(() => server.stop());
  for (const [i, token] of made.entries()) {
    const before = syncsIn(log);
    const answer = await enroll(root, server.base, dir, key, `${i}`.padStart(32, "d"), token);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.ok(syncsIn(log) > before, `enrollment ${i + 1} was answered without an fsync of the WAL`);
  }
});

test("when the WAL cannot be fsync'd, no enrollment is answered as done", async (t) => {
  const { root, dir, remove } = await makeRegistry();
  t.after(remove);
  const key = newKey(join(root, "device.key"), "p256");
  const made = await tokens(dir, 3);
  // The first server of a registry signs its identity log's first checkpoint (a write); later ones
  // find it. How many fsyncs such a later server makes before it serves: those pass, every later one fails.
  await (await serveRegistry(dir)).stop();
  const counted = join(root, "startup.log");
  const counting = await serveRegistry(
    dir,
    [],
    await faultEnv({ path: "registry.db-wal", op: "fsync", nth: 1_000_000, log: counted }),
  );
  await counting.stop();
  const startup = syncsIn(counted);
  const env = await faultEnv({
    path: "registry.db-wal",
    op: "fsync",
    nth: startup + 1,
    from: true,
    errno: ERRNO.EIO,
  });
  const server = await serveRegistry(dir, [], env);
  t.after(() => server.stop());
  // The first may meet SQLite's own sync (a log begun anew), the later ones only reid's.
  for (const [i, token] of made.entries()) {
    const answer = await enroll(root, server.base, dir, key, `${i}`.padStart(32, "e"), token);
    assert.equal(answer.status, 507, answer.body.toString());
    assert.match(answer.body.toString(), /cannot be made durable|SQLITE_IOERR_FSYNC/);
    assert.doesNotMatch(answer.body.toString(), /BEGIN|MII/);
  }
});
