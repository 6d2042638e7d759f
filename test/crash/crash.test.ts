// docs/spec.md §2.2 and §5.3, reset: the old identifier is erased only after the new one is durable;
// at no instant, power loss included, does the storage area hold neither, or a torn mix. A real child
// process (test/fixtures/reset-loop.ts) resets in a loop and is SIGKILLed at random moments, over
// and over; after every kill the real CLI must report the old or the new generation, set, and the
// area files must hold at least one whole record and nothing torn.
//
// Crash-atomicity holds for a sealed store too (issue 3, part 4): the same loop, sealing every
// identifier under a key-encryption key. After every kill, status (without the key) shows the old
// or the new generation, every record left in the area files opens under the key to an identifier
// that belongs to its handle (never garbage), load() with the key returns the record status shows,
// and no identifier is in the files in clear.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { deriveHandle } from "../../src/derive/derivation.js";
import { AesGcmSealer } from "../../src/storage/sealer.js";
import { reid, reidJson } from "../helpers/cli.js";
import { compileFixture } from "../helpers/fixtures.js";
import {
  type Areas,
  checkBothOutcomes,
  checkLogged,
  checkNewestAndOlder,
  forget,
  lastAcknowledged,
  oldOrNew,
  readAreas,
  resetInProcess,
  runAndKill,
} from "../helpers/reset-loop.js";
import { containsBytes } from "../helpers/secret.js";
import { openFileStore } from "../helpers/stores.js";
import { tempDir } from "../helpers/temp.js";

const PLAIN_KILLS = 200;
const SEALED_KILLS = 60;
/** Kills land 0..MAX_DELAY_MS after the first acknowledgement; a reset takes well under 1 ms to a few ms. */
const MAX_DELAY_MS = 20;

interface Status {
  readonly state: string;
  readonly generation: number;
  readonly handle: string | null;
  readonly sealed: boolean;
}

/**
 * A sealed store's key-encryption key: raw (for resets in this process), in a file (for the CLI
 * and the fixture), and as a sealer (to open what the area files hold).
 */
interface Kek {
  readonly bytes: Uint8Array;
  readonly file: string;
  readonly sealer: AesGcmSealer;
}

/** A record's identifier: as stored when the store is plain, as opened under the key when sealed. */
interface Identifier {
  readonly epoch: number;
  readonly generation: number;
  readonly identifier: Uint8Array;
}

/**
 * What a kill may leave: each area whole (a record) or erased (a single pwrite is never torn by a
 * kill), at least one record, every record set and its identifier (opened under the key, when
 * sealed; stored in clear only when not) belonging to its handle; the newest is the one status
 * shows; and when both areas hold records, they are the two ends of one reset (epochs and
 * generations one apart, different identifiers). Returns the identifiers, newest first; opened
 * ones are copies the caller zeroes.
 */
function checkAfterKill(
  areas: Areas,
  sealer: AesGcmSealer | null,
  status: Status,
  where: string,
): Identifier[] {
  const identifiers: Identifier[] = [];
  areas.decoded.forEach((area, index) => {
    assert.ok(
      area.kind !== "corrupt",
      `${where}: area-${index} is torn or corrupt (${area.kind === "corrupt" ? area.reason : ""})`,
    );
    if (area.kind !== "record") return;
    const { record, sealed } = area;
    assert.equal(record.state, "set", `${where}: area-${index} holds a blank record`);
    let identifier: Uint8Array | null;
    if (sealer) {
      assert.equal(record.sealed, true, `${where}: area-${index} is not sealed`);
      assert.equal(record.identifier, null, `${where}: area-${index} holds an identifier in clear`);
      assert.ok(sealed, `${where}: area-${index} has no sealed payload`);
      identifier = sealer.open(sealed.payload, sealed.associated);
      assert.ok(identifier, `${where}: area-${index} does not open under the key`);
    } else {
      assert.equal(record.sealed, false, `${where}: area-${index} is sealed`);
      identifier = record.identifier;
      assert.ok(identifier, `${where}: area-${index} holds no identifier`);
    }
    assert.equal(
      deriveHandle(identifier),
      record.handle,
      `${where}: area-${index} ${sealer ? "opened to garbage" : "holds an identifier of another handle"}`,
    );
    identifiers.push({ epoch: record.epoch, generation: record.generation, identifier });
  });
  identifiers.sort((a, b) => b.epoch - a.epoch);
  const [newest, older] = identifiers;
  checkNewestAndOlder(newest, older, status.generation, where);
  if (sealer) {
    for (const { identifier, generation } of identifiers) {
      areas.raw.forEach((bytes, index) => {
        assert.ok(
          !containsBytes(bytes, identifier),
          `${where}: area-${index} holds the identifier of generation ${generation} in clear`,
        );
      });
    }
  }
  return identifiers;
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

/**
 * One successful reset (the element, in this process, with the key when sealed) after a kill that
 * left both areas holding records: afterwards exactly one area holds a record, the new one, the
 * other is zero, and neither old identifier is anywhere in the area files.
 */
async function checkCleanupByReset(
  store: string,
  kek: Kek | null,
  status: Status,
  old: readonly Identifier[],
  where: string,
): Promise<number> {
  const generation = await resetInProcess(store, kek?.bytes);
  const after = readAreas(store);
  try {
    assert.equal(generation, status.generation + 1, `${where}: the clean-up reset's generation`);
    assert.equal(after.records.length, 1, `${where}: ${after.records.length} areas hold a record`);
    assert.equal(after.records[0]?.generation, generation, `${where}: the record is not the new one`);
    assert.deepEqual(
      after.decoded.map((area) => area.kind).sort(),
      ["erased", "record"],
      `${where}: the other area is not erased`,
    );
    for (const { identifier, generation: superseded } of old) {
      for (const [index, bytes] of after.raw.entries()) {
        assert.ok(
          !containsBytes(bytes, identifier),
          `${where}: area-${index} still holds the identifier of generation ${superseded}`,
        );
      }
    }
  } finally {
    forget(after);
  }
  return generation;
}

/**
 * Initializes a store (sealed under a fresh key-encryption key when `sealed`), then runs the reset
 * loop and SIGKILLs it `kills` times, checking after every kill what it left.
 */
async function killResetLoop(t: TestContext, kills: number, sealed: boolean): Promise<void> {
  const { dir, store } = tempDir(t, sealed ? "reid-sealed-crash-" : "reid-crash-");
  let kek: Kek | null = null;
  if (sealed) {
    const bytes = randomBytes(32);
    const file = join(dir, "kek.bin");
    writeFileSync(file, bytes, { mode: 0o600 });
    kek = { bytes, file, sealer: new AesGcmSealer(bytes) };
  }
  const fixture = await compileFixture("reset-loop");
  const init = await reidJson<Status>(["init", "--store", store, ...(kek ? ["--kek-file", kek.file] : [])]);
  assert.equal(init.generation, 1);
  // Guards the guard: the after-kill check passes on the fresh store and, when sealed, fails under
  // another key.
  const first = readAreas(store);
  try {
    for (const { identifier } of checkAfterKill(first, kek?.sealer ?? null, init, "after init")) {
      identifier.fill(0);
    }
    if (kek) {
      assert.throws(
        () => checkAfterKill(first, new AesGcmSealer(randomBytes(32)), init, "probe"),
        /does not open under the key/,
      );
    }
  } finally {
    forget(first);
  }
  checkLogged(store, init.generation, "after init");
  assert.throws(
    () => checkLogged(store, init.generation + 1, "probe"),
    /2 committed, but not in the audit log/,
  );

  /** The generation in force when the next fixture starts. */
  let committed = init.generation;
  let highest = committed;
  const outcomes = { ack: 0, next: 0 };
  let bothHeld = 0;
  let cleanups = 0;
  let acknowledged = 0;
  for (let kill = 1; kill <= kills; kill++) {
    // Spread kills over the first MAX_DELAY_MS; a delay of 0 kills right after the first reset.
    const delayMs = kill % 10 === 0 ? 0 : Math.floor(Math.random() * (MAX_DELAY_MS + 1));
    const { acks } = await runAndKill(fixture, store, delayMs, kek?.file);
    acknowledged += acks.length;
    const where = `kill ${kill} (after ${delayMs} ms)`;
    const last = lastAcknowledged(acks, committed);
    highest = Math.max(highest, last);

    // Status needs no key: the generation and handle are public.
    const status = await reidJson<Status>(["status", "--store", store]);
    outcomes[oldOrNew(status, last, highest, where)]++;
    assert.equal(status.sealed, sealed, `${where}: status says the store is ${sealed ? "not " : ""}sealed`);
    highest = status.generation;
    committed = status.generation;
    // The kill may fall between the commit and its audit record: the log still accounts for it.
    checkLogged(store, status.generation, where);
    const verdict = await reid(["log", "--verify", "--store", store]);
    assert.equal(verdict.code, 0, `${where}: log --verify: ${verdict.stdout}${verdict.stderr}`);

    const areas = readAreas(store);
    let identifiers: Identifier[] = [];
    try {
      identifiers = checkAfterKill(areas, kek?.sealer ?? null, status, where);
      if (kek) await loadWithKey(store, kek.sealer, status, where);
      if (areas.records.length === 2) {
        bothHeld++;
        // Every other time, prove that the next reset clears the old record; otherwise leave it
        // for the next fixture, so kills also land in a commit that first clears leftovers.
        if (bothHeld % 2 === 1) {
          committed = await checkCleanupByReset(store, kek, status, identifiers, where);
          highest = committed;
          cleanups++;
        }
      }
    } finally {
      for (const { identifier } of identifiers) identifier.fill(0);
      forget(areas);
    }
  }
  kek?.bytes.fill(0);

  t.diagnostic(
    `${kills} kills, ${acknowledged} acknowledged ${sealed ? "sealed " : ""}resets; status=ack ${outcomes.ack} / ack+1 ${outcomes.next}; ` +
      `both areas held records after ${bothHeld} kills, ${cleanups} clean-up resets checked`,
  );
  checkBothOutcomes(outcomes);
  assert.ok(cleanups > 0, "no kill left both areas holding records, so the clean-up was never checked");
}

test(
  `a reset loop SIGKILLed ${PLAIN_KILLS} times at random moments leaves the old or the new generation, never blank or torn`,
  {
    timeout: 600_000,
  },
  (t: TestContext) => killResetLoop(t, PLAIN_KILLS, false),
);

test(
  `a sealed reset loop SIGKILLed ${SEALED_KILLS} times leaves the old or the new generation, and it opens under the key`,
  {
    timeout: 600_000,
  },
  (t: TestContext) => killResetLoop(t, SEALED_KILLS, true),
);
