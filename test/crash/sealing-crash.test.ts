// The crash loop with the identifier sealed under a key that never leaves its home, and a change of
// that key in progress (docs/spec.md §5.4), once per home: the reset loop
// (test/fixtures/reset-loop.ts --tpm SPEC | --pkcs11 SPEC, --rotate-sealing-key) keeps its
// identifier in a real swtpm's NV sealed under an AES key sealed to the TPM, or in a SoftHSM2
// token's objects sealed under a non-extractable AES key in the token, and after every reset
// re-seals it under a new key; it is SIGKILLed at random moments, over and over. After every kill,
// before any writer runs: store.json names one key, or a change from one key to another
// (`pending`), and the keys the home holds (key files in the store directory; secret key objects
// on the token) are only those; the real CLI's readers (`status`, `keys`) open the store, showing
// the old or the new generation with its own handle, and change nothing (neither store.json nor
// the keys). The next writer (the next run of the loop) finishes or rolls back the change, and
// removes a key a kill kept from its destruction. Only reid is killed, never swtpm or the token's
// files (as test/crash/tpm-crash.test.ts says why).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { SEALING_KEY_LABEL } from "../../src/storage/pkcs11/sealing-key.js";
import { reid, reidJson } from "../helpers/cli.js";
import { compileFixture } from "../helpers/fixtures.js";
import { checkLogged, lastAcknowledged, oldOrNew, runAndKill } from "../helpers/reset-loop.js";
import { softhsmForFile } from "../helpers/softhsm.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";

const KILLS = 40;
/** Kills go on past KILLS, up to this many, while a state the test must see has not been seen yet. */
const MAX_KILLS = 4 * KILLS;
/** A reset and a rotation on swtpm take some tens of ms: kills land anywhere in a few of them. */
const MAX_DELAY_MS = 120;

const swtpm = swtpmForFile();
const softhsm = softhsmForFile();

/** Where the sealing keys live: the backend the store is on, and how to list the keys it holds. */
interface Home {
  readonly kind: "tpm" | "pkcs11";
  /** The backend option (--tpm SPEC, --pkcs11 SPEC) of init and of the loop. */
  readonly option: readonly string[];
  /** What reid's processes need to reach the home (SoftHSM2's configuration). */
  readonly env: NodeJS.ProcessEnv;
  /** The ids of the sealing keys the home holds now (one reader at a time). */
  keys(store: string): Promise<string[]>;
}

interface Status {
  readonly state: string;
  readonly generation: number;
  readonly handle: string | null;
  readonly sealed: boolean;
  readonly sealingKey: string | null;
  readonly sealingKeyHome: string | null;
}

interface KeyRef {
  readonly key: string;
  readonly id: string;
}

/** The TPM's sealing keys: a blob file each in the store directory, sealed to the TPM. */
function tpmKeyFiles(store: string): Promise<string[]> {
  const ids = readdirSync(store).map((name) => /^tpm-sealing-key-([0-9a-f]{16})\.json$/.exec(name)?.[1]);
  return Promise.resolve(ids.filter((id): id is string => id !== undefined));
}

/** The store's sealing: store.json's key and change, and the ids of the keys its home holds. */
async function sealingOf(store: string, home: Home) {
  const file = JSON.parse(readFileSync(join(store, "store.json"), "utf8")) as {
    sealing?: KeyRef;
    pending?: { to: KeyRef | null };
  };
  const blobs = (await home.keys(store)).sort();
  return { key: file.sealing ?? null, pending: file.pending ?? null, blobs };
}

/**
 * What a kill may leave: store.json names a key of the home, and a change only to another key of
 * it; the home holds the named key (it exists), the change's new key (once made), and at most one
 * more: the key a finished change has not destroyed yet.
 */
function checkSealing(view: Awaited<ReturnType<typeof sealingOf>>, where: string, kind = "tpm"): void {
  assert.equal(view.key?.key, kind, `${where}: store.json names no ${kind} key`);
  const key = view.key as KeyRef;
  assert.ok(view.blobs.includes(key.id), `${where}: the key store.json names (${key.id}) is not there`);
  if (view.pending) {
    assert.equal(view.pending.to?.key, kind, `${where}: a change to something else than a ${kind} key`);
    const known = new Set([key.id, view.pending.to?.id]);
    for (const id of view.blobs) assert.ok(known.has(id), `${where}: key ${id} is neither key of the change`);
  } else {
    assert.ok(view.blobs.length <= 2, `${where}: ${view.blobs.length} keys`);
  }
}

test("the check of what a kill leaves rejects a key without its file, a stranger's file and a change to clear", () => {
  const tpm = (id: string) => ({ key: "tpm", id });
  const ok = { key: tpm("aa00000000000000"), pending: null, blobs: ["aa00000000000000"] };
  checkSealing(ok, "allowed");
  checkSealing(
    { ...ok, pending: { to: tpm("bb00000000000000") }, blobs: ["aa00000000000000", "bb00000000000000"] },
    "allowed",
  );
  checkSealing({ ...ok, blobs: ["aa00000000000000", "cc00000000000000"] }, "a finished change's old key");
  assert.throws(() => checkSealing({ ...ok, blobs: [] }, "x"), /is not there/);
  assert.throws(
    () =>
      checkSealing(
        { ...ok, pending: { to: tpm("bb00000000000000") }, blobs: ["aa00000000000000", "cc00000000000000"] },
        "x",
      ),
    /neither key/,
  );
  assert.throws(() => checkSealing({ ...ok, pending: { to: null } }, "x"), /something else/);
  assert.throws(() => checkSealing(ok, "x", "pkcs11"), /names no pkcs11 key/);
});

/**
 * The loop on one home: init on its backend, seal with its key, then reset-and-rotate runs killed
 * at random moments; after each, what the kill left is checked before any writer runs.
 */
async function rotateLoop(t: TestContext, home: Home, name: string): Promise<void> {
  const { store } = tempDir(t, "reid-seal-crash-");
  const env = { env: home.env };
  const fixture = await compileFixture("reset-loop");
  const init = await reidJson<Status>([...home.option, "init", "--store", store], env);
  await reidJson(["seal", "--key", home.kind, "--store", store], env);
  checkSealing(await sealingOf(store, home), "after seal", home.kind);

  let committed = init.generation;
  let highest = committed;
  const seen = { pending: 0, leftover: 0, ack: 0, next: 0 };
  let kill = 0;
  const unseen = () => seen.pending === 0 || seen.ack === 0 || seen.next === 0;
  while (kill < KILLS || (kill < MAX_KILLS && unseen())) {
    kill++;
    const delayMs = kill % 10 === 0 ? 0 : Math.floor(Math.random() * (MAX_DELAY_MS + 1));
    const where = `${name}, kill ${kill} (after ${delayMs} ms)`;
    const { acks } = await runAndKill(
      fixture,
      store,
      delayMs,
      undefined,
      [...home.option, "--rotate-sealing-key"],
      home.env,
    );
    const last = lastAcknowledged(acks, committed);
    highest = Math.max(highest, last);

    const before = await sealingOf(store, home);
    checkSealing(before, where, home.kind);
    if (before.pending) seen.pending++;
    else if (before.blobs.length === 2) seen.leftover++;

    // Readers open it (the identifier opens under the key in force) and change nothing.
    const status = await reidJson<Status>(["status", "--store", store], env);
    seen[oldOrNew(status, last, highest, where)]++;
    assert.equal(status.sealed, true, `${where}: the store is not sealed`);
    const keys = await reid(["keys", "--json", "--store", store], env);
    assert.equal(keys.code, 0, `${where}: the identifier does not open: ${keys.stderr.trim()}`);
    assert.equal(JSON.parse(keys.stdout).handle, status.handle, `${where}: keys and status disagree`);
    assert.deepEqual(await sealingOf(store, home), before, `${where}: a reader changed the store's sealing`);
    checkLogged(store, status.generation, where);
    highest = status.generation;
    committed = status.generation;
  }

  // A writer settles what the last kill left: one key, named, the only one its home holds.
  const proved = await reid(["seal", "--key", home.kind, "--store", store], env);
  assert.equal(proved.code, 0, proved.stderr);
  const settled = await sealingOf(store, home);
  assert.equal(settled.pending, null);
  assert.deepEqual(settled.blobs, [settled.key?.id]);
  const verdict = await reid(["log", "--verify", "--store", store], env);
  assert.equal(verdict.code, 0, `log --verify after the kills: ${verdict.stdout}${verdict.stderr}`);

  t.diagnostic(
    `${kill} kills; a change of key in progress after ${seen.pending}, an old key not yet destroyed after ${seen.leftover}; ` +
      `status=ack ${seen.ack} / ack+1 ${seen.next}`,
  );
  assert.ok(seen.pending > 0, "no kill landed inside a change of key");
  assert.ok(seen.ack > 0 && seen.next > 0, "kills did not land both before and inside a reset's commit");
}

test(`a reset-and-rotate loop on a TPM-sealed store SIGKILLed at least ${KILLS} times leaves a store that opens with the old or the new state`, {
  timeout: 900_000,
}, async (t: TestContext) => {
  const sw = await swtpm();
  const spec = `${sw.spec},nv-index=0x01525800`;
  await rotateLoop(t, { kind: "tpm", option: ["--tpm", spec], env: {}, keys: tpmKeyFiles }, "TPM");
});

test(`a reset-and-rotate loop on a store sealed by a PKCS#11 key SIGKILLed at least ${KILLS} times leaves a store that opens with the old or the new state`, {
  timeout: 900_000,
}, async (t: TestContext) => {
  const hsm = await softhsm();
  const token = await hsm.token();
  const keys = async () => {
    const listed = (await token.userTool(["--list-objects", "--type", "secrkey"])).toString("utf8");
    return listed
      .split(/(?=Secret Key Object)/)
      .filter((object) => new RegExp(`label:\\s+${SEALING_KEY_LABEL}\\s`).test(object))
      .map((object) => /ID:\s+([0-9a-f]+)/.exec(object)?.[1] as string);
  };
  await rotateLoop(t, { kind: "pkcs11", option: ["--pkcs11", token.spec], env: hsm.env, keys }, "PKCS#11");
});
