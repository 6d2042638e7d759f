// docs/spec.md §2.9: a storage failure (ENOSPC, EIO, permission) is refused (exit 6), the old
// identifier stays. Each request runs through the real CLI with the fault shim failing every matching call
// on the store (EIO or ENOSPC on write, EIO on fsync/fdatasync, EROFS on opening for writing);
// afterwards, without faults, status shows the old state and generation, the record in force is
// byte-identical to before (identifier included), the audit log holds no torn line and no "ok"
// record of the refused request, and the same request then works.
//
// The same faults on the audit log alone (audit.log, or only audit.head): the request is carried
// out, but its audit record cannot be written, so it ends in exit 6 "audit-failure", saying so and
// naming the OS error; the element is in its new state and a fault-free request works afterwards.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  assertAreasWhole,
  assertAuditFailure,
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
import { assertDifferentSecret, assertSameSecret, containsBytes } from "../helpers/secret.js";

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
        assertOneLineError(result, 6, fault.message);
        assert.doesNotMatch(result.stderr, /audit/, "the refusal's message is about the audit log");
        if (request.json) {
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
        // Its audit record was written only as far as the fault let it (a failed write writes
        // nothing; a failed sync leaves the line), and never says "ok".
        const added = auditLog(store, "after the refused request").slice(records);
        assert.ok(added.length <= 1, `${added.length} audit records for one request`);
        for (const record of added) {
          assert.deepEqual(
            [record.request, record.outcome, record.generation],
            [request.request, "storage-failure", expected.generation],
          );
        }

        // And once the fault is gone, the same request goes through.
        await reidOk(["--store", store, request.request]);
        const done = await status(store);
        assert.equal(done.state, request.request === "erase" ? "blank" : "set");
        assert.equal(done.generation, expected.generation + (request.request === "erase" ? 0 : 1));
        const last = auditLog(store, "after the fault-free request").at(-1);
        assert.deepEqual([last?.request, last?.outcome], [request.request, "ok"]);
      });
    }
  }
});

/** Which of the audit files a fault hits: both (the log is the first written) or the head alone. */
const AUDIT_TARGETS = [
  { name: "the audit log", file: "audit." },
  { name: "the audit log's head alone", file: "audit.head" },
] as const;

describe("faults on the audit log alone: carried out, exit 6 audit-failure", { concurrency: 4 }, () => {
  /** Stores to copy: "set" at generation 2 (init, reset), "erased" at generation 2. */
  const prepare = startingStores("reid-faults-audit-", 1);

  for (const target of AUDIT_TARGETS) {
    for (const fault of FAULTS) {
      for (const request of REQUESTS) {
        it(`${request.name} under ${fault.name} on ${target.name}`, async (t) => {
          const store = prepare(t, request.start);
          const old = snapshot(store);
          const expected =
            request.start === "fresh" ? { state: "blank", generation: 0 } : await status(store);
          const log = existsSync(join(store, "audit.log"))
            ? readFileSync(join(store, "audit.log"), "utf8")
            : "";
          const records = auditLog(store, "before the run").length;
          const carriedOut = {
            state: request.request === "erase" ? "blank" : "set",
            generation: expected.generation + (request.request === "erase" ? 0 : 1),
          };

          const env = await faultEnv({ path: join(store, target.file), op: fault.op, errno: fault.errno });
          const args = ["--store", store, ...(request.json ? ["--json"] : []), request.request];
          const result = await reid(args, { env });
          assertAuditFailure(result, request.request, fault.message);

          // The element changed all the same: new state and generation, the old identifier gone.
          const after = await status(store);
          assert.deepEqual([after.state, after.generation], [carriedOut.state, carriedOut.generation]);
          const now = snapshot(store);
          assertAreasWhole(now, "after the unaudited request");
          assert.ok(now.current, "no record is in force");
          assert.equal(now.current.generation, carriedOut.generation);
          if (old.current?.identifier) {
            if (request.request !== "erase")
              assertDifferentSecret(now.current.identifier, old.current.identifier);
            for (const raw of now.raw) {
              assert.ok(
                raw && !containsBytes(raw, old.current.identifier),
                "the old identifier is still stored",
              );
            }
          }
          assert.deepEqual(tmpFiles(store), [], "temporary files were left behind");

          // The log kept its earlier records and holds whole lines only. A fault on the head alone
          // comes after the record was written and synced: that record is there, saying "ok".
          const text = existsSync(join(store, "audit.log"))
            ? readFileSync(join(store, "audit.log"), "utf8")
            : "";
          assert.ok(text.startsWith(log), "the audit log's earlier records were changed");
          const added = auditLog(store, "after the unaudited request").slice(records);
          if (target.file === "audit.head") assert.equal(added.length, 1, "the synced record is missing");
          assert.ok(added.length <= 1, `${added.length} audit records for one request`);
          for (const record of added) {
            assert.deepEqual(
              [record.request, record.outcome, record.generation],
              [request.request, "ok", carriedOut.generation],
            );
          }

          // Without the fault, the element works on: a reset goes through, and is audited.
          const done = await reidJson<{ generation: number }>(["--store", store, "reset"]);
          assert.equal(done.generation, carriedOut.generation + 1);
          const last = auditLog(store, "after the fault-free reset").at(-1);
          assert.deepEqual(
            [last?.request, last?.outcome, last?.generation],
            ["reset", "ok", done.generation],
          );
        });
      }
    }
  }
});
