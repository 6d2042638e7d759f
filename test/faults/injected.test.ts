// docs/spec.md §2.9: a storage failure (ENOSPC, EIO, permission) is refused (exit 6), the old
// identifier stays. Each request runs through the real CLI with the fault shim failing every matching call
// on the store (EIO or ENOSPC on write, EIO on fsync/fdatasync, EROFS on opening for writing);
// afterwards, without faults, status shows the old state and generation, the record in force is
// byte-identical to before (identifier included), the audit log is as it was (the request's
// intent, its first write, is what fails, or opening the areas before it), and the same request
// then works.
//
// The same faults on the audit log alone: the request's intent cannot be written, so it is refused
// before anything changes (exit 6 "audit-failure", saying so and naming the OS error); the element
// is as it was, byte for byte, the log too, and the same request works once the fault is gone.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { assertOneLineError, reid, reidOk } from "../helpers/cli.js";
import {
  assertAreasWhole,
  assertAuditRefusal,
  assertDone,
  auditLog,
  ERRNO,
  type FaultOp,
  faultEnv,
  type Start,
  snapshot,
  startingStores,
  status,
  tmpFiles,
} from "../helpers/faults.js";
import { assertSameSecret } from "../helpers/secret.js";

interface FaultCase {
  readonly name: string;
  readonly op: FaultOp;
  readonly errno: number;
  readonly message: RegExp;
}

const FAULTS: readonly FaultCase[] = [
  { name: "EIO on write", op: "write", errno: ERRNO.EIO, message: /input\/output error \(EIO\)/ },
  { name: "EIO on fsync/fdatasync", op: "fsync", errno: ERRNO.EIO, message: /input\/output error \(EIO\)/ },
  {
    name: "ENOSPC on write",
    op: "write",
    errno: ERRNO.ENOSPC,
    message: /no space left on device \(ENOSPC\)/,
  },
  {
    name: "EROFS on opening for writing",
    op: "open",
    errno: ERRNO.EROFS,
    message: /read-only file system \(EROFS\)/,
  },
];

interface RequestCase {
  readonly name: string;
  readonly request: "init" | "reset" | "erase";
  readonly start: Start;
  /** Run with --json: the error is one JSON object on stderr. */
  readonly json: boolean;
}

const REQUESTS: readonly RequestCase[] = [
  { name: "reset", request: "reset", start: "set", json: false },
  { name: "erase (--json)", request: "erase", start: "set", json: true },
  { name: "init on an erased store", request: "init", start: "erased", json: false },
  { name: "init on a fresh store (--json)", request: "init", start: "fresh", json: true },
];

describe("injected storage faults are refused with exit 6 and change nothing", { concurrency: 4 }, () => {
  /** Stores to copy: "set" at generation 3 (init, reset, reset), "erased" at generation 3. */
  const prepare = startingStores("reid-faults-", 2);

  for (const fault of FAULTS) {
    for (const request of REQUESTS) {
      it(`${request.name} under ${fault.name}`, async (t) => {
        const store = prepare(t, request.start);
        const old = snapshot(store);
        const expected = request.start === "fresh" ? { state: "blank", generation: 0 } : await status(store);
        const records = auditLog(store, "before the run").length;

        const env = await faultEnv({ path: store, op: fault.op, errno: fault.errno });
        const args = ["--store", store, ...(request.json ? ["--json"] : []), request.request];
        const result = await reid(args, { env });
        // The first write is the request's intent, in the audit log: refused there, or (a failure
        // reading the areas, which comes first) a storage failure.
        assertOneLineError(result, 6, fault.message);
        const intentFailed = /audit record could not be written/.test(result.stderr);
        if (intentFailed) assertAuditRefusal(result, request.request, fault.message);
        else assert.doesNotMatch(result.stderr, /audit/, "the refusal's message is about the audit log");
        assert.ok(intentFailed || fault.op === "open", `${fault.name}: the intent was written`);
        if (request.json && !intentFailed) {
          const { error } = JSON.parse(result.stderr) as { error: { code: string } };
          assert.equal(error.code, "storage-failure");
        }

        // Without faults: the element is as it was, to the byte.
        const after = await status(store);
        assert.equal(after.state, expected.state);
        assert.equal(after.generation, expected.generation);
        const now = snapshot(store);
        assertAreasWhole(now, "after the refused request");
        if (old.current === null) {
          assert.equal(now.current, null, "a refused first init must not leave a record behind");
          for (const index of [0, 1]) {
            for (const leftover of [`area-${index}`, `area-${index}.tmp`]) {
              if (index === 1 && leftover === "area-1") continue; // a lone zeroed area-1 reads as never provisioned
              assert.ok(!existsSync(join(store, leftover)), `${leftover} was left behind`);
            }
          }
        } else {
          assert.ok(now.current, "the old record is gone");
          assert.equal(now.current.state, old.current.state);
          assert.equal(now.current.generation, old.current.generation);
          assert.equal(now.current.epoch, old.current.epoch, "a refused request committed something");
          assertSameSecret(now.current.identifier, old.current.identifier);
        }
        assert.deepEqual(tmpFiles(store), [], "a refused request left temporary files behind");
        // Every write to the store fails, the log's too: a record that could not be written whole
        // and synced was cut off again, and none other was tried.
        const added = auditLog(store, "after the refused request").slice(records);
        assert.deepEqual(added, [], `${added.length} audit records for a request that could write none`);

        // And once the fault is gone, the same request goes through.
        await reidOk(["--store", store, request.request]);
        const done = await status(store);
        assert.equal(done.state, request.request === "erase" ? "blank" : "set");
        assert.equal(done.generation, expected.generation + (request.request === "erase" ? 0 : 1));
        assertDone(auditLog(store, "after the fault-free request").at(-1), request.request);
      });
    }
  }
});

describe("faults on the audit log alone: refused before anything changes, exit 6 audit-failure", {
  concurrency: 4,
}, () => {
  /** Stores to copy: "set" at generation 2 (init, reset), "erased" at generation 2. */
  const prepare = startingStores("reid-faults-audit-", 1);

  for (const fault of FAULTS) {
    for (const request of REQUESTS) {
      it(`${request.name} under ${fault.name} on the audit log`, async (t) => {
        const store = prepare(t, request.start);
        const old = snapshot(store);
        const expected = request.start === "fresh" ? { state: "blank", generation: 0 } : await status(store);
        const path = join(store, "audit.log");
        const log = existsSync(path) ? readFileSync(path, "utf8") : "";

        const env = await faultEnv({ path, op: fault.op, errno: fault.errno });
        const args = ["--store", store, ...(request.json ? ["--json"] : []), request.request];
        const result = await reid(args, { env });
        assertAuditRefusal(result, request.request, fault.message);

        // Nothing changed: the same state, generation and record, the log as it was.
        const after = request.start === "fresh" && !existsSync(store) ? expected : await status(store);
        assert.deepEqual([after.state, after.generation], [expected.state, expected.generation]);
        const now = snapshot(store);
        if (old.current) {
          assertAreasWhole(now, "after the refused request");
          assert.equal(now.current?.epoch, old.current.epoch, "something was committed");
          assertSameSecret(now.current?.identifier ?? null, old.current.identifier);
        } else {
          assert.equal(now.current, null, "a refused first init committed a record");
        }
        assert.deepEqual(tmpFiles(store), [], "temporary files were left behind");
        assert.equal(existsSync(path) ? readFileSync(path, "utf8") : "", log, "the audit log changed");

        // Without the fault, the same request goes through, and is audited.
        await reidOk(["--store", store, request.request]);
        assertDone(auditLog(store, "after the fault-free request").at(-1), request.request);
      });
    }
  }
});
