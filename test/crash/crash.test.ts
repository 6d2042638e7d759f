// SPEC section 2, reset: "the old identifier is erased only after the new one is durable: at no
// instant, power loss included, does the storage area hold neither, or a torn mix". A real child
// process (test/fixtures/reset-loop.ts) resets in a loop and is SIGKILLed at random moments, over
// and over; after every kill the real CLI must report the old or the new generation, set, and the
// area files must hold at least one whole record and nothing torn.
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { reidJson } from "../helpers/cli.js";
import { compileFixture } from "../helpers/fixtures.js";
import { type Areas, forget, readAreas, resetInProcess, runAndKill } from "../helpers/reset-loop.js";
import { assertDifferentSecret, containsBytes } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

const KILLS = 200;
/** Kills land 0..MAX_DELAY_MS after the first acknowledgement; a reset takes well under 1 ms to a few ms. */
const MAX_DELAY_MS = 20;

interface Status {
  readonly state: string;
  readonly generation: number;
}

/**
 * What a kill may leave: each area whole (a record) or erased (a single pwrite is never torn by a
 * kill), at least one record, the newest one set and the generation status shows; and when both
 * areas hold records, they are the two ends of one reset (epochs and generations one apart,
 * different identifiers).
 */
function checkAfterKill(areas: Areas, status: Status, kill: number): void {
  const where = `after kill ${kill}`;
  areas.decoded.forEach((area, index) => {
    assert.ok(
      area.kind !== "corrupt",
      `${where}: area-${index} is torn or corrupt (${area.kind === "corrupt" ? area.reason : ""})`,
    );
  });
  const [newest, older] = areas.records;
  assert.ok(newest, `${where}: neither area holds a valid record`);
  assert.equal(newest.state, "set", `${where}: the newest record is blank`);
  assert.equal(newest.generation, status.generation, `${where}: status disagrees with the newest record`);
  if (older) {
    assert.equal(newest.epoch - older.epoch, 1, `${where}: the two records are not one commit apart`);
    assert.equal(
      newest.generation - older.generation,
      1,
      `${where}: the two records are not one reset apart`,
    );
    assert.equal(older.state, "set", `${where}: the superseded record is blank`);
    assertDifferentSecret(newest.identifier, older.identifier, `${where}: old and new identifier`);
  }
}

/**
 * One successful reset (the element, in this process) after a kill that left both areas holding
 * records: afterwards exactly one area holds a record, the other is zero, and neither old
 * identifier is anywhere in the area files.
 */
async function checkCleanupByReset(store: string, before: Areas, kill: number): Promise<number> {
  const where = `reset after kill ${kill}`;
  const generation = await resetInProcess(store);
  const after = readAreas(store);
  try {
    assert.equal(generation, (before.records[0]?.generation ?? Number.NaN) + 1, `${where}: generation`);
    assert.equal(after.records.length, 1, `${where}: ${after.records.length} areas hold a record`);
    assert.equal(after.records[0]?.generation, generation, `${where}: the record is not the new one`);
    assert.deepEqual(
      after.decoded.map((area) => area.kind).sort(),
      ["erased", "record"],
      `${where}: the other area is not erased`,
    );
    for (const old of before.records) {
      for (const [index, bytes] of after.raw.entries()) {
        assert.ok(
          !containsBytes(bytes, old.identifier ?? new Uint8Array()),
          `${where}: area-${index} still holds the identifier of generation ${old.generation}`,
        );
      }
    }
  } finally {
    forget(after);
  }
  return generation;
}

test(`a reset loop SIGKILLed ${KILLS} times at random moments leaves the old or the new generation, never blank or torn`, {
  timeout: 600_000,
}, async (t: TestContext) => {
  const { store } = tempDir(t, "reid-crash-");
  const fixture = await compileFixture("reset-loop");
  const init = await reidJson<Status>(["init", "--store", store]);
  assert.equal(init.generation, 1);

  /** The generation in force when the next fixture starts. */
  let committed = init.generation;
  let highest = committed;
  const outcomes = { ack: 0, next: 0 };
  let bothHeld = 0;
  let cleanups = 0;
  let acknowledged = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    // Spread kills over the first MAX_DELAY_MS; a delay of 0 kills right after the first reset.
    const delayMs = kill % 10 === 0 ? 0 : Math.floor(Math.random() * (MAX_DELAY_MS + 1));
    const { acks } = await runAndKill(fixture, store, delayMs);
    acknowledged += acks.length;
    const where = `kill ${kill} (after ${delayMs} ms)`;
    assert.equal(
      acks[0],
      committed + 1,
      `${where}: the first reset did not continue from generation ${committed}`,
    );
    acks.forEach((generation, i) => {
      if (i > 0) assert.equal(generation, (acks[i - 1] ?? 0) + 1, `${where}: acknowledged generations skip`);
    });
    const last = acks.at(-1) ?? committed;
    highest = Math.max(highest, last);

    const status = await reidJson<Status>(["status", "--store", store]);
    assert.equal(status.state, "set", `${where}: status is ${status.state}`);
    assert.ok(
      status.generation === last || status.generation === last + 1,
      `${where}: status shows generation ${status.generation}, the last acknowledged was ${last}`,
    );
    assert.ok(status.generation >= highest, `${where}: generation went back below ${highest}`);
    if (status.generation === last) outcomes.ack++;
    else outcomes.next++;
    highest = status.generation;
    committed = status.generation;

    const areas = readAreas(store);
    try {
      checkAfterKill(areas, status, kill);
      if (areas.records.length === 2) {
        bothHeld++;
        // Every other time, prove that the next reset clears the old record; otherwise leave it
        // for the next fixture, so kills also land in a commit that first clears leftovers.
        if (bothHeld % 2 === 1) {
          committed = await checkCleanupByReset(store, areas, kill);
          highest = committed;
          cleanups++;
        }
      }
    } finally {
      forget(areas);
    }
  }

  t.diagnostic(
    `${KILLS} kills, ${acknowledged} acknowledged resets; status=ack ${outcomes.ack} / ack+1 ${outcomes.next}; ` +
      `both areas held records after ${bothHeld} kills, ${cleanups} clean-up resets checked`,
  );
  // Both outcomes prove that kills landed inside commits: before the new record was durable
  // (status = ack) and after it was durable but before the acknowledgement (status = ack + 1).
  assert.ok(
    outcomes.ack > 0,
    "no kill landed before a commit: status never showed the acknowledged generation",
  );
  assert.ok(
    outcomes.next > 0,
    "no kill landed inside a commit: status never showed an unacknowledged generation",
  );
  assert.ok(cleanups > 0, "no kill left both areas holding records, so the clean-up was never checked");
});
