// The crash test of test/crash/crash.test.ts on the PKCS#11 backend: the reset loop
// (test/fixtures/reset-loop.ts --pkcs11 SPEC, the element's own resets) keeps its identifier in two
// data objects of a real SoftHSM2 token and is SIGKILLed at random moments, over and over. After
// every kill OpenSC's pkcs11-tool (an independent client) lists and reads reid's objects: each
// label is carried by no object or by one object shaped as reid makes them holding a whole record,
// never a torn one, never none at all; two records only as the two ends of one reset. The real CLI
// (`reid status`, finding the token from the store's store.json) must show the old or the new
// generation, set; the store's load(), read-only, the newest record's identifier; and readers must
// leave the token as the kill left it.
//
// Only the reid process is killed, never the token. SoftHSM2 (2.6) writes a new object's file
// first with default attributes (an empty label) and then whole, template and all, in one
// write(2): a kill inside C_CreateObject leaves an object no label lookup finds, or the whole
// object. It does not fsync, so a power cut under it is SoftHSM2's matter, not reid's.
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { Pkcs11Token } from "../../src/pkcs11/token.js";
import { AREA_SIZE, type DecodedArea, decodeArea, type StoredRecord } from "../../src/storage/record.js";
import { givenStoreSpec } from "../../src/storage/store-spec.js";
import { reid, reidJson } from "../helpers/cli.js";
import { compileFixture } from "../helpers/fixtures.js";
import {
  checkBothOutcomes,
  checkLoad,
  checkLogged,
  checkRecords,
  lastAcknowledged,
  oldOrNew,
  recordBytes,
  resetInProcess,
  runAndKill,
} from "../helpers/reset-loop.js";
import { containsBytes } from "../helpers/secret.js";
import { SOFTHSM_MODULE, type SoftHsmToken } from "../helpers/softhsm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { areaObjects, softhsm } from "../storage/pkcs11-fixture.js";

const KILLS = 100;
/**
 * Kills go on past KILLS, up to this many, only while a state the test must see has not been seen
 * yet. Both objects hold records only for the one C_DestroyObject after a create (a few percent of
 * a reset), so the clean-up check may take a few hundred kills to reach.
 */
const MAX_KILLS = 5 * KILLS;
/**
 * Kills land 0..MAX_DELAY_MS after the first acknowledgement: over the next resets, as one takes
 * some 50 ms on SoftHSM2 (C_CreateObject alone 25 ms).
 */
const MAX_DELAY_MS = 120;

/** One of reid's objects as pkcs11-tool reads it. */
interface ObjectView {
  readonly label: string;
  readonly value: Buffer;
  readonly decoded: DecodedArea;
}

interface Status {
  readonly state: string;
  readonly generation: number;
  readonly handle: string | null;
}

interface TokenView {
  readonly objects: readonly ObjectView[];
  /** The valid records, newest (highest epoch) first. */
  readonly records: readonly StoredRecord[];
}

/**
 * Lists the token's data objects with pkcs11-tool and reads every one labelled as reid's. Each
 * must be shaped as reid makes them (application 'reid', private) and no label carried twice.
 */
async function readToken(token: SoftHsmToken, where: string): Promise<TokenView> {
  const listing = (await token.userTool(["--list-objects", "--type", "data"])).toString();
  const labels: string[] = [];
  for (const block of listing.split(/^Data object \d+\n/m).slice(1)) {
    const label = /label:\s+'([^']*)'/.exec(block)?.[1] ?? "";
    if (!/^reid-area-[01]$/.test(label)) continue;
    const shaped = /application:\s+'reid'/.test(block) && /flags:.*\bprivate\b/.test(block);
    assert.ok(shaped, `${where}: object '${label}' is not shaped as reid makes them`);
    assert.ok(!labels.includes(label), `${where}: two objects carry the label '${label}'`);
    labels.push(label);
  }
  const objects: ObjectView[] = [];
  for (const label of labels.sort()) {
    const value = await token.userTool(["--read-object", "--type", "data", "--label", label]);
    objects.push({ label, value, decoded: decodeArea(value) });
  }
  const records = objects
    .flatMap(({ decoded }) => (decoded.kind === "record" ? [decoded.record] : []))
    .sort((a, b) => b.epoch - a.epoch);
  return { objects, records };
}

function forget(view: TokenView): void {
  for (const record of view.records) record.identifier?.fill(0);
  for (const { value } of view.objects) value.fill(0);
}

/**
 * What a kill may leave: every object of reid's holds a whole record (an object is created whole
 * or not at all; an erased area has no object), at least one record, each set and its identifier
 * belonging to its handle, the newest the one the store loads, and two only as the ends of one reset.
 */
function checkAfterKill(view: TokenView, generation: number, where: string): void {
  for (const { label, decoded } of view.objects) {
    const why = decoded.kind === "corrupt" ? decoded.reason : decoded.kind;
    assert.equal(decoded.kind, "record", `${where}: object '${label}' is torn or corrupt (${why})`);
  }
  checkRecords(view.records, generation, where);
}

test("the after-kill check rejects what a kill must never leave: a torn record, no record, records apart, a foreign object", async (t) => {
  const { dir } = tempDir(t);
  const hsm = await softhsm();
  /** A fresh token holding `contents` in reid's two labels (null: no object), written by pkcs11-tool. */
  const put = async (contents: readonly (Uint8Array | null)[], extra = ["--private"]) => {
    const token = await hsm.token();
    for (const [area, value] of contents.entries()) {
      if (!value) continue;
      const file = secretFile(dir, `${token.label}-${area}`, value);
      await token.userTool([
        ...["--write-object", file, "--type", "data", "--label", `reid-area-${area}`],
        ...["--application-label", "reid", ...extra],
      ]);
    }
    return token;
  };
  const check = async (token: SoftHsmToken, where: string) => {
    const view = await readToken(token, where);
    try {
      checkAfterKill(view, 8, where);
    } finally {
      forget(view);
    }
  };
  const old = recordBytes(7, 11);
  const current = recordBytes(8, 12);
  // What a kill may leave passes: the new record alone, and both ends of one reset.
  for (const contents of [
    [current, null],
    [null, current],
    [old, current],
  ]) {
    await check(await put(contents), "allowed");
  }
  const torn = Uint8Array.from(old);
  torn.set(current.subarray(AREA_SIZE / 2), AREA_SIZE / 2);
  await assert.rejects(check(await put([old, torn]), "torn"), /torn or corrupt/);
  await assert.rejects(check(await put([null, null]), "none"), /neither area holds a valid record/);
  await assert.rejects(check(await put([recordBytes(6, 10), current]), "apart"), /not one commit apart/);
  await assert.rejects(check(await put([old, null]), "old only"), /status disagrees/);
  await assert.rejects(check(await put([current, null], []), "public"), /not shaped as reid makes them/);
  for (const bytes of [old, current, torn]) bytes.fill(0);
});

test(`a PKCS#11 reset loop SIGKILLed at least ${KILLS} times at random moments leaves the old or the new generation on the token, never neither or a mix`, {
  timeout: 900_000,
}, async (t: TestContext) => {
  const hsm = await softhsm();
  const token = await hsm.token();
  const spec = await givenStoreSpec("pkcs11", token.spec);
  // Held for the whole test: the module stays initialized and the user logged in in this process,
  // so reading and resetting the store in this process after each kill is quick.
  const held = await Pkcs11Token.open(SOFTHSM_MODULE, token.label);
  const session = held.openSession();
  session.login(token.pin);
  t.after(() => {
    session.close();
    held.close();
  });
  const { store } = tempDir(t, "reid-pkcs11-crash-");
  const fixture = await compileFixture("reset-loop");
  const env = hsm.env;
  const init = await reidJson<Status>(["--store", store, "--pkcs11", token.spec, "init"], { env });
  assert.equal(init.generation, 1);
  // Guards the guard on the real store: the check passes on what init left.
  const first = await readToken(token, "after init");
  try {
    checkAfterKill(first, init.generation, "after init");
    assert.equal(first.records.length, 1, "init left more than one record");
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
  const left = { bothHeld: 0, cleanups: 0 };
  let acknowledged = 0;
  const unseen = () => outcomes.ack === 0 || outcomes.next === 0 || left.cleanups === 0;
  let kill = 0;
  while (kill < KILLS || (kill < MAX_KILLS && unseen())) {
    kill++;
    // Spread kills over the first MAX_DELAY_MS; a delay of 0 kills right after the first reset.
    const delayMs = kill % 10 === 0 ? 0 : Math.floor(Math.random() * (MAX_DELAY_MS + 1));
    const { acks } = await runAndKill(fixture, store, delayMs, undefined, ["--pkcs11", token.spec], env);
    acknowledged += acks.length;
    const where = `kill ${kill} (after ${delayMs} ms)`;
    const last = lastAcknowledged(acks, committed);
    highest = Math.max(highest, last);

    // Exactly what the kill left, read before anything else opens the store.
    const view = await readToken(token, where);
    try {
      // The store remembers its token: status needs no --pkcs11.
      const status = await reidJson<Status>(["status", "--store", store], { env });
      outcomes[oldOrNew(status, last, highest, where)]++;
      highest = status.generation;
      committed = status.generation;
      // The kill may fall between the commit and its audit record: the log still accounts for it.
      checkLogged(store, status.generation, where);

      checkAfterKill(view, status.generation, where);
      await checkLoad(store, spec, view.records[0] as StoredRecord, where);
      // Readers (status, load) leave the token as the kill left it: only a writer finishes a commit.
      assert.deepEqual(
        await areaObjects(token),
        view.objects.map(({ label, value }) => `${label}:${value.toString("hex")}`),
        `${where}: a reader changed the token`,
      );
      if (view.records.length === 2) {
        left.bothHeld++;
        // Every other time, prove that the next reset destroys the old record's object;
        // otherwise leave it for the next fixture, so kills also land in that clean-up.
        if (left.bothHeld % 2 === 1) {
          committed = await resetInProcess(store, null, spec);
          highest = committed;
          left.cleanups++;
          await checkCleanup(token, committed, view, `${where}, clean-up`);
        }
      }
    } finally {
      forget(view);
    }
  }
  t.diagnostic(
    `${kill} kills, ${acknowledged} acknowledged resets; status=ack ${outcomes.ack} / ack+1 ${outcomes.next}; ` +
      `both objects held records after ${left.bothHeld} kills (${left.cleanups} clean-up resets checked)`,
  );
  checkBothOutcomes(outcomes);
  // And the CLI's own cross-check of the log against the store's generation agrees (docs/spec.md §9.4).
  const verdict = await reid(["log", "--verify", "--store", store], { env });
  assert.equal(verdict.code, 0, `log --verify after the kills: ${verdict.stdout}${verdict.stderr}`);
  assert.ok(
    left.cleanups > 0,
    "no kill left both objects holding records, so the clean-up was never checked",
  );
});

/** After one reset in this process: one object of reid's, the new record, no identifier of before. */
async function checkCleanup(
  token: SoftHsmToken,
  generation: number,
  before: TokenView,
  where: string,
): Promise<void> {
  const after = await readToken(token, where);
  try {
    assert.equal(after.objects.length, 1, `${where}: ${after.objects.length} objects of reid's, not one`);
    assert.equal(after.records[0]?.generation, generation, `${where}: the record is not the new one`);
    for (const { identifier, generation: superseded } of before.records) {
      for (const { value } of after.objects) {
        assert.ok(
          !containsBytes(value, identifier as Uint8Array),
          `${where}: an object still holds the identifier of generation ${superseded}`,
        );
      }
    }
  } finally {
    forget(after);
  }
}
