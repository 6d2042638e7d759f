// Storage faults from the kernel itself, no shim: a full file system (a tiny tmpfs), a read-only
// mount, and a store the caller may not open. Mounts happen only inside private mount namespaces
// (unshare -m), so nothing is seen on the host and everything goes when the namespace does.
// These need root, as CI has; run as anyone else they fail and say so. Every request also appends
// to the audit log in the store, its intent before anything changes: on a full file system a
// request goes through only while its intent still fits (the log grows within its last page), and
// is then in the log; once it does not fit, the request is refused before anything changed (exit 6
// "audit-failure"), though the areas, overwritten in place, would have had room. The log never
// holds a torn line and always accounts for every committed generation.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { assertOneLineError, type CliOptions, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  type AuditLine,
  assertAreasWhole,
  assertAuditRefusal,
  assertDone,
  assertRoot,
  inMountNamespace,
  isMountPoint,
  parseAuditLog,
  type Status,
  snapshot,
  status,
  tmpfsNamespace,
} from "../helpers/faults.js";
import { assertSameSecret } from "../helpers/secret.js";
import { tempDir } from "../helpers/temp.js";

const PAGE = 4096;

/** An initialized store on the host at generation 2, and what it holds. */
async function initializedStore(t: TestContext) {
  const { dir, store } = tempDir(t, "reid-kernel-");
  await reidOk(["--store", store, "init"]);
  await reidOk(["--store", store, "reset"]);
  return { dir, store, old: snapshot(store), status: await status(store) };
}

function assertUnchanged(store: string, old: ReturnType<typeof snapshot>, what: string): void {
  const now = snapshot(store);
  assertAreasWhole(now, what);
  assert.ok(now.current && old.current);
  assert.equal(now.current.epoch, old.current.epoch, `${what}: something was committed`);
  assert.equal(now.current.generation, old.current.generation);
  assertSameSecret(now.current.identifier, old.current.identifier);
}

/** A 32 KiB tmpfs mounted in a private namespace (gone with the test), and a store path on it. */
async function smallTmpfs(t: TestContext) {
  assertRoot();
  const { dir } = tempDir(t, "reid-enospc-");
  const mnt = join(dir, "mnt");
  mkdirSync(mnt);
  const ns = await tmpfsNamespace(mnt, "32k");
  t.after(() => ns.close());
  const inside: CliOptions = { prefix: ns.prefix };
  const store = join(mnt, "store");
  let copies = 0;
  return {
    mnt,
    store,
    ns,
    inside,
    /** The audit log on the tmpfs, parsed: whole JSON lines only. */
    audit: async (what: string): Promise<AuditLine[]> => {
      const cat = await ns.sh(`if [ -e "${store}/audit.log" ]; then cat "${store}/audit.log"; fi`);
      assert.equal(cat.code, 0, `cannot read the audit log: ${cat.stderr}`);
      return parseAuditLog(cat.stdout, what);
    },
    /** The store's areas, copied out of the namespace to the host, as a snapshot. */
    snapshot: async (): Promise<ReturnType<typeof snapshot>> => {
      const copy = join(dir, `copy-${copies++}`);
      const cp = await ns.sh(`cp -a "${store}" "${copy}"`);
      assert.equal(cp.code, 0, `cannot copy the store out: ${cp.stderr}`);
      return snapshot(copy);
    },
    /** Bytes free on the tmpfs. */
    avail: async (): Promise<number> => {
      const df = await ns.sh(`df -B1 --output=avail "${mnt}" | tail -1`);
      return Number(df.stdout.trim());
    },
  };
}

describe("a full file system (tmpfs in a private mount namespace)", { concurrency: 3 }, () => {
  for (const freePages of [0, 1]) {
    it(`init with room for ${freePages} of the 2 area files: exit 6 ENOSPC, no half store, init works once there is room`, async (t) => {
      const { mnt, store, ns, inside, audit } = await smallTmpfs(t);
      // Fill it to the last page, then give back what the test wants free.
      await ns.sh(
        `head -c 1M /dev/zero > "${mnt}/filler" 2>/dev/null; truncate -s -${freePages * PAGE} "${mnt}/filler"`,
      );
      const df = await ns.sh(`df -B1 --output=avail "${mnt}" | tail -1`);
      assert.equal(
        Number(df.stdout.trim()),
        freePages * PAGE,
        `the tmpfs is not as full as intended: ${df.stderr}`,
      );

      const result = await reid(["--store", store, "init"], inside);
      assertOneLineError(result, 6, /no space left on device \(ENOSPC\)/);

      const left = await ns.sh(`ls -A "${store}"`);
      assert.equal(left.code, 0, `the store directory is missing: ${left.stderr}`);
      assert.doesNotMatch(left.stdout, /area-0|\.tmp/, `a refused init left files behind: ${left.stdout}`);
      const blank = await reidJson<Status>(["--store", store, "status"], inside);
      assert.deepEqual([blank.state, blank.generation], ["blank", 0]);
      // The log may hold the intent and the refusal's record (if there was room), never an "ok" one.
      const refused = await audit("after the refused init");
      assert.ok(refused.length <= 2, `${refused.length} audit records for one request`);
      assert.deepEqual(
        refused.map((record) => [record.request, record.outcome]),
        [
          ["init", "pending"],
          ["init", "storage-failure"],
        ].slice(0, refused.length),
      );

      await ns.sh(`rm "${mnt}/filler"`);
      const done = await reidJson<Status>(["--store", store, "init"], inside);
      assert.deepEqual([done.state, done.generation], ["set", 1]);
      const set = await reidJson<Status>(["--store", store, "status"], inside);
      assert.deepEqual([set.state, set.generation], ["set", 1]);
      assertDone((await audit("after the init")).at(-1), "init", 1);
      assert.ok(!isMountPoint(mnt), "the tmpfs leaked into the host's mount namespace");
    });
  }

  it("on a full file system a request goes through only while its audit record fits, and is refused before anything changes after", async (t) => {
    const tmpfs = await smallTmpfs(t);
    const { mnt, store, ns, inside, audit } = tmpfs;
    await reidOk(["--store", store, "init"], inside);
    const fill = async () => {
      await ns.sh(`head -c 1M /dev/zero >> "${mnt}/filler" 2>/dev/null`);
      assert.equal(await tmpfs.avail(), 0, "the tmpfs is not full");
    };
    const verified = async (what: string) => {
      const result = await reid(["--store", store, "log", "--verify"], inside);
      assert.equal(result.code, 0, `${what}: log --verify: ${result.stdout}${result.stderr}`);
    };
    /**
     * Requests on the full tmpfs (`erase` and `init` in turn, or resets) until one is refused:
     * each that goes through left its intent and, room permitting, its outcome; the refused one
     * changed nothing, not even the log.
     */
    const untilRefused = async (erasing: boolean) => {
      for (let tries = 0; tries < 64; tries++) {
        const was = await reidJson<Status>(["--store", store, "status"], inside);
        const request = was.state === "blank" ? "init" : erasing ? "erase" : "reset";
        const before = await tmpfs.snapshot();
        const records = await audit(`before ${request}`);
        const result = await reid(["--store", store, "--json", request], inside);
        const now = await reidJson<Status>(["--store", store, "status"], inside);
        const added = (await audit(`after ${request} on a full file system`)).slice(records.length);
        const snap = await tmpfs.snapshot();
        assertAreasWhole(snap, `after ${request} on a full file system`);
        if (result.code === 0) {
          assert.equal(now.generation, was.generation + (request === "erase" ? 0 : 1));
          assert.deepEqual(added[0] && [added[0].request, added[0].outcome], [request, "pending"]);
          assert.ok(added.length <= 2, `${added.length} audit records for one request`);
          await verified(`after ${request} on a full file system`);
          continue;
        }
        assertAuditRefusal(result, request, /no space left on device \(ENOSPC\)/);
        assert.deepEqual([now.state, now.generation], [was.state, was.generation]);
        assert.ok(snap.current && before.current);
        assert.equal(snap.current.epoch, before.current.epoch, `the refused ${request} committed`);
        assertSameSecret(snap.current.identifier, before.current.identifier);
        assert.deepEqual(added, [], `the refused ${request} left audit records`);
        const left = await ns.sh(`ls -A "${store}"`);
        assert.doesNotMatch(left.stdout, /\.tmp/, `${request} left temporary files behind: ${left.stdout}`);
        await verified(`after the refused ${request}`);
        return;
      }
      assert.fail("64 requests on a full file system, and none was refused");
    };

    await fill();
    await untilRefused(false);

    // One free page: room for the log to grow, and every request is carried out and audited.
    await ns.sh(`truncate -s -${PAGE} "${mnt}/filler"`);
    assert.equal(await tmpfs.avail(), PAGE, "not exactly one page free");
    const reset = await reidJson<Status>(["--store", store, "reset"], inside);
    assertDone((await audit("after the reset with one free page")).at(-1), "reset", reset.generation);

    await fill();
    await untilRefused(true);
  });
});

describe("a read-only store (bind mount, remounted ro, in a private mount namespace)", {
  concurrency: 3,
}, () => {
  for (const request of ["reset", "erase"]) {
    it(`${request}: exit 6 "read-only file system", status still works, nothing changed`, async (t) => {
      assertRoot();
      const { store, old, status: before } = await initializedStore(t);
      const readOnly: CliOptions = {
        prefix: inMountNamespace('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', store),
      };
      const result = await reid(["--store", store, request], readOnly);
      assertOneLineError(result, 6, /read-only file system \(EROFS\)/);
      const seen = await reidJson<Status>(["--store", store, "status"], readOnly);
      assert.deepEqual([seen.state, seen.generation], [before.state, before.generation]);
      // The namespace is gone with the process: on the host the store is writable and unchanged.
      assert.ok(!isMountPoint(store), "the read-only bind mount leaked into the host's mount namespace");
      assertUnchanged(store, old, `after ${request} on a read-only store`);
      await reidOk(["--store", store, request]);
    });
  }

  it('init of a new store in a read-only directory: exit 6 "read-only file system", nothing created', async (t) => {
    assertRoot();
    const { dir, store } = tempDir(t, "reid-kernel-");
    const result = await reid(["--store", store, "init"], {
      prefix: inMountNamespace('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', dir),
    });
    assertOneLineError(result, 6, /read-only file system \(EROFS\)/);
    assert.ok(!existsSync(store), "the store was created on a read-only mount");
    await reidOk(["--store", store, "init"]);
  });
});

describe("a store the caller may not open (root's 0700 store, CLI run as nobody)", { concurrency: 3 }, () => {
  const nobody: CliOptions = { uid: 65534, gid: 65534 };

  for (const request of ["reset", "erase", "status"]) {
    it(`${request}: exit 6 "permission denied", nothing changed`, async (t) => {
      assertRoot();
      const { dir, store, old } = await initializedStore(t);
      chmodSync(dir, 0o711); // nobody may pass through to the store, which stays root's and 0700
      const result = await reid(["--store", store, request], nobody);
      assertOneLineError(result, 6, /permission denied \(EACCES\)/);
      assertUnchanged(store, old, `after ${request} as nobody`);
    });
  }

  it('init of a new store in a directory nobody may not write: exit 6 "permission denied"', async (t) => {
    assertRoot();
    const { dir, store } = tempDir(t, "reid-kernel-");
    chmodSync(dir, 0o755);
    const result = await reid(["--store", store, "init"], nobody);
    assertOneLineError(result, 6, /permission denied \(EACCES\)/);
    assert.ok(!existsSync(store), "a store was created");
  });
});
