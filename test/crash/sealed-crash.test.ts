// Crash-atomicity holds for a sealed store too (issue 3, part 4): the reset loop
// (test/fixtures/reset-loop.ts) seals every identifier under a key-encryption key and is SIGKILLed
// at random moments. After every kill, status (without the key) shows the old or the new
// generation, every record left in the area files opens under the key to an identifier that
// belongs to its handle (never garbage), load() with the key returns the record status shows, and
// no identifier is in the files in clear.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { deriveHandle } from "../../src/derive/derivation.js";
import { openFileStore } from "../../src/storage/file/open-file-store.js";
import { AesGcmSealer } from "../../src/storage/sealer.js";
import { reidJson } from "../helpers/cli.js";
import { compileFixture } from "../helpers/fixtures.js";
import { type Areas, forget, readAreas, resetInProcess, runAndKill } from "../helpers/reset-loop.js";
import { assertDifferentSecret, containsBytes } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

const KILLS = 60;
/** Kills land 0..MAX_DELAY_MS after the first acknowledgement (as in crash.test.ts). */
const MAX_DELAY_MS = 20;

interface Status {
  readonly state: string;
  readonly generation: number;
  readonly handle: string | null;
  readonly sealed: boolean;
}

/**
 * Each area whole or erased, at least one record, every record sealed and opening under the key
 * to an identifier whose handle is the record's; the newest is the one status shows; two records
 * are the two ends of one reset. Returns the opened identifiers (the caller zeroes them).
 */
function checkAfterKill(areas: Areas, sealer: AesGcmSealer, status: Status, where: string): Uint8Array[] {
  const opened: { epoch: number; generation: number; identifier: Uint8Array }[] = [];
  areas.decoded.forEach((area, index) => {
    assert.ok(
      area.kind !== "corrupt",
      `${where}: area-${index} is torn or corrupt (${area.kind === "corrupt" ? area.reason : ""})`,
    );
    if (area.kind !== "record") return;
    const { record, sealed } = area;
    assert.equal(record.state, "set", `${where}: area-${index} holds a blank record`);
    assert.equal(record.sealed, true, `${where}: area-${index} is not sealed`);
    assert.equal(record.identifier, null, `${where}: area-${index} holds an identifier in clear`);
    assert.ok(sealed, `${where}: area-${index} has no sealed payload`);
    const identifier = sealer.open(sealed.payload, sealed.associated);
    assert.ok(identifier, `${where}: area-${index} does not open under the key`);
    assert.equal(deriveHandle(identifier), record.handle, `${where}: area-${index} opened to garbage`);
    opened.push({ epoch: record.epoch, generation: record.generation, identifier });
  });
  opened.sort((a, b) => b.epoch - a.epoch);
  const [newest, older] = opened;
  assert.ok(newest, `${where}: neither area holds a valid record`);
  assert.equal(newest.generation, status.generation, `${where}: status disagrees with the newest record`);
  if (older) {
    assert.equal(newest.epoch - older.epoch, 1, `${where}: the two records are not one commit apart`);
    assert.equal(
      newest.generation - older.generation,
      1,
      `${where}: the two records are not one reset apart`,
    );
    assertDifferentSecret(newest.identifier, older.identifier, `${where}: old and new identifier`);
  }
  for (const { identifier, generation } of opened) {
    areas.raw.forEach((bytes, index) => {
      assert.ok(
        !containsBytes(bytes, identifier),
        `${where}: area-${index} holds the identifier of generation ${generation} in clear`,
      );
    });
  }
  return opened.map((entry) => entry.identifier);
}

/** load() with the key, read-only (leaving what the kill left for the next fixture to clear). */
async function loadWithKey(
  store: string,
  sealer: AesGcmSealer,
  status: Status,
  where: string,
): Promise<void> {
  const opened = await openFileStore(store, { write: false, lockTimeoutMs: 30_000, sealer });
  try {
    const record = await opened.load();
    assert.deepEqual(
      [record.state, record.generation, record.handle, record.sealed],
      ["set", status.generation, status.handle, true],
      `${where}: load() disagrees with status`,
    );
    assert.ok(record.identifier, `${where}: load() returned no identifier`);
    assert.equal(deriveHandle(record.identifier), record.handle, `${where}: load() returned garbage`);
    record.identifier.fill(0);
  } finally {
    await opened.close();
  }
}

test(`a sealed reset loop SIGKILLed ${KILLS} times leaves the old or the new generation, and it opens under the key`, {
  timeout: 600_000,
}, async (t: TestContext) => {
  const { dir, store } = tempDir(t, "reid-sealed-crash-");
  const kek = randomBytes(32);
  const kekFile = join(dir, "kek.bin");
  writeFileSync(kekFile, kek, { mode: 0o600 });
  const sealer = new AesGcmSealer(kek);
  const fixture = await compileFixture("reset-loop");
  const init = await reidJson<Status>(["init", "--store", store, "--kek-file", kekFile]);
  assert.equal(init.generation, 1);
  // Guards the guard: the after-kill check passes on the fresh store and fails under another key.
  const first = readAreas(store);
  try {
    for (const identifier of checkAfterKill(first, sealer, init, "after init")) identifier.fill(0);
    assert.throws(
      () => checkAfterKill(first, new AesGcmSealer(randomBytes(32)), init, "probe"),
      /does not open under the key/,
    );
  } finally {
    forget(first);
  }

  let committed = init.generation;
  const outcomes = { ack: 0, next: 0 };
  let bothHeld = 0;
  let cleanups = 0;
  let acknowledged = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    const delayMs = kill % 10 === 0 ? 0 : Math.floor(Math.random() * (MAX_DELAY_MS + 1));
    const { acks } = await runAndKill(fixture, store, delayMs, kekFile);
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

    // Status needs no key: the generation and handle are public.
    const status = await reidJson<Status>(["status", "--store", store]);
    assert.equal(status.state, "set", `${where}: status is ${status.state}`);
    assert.equal(status.sealed, true, `${where}: status says the store is not sealed`);
    assert.ok(
      status.generation === last || status.generation === last + 1,
      `${where}: status shows generation ${status.generation}, the last acknowledged was ${last}`,
    );
    if (status.generation === last) outcomes.ack++;
    else outcomes.next++;
    committed = status.generation;

    const areas = readAreas(store);
    let identifiers: Uint8Array[] = [];
    try {
      identifiers = checkAfterKill(areas, sealer, status, where);
      await loadWithKey(store, sealer, status, where);
      if (areas.records.length === 2) bothHeld++;
      // Every other time, the next reset (in this process, with the key) must clear the
      // superseded record; otherwise it is left for the next fixture's first commit to clear.
      if (areas.records.length === 2 && bothHeld % 2 === 1) {
        committed = await resetInProcess(store, kek);
        assert.equal(committed, status.generation + 1, `${where}: the clean-up reset's generation`);
        const after = readAreas(store);
        try {
          assert.deepEqual(
            after.decoded.map((area) => area.kind).sort(),
            ["erased", "record"],
            `${where}: clean-up`,
          );
          for (const old of identifiers) {
            assert.ok(
              !after.raw.some((bytes) => containsBytes(bytes, old)),
              `${where}: an old identifier survived`,
            );
          }
        } finally {
          forget(after);
        }
        cleanups++;
      }
    } finally {
      for (const identifier of identifiers) identifier.fill(0);
      forget(areas);
    }
  }
  kek.fill(0);

  t.diagnostic(
    `${KILLS} kills, ${acknowledged} acknowledged sealed resets; status=ack ${outcomes.ack} / ack+1 ${outcomes.next}; ` +
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
