// Requests are serialized per element (docs/spec.md §2.5), also when many clients hit the daemon at
// once (issue 4): 32 concurrent clients x 100 resets through the socket of a real `reid serve`,
// every one answered, the generations exactly 1..3200, the audit log in the same order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RemoteElement } from "../../src/daemon/client.js";
import type { Notification } from "../../src/element/request.js";
import { reidJson } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

const CLIENTS = 32;
const REQUESTS = 100;
const TOTAL = CLIENTS * REQUESTS;

describe("the daemon under concurrent clients", () => {
  it(`${CLIENTS} clients x ${REQUESTS} resets: all answered, generations 1..${TOTAL}, none lost or repeated`, async (t) => {
    const { store } = tempDir(t);
    const daemon = await serve(t, store);
    const clients = Array.from({ length: CLIENTS }, () => new RemoteElement(daemon.socket));
    t.after(() => Promise.all(clients.map((client) => client.close())));

    // Each client sends its requests one after another; the 32 clients all at once.
    const answers = await Promise.all(
      clients.map(async (client, c) => {
        const mine: Notification[] = [];
        for (let i = 0; i < REQUESTS; i++) mine.push(await client.submit("reset"));
        // One client's requests are answered in the order it sent them.
        for (let i = 1; i < mine.length; i++) {
          assert.ok(
            (mine[i]?.generation ?? 0) > (mine[i - 1]?.generation ?? 0),
            `client ${c}: generation ${mine[i]?.generation} after ${mine[i - 1]?.generation}`,
          );
        }
        return mine;
      }),
    );

    const all = answers.flat();
    assert.equal(all.length, TOTAL, "every request was answered");
    for (const n of all) {
      assert.deepEqual([n.request, n.requested, n.state], ["reset", "reset", "set"]);
      assert.match(n.handle ?? "", /^[0-9a-f]{32}$/);
    }
    const generations = all.map((n) => n.generation).sort((a, b) => a - b);
    assert.deepEqual(
      generations,
      Array.from({ length: TOTAL }, (_, i) => i + 1),
      "the generations are not exactly 1..3200 (a request was lost, repeated or interleaved)",
    );
    const handleOf = new Map(all.map((n) => [n.generation, n.handle]));
    assert.equal(new Set(handleOf.values()).size, TOTAL, "two resets produced the same handle");

    // The element agrees, through the socket and through the CLI.
    const status = await clients[0]?.status();
    assert.deepEqual([status?.state, status?.generation], ["set", TOTAL]);
    assert.equal(status?.handle, handleOf.get(TOTAL));
    const cli = await reidJson(["--store", store, "status"], { env: { REID_LOCK_TIMEOUT: "0.2" } });
    assert.deepEqual([cli.generation, cli.handle], [TOTAL, handleOf.get(TOTAL)]);

    // The audit log has every reset, once, in the order they were carried out, with the handle
    // each client was told; and its chain is intact.
    const log = await clients[1]?.auditLog();
    assert.ok(log);
    // One line a reset: with no bindings to revoke, its intent names the handle and travels in the
    // commit's journal, and is its record (docs/spec.md §9.3), shown as ok.
    assert.deepEqual(log.verdict, { ...log.verdict, intact: true, records: TOTAL });
    const resets = log.records.filter((r) => r.request === "reset");
    assert.equal(resets.length, TOTAL, `the log has ${resets.length} resets`);
    assert.equal(log.records.length, TOTAL, "the log has records of something else");
    for (const [i, record] of resets.entries()) {
      assert.equal(record.outcome, "ok", `record ${record.seq}: ${record.outcome}`);
      assert.equal(record.seq, i + 1);
      assert.equal(record.generation, i + 1, `record ${record.seq} has generation ${record.generation}`);
      assert.equal(record.handle, handleOf.get(i + 1), `record ${record.seq}: not the handle announced`);
      assert.equal(record.principal, "cli");
    }
  });
});
