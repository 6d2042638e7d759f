// The crash test of test/crash/crash.test.ts on the TPM backend (issue 6): the reset loop
// (test/fixtures/reset-loop.ts --tpm SPEC) keeps its identifier in two NV indices of a real swtpm
// and is SIGKILLed at random moments, over and over. After every kill the NV indices are read
// behind the store's back (owner authorization, test/helpers/tpm-nv.ts) and must hold one or two
// whole records, never a torn one, never neither: each index undefined (erased), defined but not
// yet written (a kill between NV_DefineSpace and NV_Write), or written with a valid record; two
// records only as the two ends of one reset. The real CLI (`reid status`, finding the TPM by the
// store's marker) must show the old or the new generation, set, and the store's load() the newest
// record's identifier.
//
// Only the reid process is killed, never swtpm: swtpm does not fsync its NV state file, so a
// power cut under swtpm is swtpm's matter, not reid's (on hardware the TPM's NV is durable when
// NV_Write answers). swtpm serves one client at a time: the killed process's connection closes
// with it, and this test holds a connection only between runs of the fixture.
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { AREA_SIZE, type DecodedArea, decodeArea, type StoredRecord } from "../../src/storage/record.js";
import { REID_NV_ATTRIBUTES } from "../../src/storage/tpm/nv-area.js";
import { password } from "../../src/tpm/command.js";
import { NV_UndefineSpace } from "../../src/tpm/commands/nv.js";
import { TPM_RH, TPMA_NV } from "../../src/tpm/constants.js";
import { parseTpmSpec } from "../../src/tpm/spec.js";
import type { Tpm } from "../../src/tpm/tpm.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
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
import { tpmStore } from "../helpers/stores.js";
import { type Swtpm, swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";
import { defineIndex, nvPublic, readIndex, writeIndex } from "../helpers/tpm-nv.js";

const KILLS = 100;
/**
 * Kills go on past KILLS, up to this many, only while a state the test must see has not been seen
 * yet (a kill's landing is random; these states take a window of one TPM command each).
 */
const MAX_KILLS = 2 * KILLS;
/** Kills land 0..MAX_DELAY_MS after the first acknowledgement; a reset on swtpm takes a few ms. */
const MAX_DELAY_MS = 20;

const swtpmOfFile = swtpmForFile();
let nextIndex = 0x01524800;

interface Status {
  readonly state: string;
  readonly generation: number;
  readonly handle: string | null;
}

/** One NV index as read behind the store's back. */
interface IndexView {
  readonly state: "undefined" | "defined" | "written";
  readonly bytes: Uint8Array;
  /** What the bytes decode to (null when the index is not defined). */
  readonly decoded: DecodedArea | null;
}

interface NvView {
  readonly indices: readonly [IndexView, IndexView];
  /** The valid records, newest (highest epoch) first. */
  readonly records: readonly StoredRecord[];
}

/** A connection for `use` only: swtpm serves one client, and the fixture must get through next. */
async function withTpm<T>(swtpm: Swtpm, use: (tpm: Tpm) => Promise<T>): Promise<T> {
  const tpm = await connectTpm(swtpm.address);
  try {
    return await use(tpm);
  } finally {
    await tpm.close();
  }
}

/**
 * Reads both indices of the pair at `nvIndex`. An index that is defined must be shaped as reid
 * defines it (AREA_SIZE bytes, authread|authwrite): anything else fails here.
 */
async function readNv(tpm: Tpm, nvIndex: number, where: string): Promise<NvView> {
  const indices: IndexView[] = [];
  for (const index of [nvIndex, nvIndex + 1]) {
    const pub = await nvPublic(tpm, index);
    if (!pub) {
      indices.push({ state: "undefined", bytes: new Uint8Array(0), decoded: null });
      continue;
    }
    const area = index - nvIndex;
    assert.equal(pub.dataSize, AREA_SIZE, `${where}: index ${area} holds ${pub.dataSize} bytes`);
    assert.equal(
      (pub.attributes & ~TPMA_NV.WRITTEN) >>> 0,
      REID_NV_ATTRIBUTES,
      `${where}: index ${area} has attributes other than reid's`,
    );
    const bytes = await readIndex(tpm, index);
    const written = (pub.attributes & TPMA_NV.WRITTEN) !== 0;
    indices.push({ state: written ? "written" : "defined", bytes, decoded: decodeArea(bytes) });
  }
  const records = indices
    .flatMap(({ decoded }) => (decoded?.kind === "record" ? [decoded.record] : []))
    .sort((a, b) => b.epoch - a.epoch);
  return { indices: indices as [IndexView, IndexView], records };
}

/** Zeroes what readNv() read. */
function forget(view: NvView): void {
  for (const record of view.records) record.identifier?.fill(0);
  for (const { bytes } of view.indices) bytes.fill(0);
}

/**
 * What a kill may leave: each index undefined, defined but unwritten (reads as zeros), or written
 * with a whole record (one NV_Write of AREA_SIZE bytes is never torn: swtpm's NV buffer holds 1024);
 * at least one record; every record set, its identifier belonging to its handle; the newest the
 * one status shows; and two records only as the two ends of one reset (epochs and generations one
 * apart, different identifiers).
 */
function checkAfterKill(view: NvView, status: Status, where: string): void {
  view.indices.forEach(({ state, decoded }, index) => {
    if (state === "undefined") return;
    assert.ok(
      decoded?.kind !== "corrupt",
      `${where}: index ${index} is torn or corrupt (${decoded?.kind === "corrupt" ? decoded.reason : ""})`,
    );
    if (state === "written") {
      assert.equal(decoded?.kind, "record", `${where}: index ${index} is written but holds no record`);
    }
  });
  checkRecords(view.records, status.generation, where);
}

/** What is in NV now is what `before` read: same index states, same bytes. */
async function checkUnchanged(swtpm: Swtpm, nvIndex: number, before: NvView, where: string): Promise<void> {
  const now = await withTpm(swtpm, (tpm) => readNv(tpm, nvIndex, where));
  try {
    now.indices.forEach(({ state, bytes }, index) => {
      const then = before.indices[index] as IndexView;
      assert.equal(
        state,
        then.state,
        `${where}: a reader changed index ${index} from ${then.state} to ${state}`,
      );
      assert.ok(Buffer.from(bytes).equals(then.bytes), `${where}: a reader changed index ${index}'s bytes`);
    });
  } finally {
    forget(now);
  }
}

test("the after-kill check rejects what a kill must never leave: a torn record, no record, records apart, a foreign index", async () => {
  const swtpm = await swtpmOfFile();
  const nvIndex = nextIndex;
  nextIndex += 4;
  const status = { state: "set", generation: 8, handle: null };
  const check = (where: string) =>
    withTpm(swtpm, async (tpm) => {
      const view = await readNv(tpm, nvIndex, where);
      try {
        checkAfterKill(view, status, where);
      } finally {
        forget(view);
      }
    });
  const put = (contents: readonly (Uint8Array | "defined" | "undefined")[]) =>
    withTpm(swtpm, async (tpm) => {
      for (const [area, content] of contents.entries()) {
        const index = nvIndex + area;
        if ((await nvPublic(tpm, index)) !== null) {
          await tpm.run(NV_UndefineSpace, { authHandle: password(TPM_RH.OWNER), nvIndex: index });
        }
        if (content === "defined") await defineIndex(tpm, index, AREA_SIZE);
        else if (content !== "undefined") await writeIndex(tpm, index, content);
      }
    });
  const old = recordBytes(7, 11);
  const current = recordBytes(8, 12);

  // What a kill may leave passes: the new record alone (the old index undefined, or defined and
  // not yet written), and both ends of one reset.
  for (const contents of [
    [current, "undefined"],
    [current, "defined"],
    [old, current],
  ] as const) {
    await put(contents);
    await check("allowed");
  }
  // A torn mix of the two records (the old one's first half, the new one's second half).
  const torn = Uint8Array.from(old);
  torn.set(current.subarray(AREA_SIZE / 2), AREA_SIZE / 2);
  await put([old, torn]);
  await assert.rejects(check("torn"), /torn or corrupt/);
  await put(["defined", "undefined"]);
  await assert.rejects(check("blank"), /neither area holds a valid record/);
  await put([recordBytes(6, 10), current]);
  await assert.rejects(check("apart"), /not one commit apart/);
  await put([old, "undefined"]);
  await assert.rejects(check("old only"), /status disagrees/);
  await put(["undefined", "undefined"]);
  await withTpm(swtpm, (tpm) => writeIndex(tpm, nvIndex, current, REID_NV_ATTRIBUTES | TPMA_NV.OWNERREAD));
  await assert.rejects(check("foreign"), /attributes other than reid's/);
  await put(["undefined", "undefined"]);
  for (const bytes of [old, current, torn]) bytes.fill(0);
});

test(`a TPM reset loop SIGKILLed at least ${KILLS} times at random moments leaves the old or the new generation in NV, never blank or torn`, {
  timeout: 900_000,
}, async (t: TestContext) => {
  const swtpm = await swtpmOfFile();
  const nvIndex = nextIndex;
  nextIndex += 4;
  const { store } = tempDir(t, "reid-tpm-crash-");
  const specText = `${swtpm.spec},nv-index=0x${nvIndex.toString(16).padStart(8, "0")}`;
  const spec = parseTpmSpec(specText);
  const fixture = await compileFixture("reset-loop");
  const init = await reidJson<Status>(["--tpm", specText, "init", "--store", store]);
  assert.equal(init.generation, 1);
  // Guards the guard on the real store: the check passes on what init left.
  await withTpm(swtpm, async (tpm) => {
    const view = await readNv(tpm, nvIndex, "after init");
    try {
      checkAfterKill(view, init, "after init");
      assert.equal(view.records.length, 1, "init left more than one record");
    } finally {
      forget(view);
    }
  });
  checkLogged(store, init.generation, "after init");
  assert.throws(
    () => checkLogged(store, init.generation + 1, "probe"),
    /2 committed, but not in the audit log/,
  );

  /** The generation in force when the next fixture starts. */
  let committed = init.generation;
  let highest = committed;
  const outcomes = { ack: 0, next: 0 };
  const left = { bothHeld: 0, definedUnwritten: 0, cleanups: 0 };
  let acknowledged = 0;
  const unseen = () =>
    outcomes.ack === 0 || outcomes.next === 0 || left.definedUnwritten === 0 || left.cleanups === 0;
  let kill = 0;
  while (kill < KILLS || (kill < MAX_KILLS && unseen())) {
    kill++;
    // Spread kills over the first MAX_DELAY_MS; a delay of 0 kills right after the first reset.
    const delayMs = kill % 10 === 0 ? 0 : Math.floor(Math.random() * (MAX_DELAY_MS + 1));
    const { acks } = await runAndKill(fixture, store, delayMs, undefined, ["--tpm", specText]);
    acknowledged += acks.length;
    const where = `kill ${kill} (after ${delayMs} ms)`;
    const last = lastAcknowledged(acks, committed);
    highest = Math.max(highest, last);

    // Exactly what the kill left, read before anything else opens the store.
    const view = await withTpm(swtpm, (tpm) => readNv(tpm, nvIndex, where));
    try {
      // The store remembers its TPM: status needs no --tpm.
      const status = await reidJson<Status>(["status", "--store", store]);
      outcomes[oldOrNew(status, last, highest, where)]++;
      highest = status.generation;
      committed = status.generation;
      // The kill may fall between the commit and its audit record: the log still accounts for it.
      checkLogged(store, status.generation, where);

      checkAfterKill(view, status, where);
      if (view.indices.some(({ state }) => state === "defined")) left.definedUnwritten++;
      await checkLoad(store, await tpmStore(spec), view.records[0] as StoredRecord, where);
      // Readers (status, load) leave NV as the kill left it: only a writer finishes a commit.
      await checkUnchanged(swtpm, nvIndex, view, where);
      if (view.records.length === 2) {
        left.bothHeld++;
        // Every other time, prove that the next reset clears the old record by undefining its
        // index; otherwise leave it for the next fixture, so kills also land in that clean-up.
        if (left.bothHeld % 2 === 1) {
          committed = await resetInProcess(store, null, await tpmStore(spec));
          highest = committed;
          left.cleanups++;
          await checkCleanup(swtpm, nvIndex, committed, view, `${where}, clean-up`);
        }
      }
    } finally {
      forget(view);
    }
  }

  t.diagnostic(
    `${kill} kills, ${acknowledged} acknowledged resets; status=ack ${outcomes.ack} / ack+1 ${outcomes.next}; ` +
      `both indices held records after ${left.bothHeld} kills (${left.cleanups} clean-up resets checked), ` +
      `an index defined but unwritten after ${left.definedUnwritten}`,
  );
  checkBothOutcomes(outcomes);
  // And the CLI's own cross-check of the log against the store's generation agrees (docs/spec.md §9.4).
  const verdict = await reid(["log", "--verify", "--store", store]);
  assert.equal(verdict.code, 0, `log --verify after the kills: ${verdict.stdout}${verdict.stderr}`);
  // The states only the TPM backend has were reached: a kill between NV_DefineSpace and NV_Write,
  // and one between NV_Write and the old index's NV_UndefineSpace (whose clean-up was checked).
  assert.ok(left.definedUnwritten > 0, "no kill left an index defined but unwritten");
  assert.ok(
    left.cleanups > 0,
    "no kill left both indices holding records, so the clean-up was never checked",
  );
});

/**
 * After one reset by an element in this process: exactly one index is defined, holding the new
 * record alone; the other is undefined (erase undefines), and no identifier of before is in NV.
 */
async function checkCleanup(
  swtpm: Swtpm,
  nvIndex: number,
  generation: number,
  before: NvView,
  where: string,
): Promise<void> {
  await withTpm(swtpm, async (tpm) => {
    const after = await readNv(tpm, nvIndex, where);
    try {
      assert.deepEqual(
        after.indices.map(({ state }) => state).sort(),
        ["undefined", "written"],
        `${where}: not exactly one index is defined`,
      );
      assert.equal(after.records.length, 1, `${where}: ${after.records.length} records`);
      assert.equal(after.records[0]?.generation, generation, `${where}: the record is not the new one`);
      for (const { identifier, generation: superseded } of before.records) {
        for (const { bytes } of after.indices) {
          assert.ok(
            !containsBytes(bytes, identifier as Uint8Array),
            `${where}: NV still holds the identifier of generation ${superseded}`,
          );
        }
      }
    } finally {
      forget(after);
    }
  });
}
