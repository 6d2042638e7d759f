// Storage faults from the kernel itself, no shim: a full file system (a tiny tmpfs), a read-only
// mount, and a store the caller may not open. Mounts happen only inside private mount namespaces
// (unshare -m), so nothing is seen on the host and everything goes when the namespace does.
// These need root, as CI has; run as anyone else they fail and say so. Every request also appends
// to the audit log in the store: on a full file system a request that changed the element (areas
// are overwritten in place) cannot record it, and says so (exit 6 "audit-failure"); a request that
// was refused leaves at most its refusal's record; the log never holds a torn line.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { assertOneLineError, type CliOptions, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  type AuditLine,
  assertAreasWhole,
  assertAuditFailure,
  assertRoot,
  inMountNamespace,
  isMountPoint,
  parseAuditLog,
  type Status,
  snapshot,
  status,
  tmpfsNamespace,
} from "../helpers/faults.js";
import { assertDifferentSecret, assertSameSecret } from "../helpers/secret.js";
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
      // The log may hold the refusal's record (if there was room for it), never an "ok" one.
      const refused = await audit("after the refused init");
      assert.ok(refused.length <= 1, `${refused.length} audit records for one request`);
      for (const record of refused)
        assert.deepEqual([record.request, record.outcome], ["init", "storage-failure"]);

      await ns.sh(`rm "${mnt}/filler"`);
      const done = await reidJson<Status>(["--store", store, "init"], inside);
      assert.deepEqual([done.state, done.generation], ["set", 1]);
      const set = await reidJson<Status>(["--store", store, "status"], inside);
      assert.deepEqual([set.state, set.generation], ["set", 1]);
      const last = (await audit("after the init")).at(-1);
      assert.deepEqual([last?.request, last?.outcome, last?.generation], ["init", "ok", 1]);
      assert.ok(!isMountPoint(mnt), "the tmpfs leaked into the host's mount namespace");
    });
  }

  it("reset and erase still work on a full file system: areas are overwritten in place", async (t) => {
    const tmpfs = await smallTmpfs(t);
    const { mnt, store, ns, inside, audit } = tmpfs;
    await reidOk(["--store", store, "init"], inside);
    const fill = async () => {
      await ns.sh(`head -c 1M /dev/zero >> "${mnt}/filler" 2>/dev/null`);
      assert.equal(await tmpfs.avail(), 0, "the tmpfs is not full");
    };
    /** The request, on the full tmpfs: carried out, but its audit record found no room. */
    const unaudited = async (request: "reset" | "erase", expected: Status) => {
      const before = await tmpfs.snapshot();
      const records = await audit(`before ${request}`);
      const result = await reid(["--store", store, "--json", request], inside);
      assertAuditFailure(result, request, /no space left on device \(ENOSPC\)/);
      const now = await reidJson<Status>(["--store", store, "status"], inside);
      assert.deepEqual([now.state, now.generation], [expected.state, expected.generation]);
      const snap = await tmpfs.snapshot();
      assertAreasWhole(snap, `after ${request} on a full file system`);
      assert.ok(snap.current && before.current);
      assert.ok(snap.current.epoch > before.current.epoch, `${request} committed nothing`);
      assert.equal(snap.current.generation, expected.generation);
      if (request === "reset") assertDifferentSecret(snap.current.identifier, before.current.identifier);
      else assert.equal(snap.current.identifier, null);
      // At most the record itself, if it fitted in the log's last page (then the head had no room).
      const added = (await audit(`after ${request} on a full file system`)).slice(records.length);
      assert.ok(added.length <= 1, `${added.length} audit records for one request`);
      for (const record of added) {
        assert.deepEqual(
          [record.request, record.outcome, record.generation],
          [request, "ok", expected.generation],
        );
      }
      const left = await ns.sh(`ls -A "${store}"`);
      assert.doesNotMatch(left.stdout, /\.tmp/, `${request} left temporary files behind: ${left.stdout}`);
    };

    await fill();
    await unaudited("reset", { state: "set", generation: 2 });

    // One free page: room for the audit head's replacement (the log grows within its last page).
    await ns.sh(`truncate -s -${PAGE} "${mnt}/filler"`);
    assert.equal(await tmpfs.avail(), PAGE, "not exactly one page free");
    const reset = await reidJson<Status>(["--store", store, "reset"], inside);
    assert.deepEqual([reset.state, reset.generation], ["set", 3]);
    const last = (await audit("after the reset with one free page")).at(-1);
    assert.deepEqual([last?.request, last?.outcome, last?.generation], ["reset", "ok", 3]);

    await fill();
    await unaudited("erase", { state: "blank", generation: 3 });
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
