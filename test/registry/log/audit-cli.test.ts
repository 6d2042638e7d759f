// `reid registry audit` (docs/spec.md §10.12) against a registry that lies: a test log over HTTPS
// (test-log.ts) with a realistic history is verified and replayed; then each misbehaviour (a leaf
// changed or dropped, a history rewritten behind a kept checkpoint, a fork, another signer, a
// proof that does not verify, a history no registry could write) is exit 4 `log-untrusted` with
// one line saying what, and the state kept is left as it was.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { leafHash } from "../../../src/registry/log/hash.js";
import { type LeafEvent, leafOf } from "../../../src/registry/log/leaf.js";
import { rawPublicKey, verifierKeyText } from "../../../src/registry/log/note.js";
import { MerkleTree } from "../../../src/registry/log/tree.js";
import { REID, reid } from "../../helpers/cli.js";
import { finished } from "../../helpers/process.js";
import { tempDirFor } from "./temp.js";
import { newHandle, newSerial, startTestLog, type TestLog } from "./test-log.js";

const AT = "2025-01-01T00:00:00.000Z";
const [A, B, C, FORK] = [newHandle(), newHandle(), newHandle(), newHandle()];
const [SA, SA2, SB, SC] = [newSerial(), newSerial(), newSerial(), newSerial()];

/** Enrolled A and B, A renewed, B succeeded by C, A revoked, a second successor of B refused. */
function history(): LeafEvent[] {
  const events: Omit<LeafEvent, "sequence" | "at">[] = [
    { type: "enrolled", handle: A, data: { serial: SA } },
    { type: "enrolled", handle: B, data: { serial: SB } },
    { type: "renewed", handle: A, data: { serial: SA2, previous: SA } },
    { type: "succeeded", handle: C, data: { predecessor: B, serial: SC, statement: "e30", signature: "AA" } },
    { type: "revoked", handle: A, data: { serial: SA2, reason: "keyCompromise" } },
    {
      type: "fork-refused",
      handle: B,
      data: { successor: FORK, status: "superseded", source: "::1" },
    },
  ];
  // Sequences with a gap, as a registry's may have: only their order is the log's.
  return events.map((event, index) => ({ ...event, sequence: index * 2 + 1, at: AT }));
}

function rootOf(events: readonly LeafEvent[]): string {
  const tree = new MerkleTree();
  for (const event of events) tree.append(leafHash(leafOf(event)));
  return Buffer.from(tree.root()).toString("base64");
}

describe("reid registry audit", () => {
  let log: TestLog;
  let scratch: { dir: string; remove(): void };
  let state: string;
  let runs = 0;
  before(async () => {
    scratch = tempDirFor();
    log = await startTestLog(scratch.dir);
  });
  after(async () => {
    await log.close();
    scratch.remove();
  });
  beforeEach(() => {
    log.misbehave = {};
    log.rewrite(history());
    state = join(scratch.dir, `state-${++runs}`);
  });

  const audit = (...more: string[]) => reid(["registry", "audit", log.base, "--ca", log.caFile, ...more]);
  const auditJson = (...more: string[]) => audit("--json", "--state", state, ...more);

  /** Exit 4 `log-untrusted`, one line on stderr (text, or with --json the error object) matching `message`. */
  function untrusted(result: Awaited<ReturnType<typeof reid>>, message: RegExp): void {
    assert.equal(result.code, 4, result.stderr);
    assert.equal(result.stdout, "");
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    let line = lines[0] as string;
    if (line.startsWith("{")) {
      const { error } = JSON.parse(line);
      assert.equal(error.code, "log-untrusted");
      line = `reid: ${error.message}`;
    }
    assert.match(line, message);
  }

  test("a history verified and replayed: size, root and devices by status; kept in --state DIR and resumed", async () => {
    const first = await auditJson();
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), {
      registry: log.base,
      size: 6,
      root: rootOf(history()),
      time: JSON.parse(first.stdout).time,
      added: 6,
      devices: { listed: 0, active: 1, superseded: 1, revoked: 1 },
    });
    assert.equal(statSync(state).mode & 0o777, 0o700);
    assert.equal(statSync(join(state, "audit.json")).mode & 0o777, 0o600);
    assert.equal(statSync(join(state, "leaves")).size, 6 * 32);
    const kept = JSON.parse(readFileSync(join(state, "audit.json"), "utf8"));
    assert.deepEqual(
      kept.devices.map((device: { handle: string; status: string }) => [device.handle, device.status]),
      [
        [A, "revoked"],
        [B, "superseded"],
        [C, "active"],
      ].sort(),
    );
    assert.equal(kept.key, log.key);
    // Nothing new: nothing fetched beyond the checkpoint; then two more events, and only they are.
    assert.equal(JSON.parse((await auditJson()).stdout).added, 0);
    const D = newHandle();
    log.append({ type: "enrolled", handle: D, data: { serial: newSerial() } });
    log.append({ type: "revoked", handle: C, data: { serial: SC, reason: "unspecified" } });
    const third = JSON.parse((await auditJson()).stdout);
    assert.equal(third.size, 8);
    assert.equal(third.added, 2);
    assert.equal(third.root, rootOf(log.events));
    assert.deepEqual(third.devices, { listed: 0, active: 1, superseded: 1, revoked: 2 });
    const text = await audit("--state", state);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(
        `^audited  ${log.base}\nsize     8 \\(0 leaves verified now\\)\nroot     ${third.root.replace(/[+/]/g, "\\$&")}\nsigned   \\S+Z\ndevices  4: 1 active, 1 superseded, 2 revoked\n$`,
      ),
    );
  });

  test("a leaf changed on the way, or a later leaf served in a dropped one's place: the root is not the signed one", async () => {
    log.misbehave.leaves = (start, leaves) =>
      leaves.map((leaf, i) => {
        const event = log.events[start + i];
        return event && start + i === 2
          ? leafOf({ ...event, data: { ...event.data, serial: newSerial() } })
          : leaf;
      });
    const root =
      /^reid: the leaves the registry at 127\.0\.0\.1:\d+ served do not make the root its checkpoint of 6 signs$/;
    untrusted(await auditJson(), root);
    // Leaf 1 dropped, the later ones shifted in, the last served twice to make up the count.
    const shifted = [...log.events.filter((_, index) => index !== 1), log.events[5] as LeafEvent];
    log.misbehave.leaves = (start, leaves) => shifted.slice(start, start + leaves.length).map(leafOf);
    untrusted(await auditJson(), root);
  });

  test("a history rewritten behind the checkpoint kept (a leaf dropped, or changed) does not extend it; the state stays", async () => {
    assert.equal((await auditJson()).code, 0);
    const kept = readFileSync(join(state, "audit.json"));
    const events = log.events;
    log.rewrite([...events.filter((_, index) => index !== 1), { ...(events[1] as LeafEvent), sequence: 13 }]);
    untrusted(
      await auditJson(),
      /^reid: the log of 6 is signed with another root than the one seen before: a fork$/,
    );
    log.append({ type: "enrolled", handle: newHandle(), data: { serial: newSerial() } });
    untrusted(await auditJson(), /^reid: the log of 7 does not extend the log of 6 seen before$/);
    log.rewrite(events.slice(0, 5));
    untrusted(await auditJson(), /^reid: the log of 5 is smaller than the log of 6 seen before$/);
    assert.deepEqual(readFileSync(join(state, "audit.json")), kept);
  });

  test("a fork, another signer, a bad signature, a consistency proof that does not verify", async () => {
    assert.equal((await auditJson()).code, 0);
    log.misbehave.checkpoint = () => log.sign(6, new Uint8Array(32).fill(1));
    untrusted(await auditJson(), /a fork$/);
    const other = generateKeyPairSync("ed25519").privateKey;
    log.misbehave.checkpoint = (honest) => log.sign(Number(honest.split("\n")[1]), new Uint8Array(32), other);
    untrusted(await auditJson(), /^reid: the note is not signed by reid-registry\/[0-9a-f]{16}$/);
    log.misbehave.checkpoint = (honest) => honest.replace("\n6\n", "\n7\n");
    untrusted(
      await auditJson(),
      /^reid: the signature of reid-registry\/[0-9a-f]{16} on the note does not verify$/,
    );
    log.misbehave = {
      consistency: (_from, _to, hashes) => hashes.map((hash) => hash.map((byte) => byte ^ 0x80)),
    };
    log.append({ type: "enrolled", handle: newHandle(), data: { serial: newSerial() } });
    untrusted(await auditJson(), /^reid: the log of 7 does not extend the log of 6 seen before$/);
  });

  test("a history no registry could write is refused, leaf by leaf", async () => {
    const base = history();
    const at = (index: number, event: Omit<LeafEvent, "sequence" | "at">, sequence = 100) => {
      const events = [...base];
      events.splice(index, 0, { ...event, sequence, at: AT });
      return events.map((e, i) => (i > index ? { ...e, sequence: 100 + i } : e));
    };
    const cases: [LeafEvent[], RegExp][] = [
      [
        at(6, { type: "renewed", handle: newHandle(), data: { serial: newSerial(), previous: SA } }),
        /leaf 6 \(event 100, renewed of [0-9a-f]{32}\): the device is unknown/,
      ],
      [
        at(6, { type: "succeeded", handle: newHandle(), data: { predecessor: B, serial: newSerial() } }),
        new RegExp(`leaf 6 .*: ${B} has a successor already \\(${C}\\)`),
      ],
      [
        at(6, { type: "renewed", handle: A, data: { serial: newSerial(), previous: SA2 } }),
        /leaf 6 .*renewed of .*: the device is revoked/,
      ],
      [
        at(6, { type: "succeeded", handle: newHandle(), data: { predecessor: A, serial: newSerial() } }),
        new RegExp(`leaf 6 .*: its predecessor ${A} is revoked`),
      ],
      [
        at(6, { type: "enrolled", handle: C, data: { serial: newSerial() } }),
        /leaf 6 .*: the handle is enrolled already/,
      ],
      [
        at(6, { type: "enrolled", handle: newHandle(), data: { serial: newSerial() } }, 11),
        /leaf 6 \(event 11, .*: its sequence is not above the last one's, 11/,
      ],
      [
        at(2, { type: "renewed", handle: B, data: { serial: newSerial(), previous: SA } }, 4),
        /leaf 2 .*: it replaces another certificate than the current one/,
      ],
    ];
    for (const [events, message] of cases) {
      log.rewrite(events);
      untrusted(await audit("--json"), new RegExp(`^reid: ${message.source}`));
    }
  });

  test("the log key: given and right, of another registry, not one, or not the one DIR keeps", async () => {
    assert.equal((await auditJson("--log-key", log.key)).code, 0);
    const other = verifierKeyText(log.name, rawPublicKey(generateKeyPairSync("ed25519").privateKey));
    untrusted(await auditJson("--log-key", other), /^reid: --log-key is not the log key .* keeps$/);
    const foreign = verifierKeyText("reid-registry/0123456789abcdef", rawPublicKey(log.signer));
    untrusted(
      await audit("--log-key", foreign),
      /the log key is of 'reid-registry\/0123456789abcdef', not of this registry's reid-registry\//,
    );
    const bad = await audit("--log-key", "reid-registry+00+AA");
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^reid: --log-key must be the registry's log key/);
  });

  test("a --state DIR open to others, or whose leaf hashes do not make its checkpoint's root, is exit 6 audit-state", async () => {
    mkdirSync(state, { mode: 0o700 });
    chmodSync(state, 0o755);
    const open = await audit("--json", "--state", state);
    assert.equal(open.code, 6, open.stderr);
    assert.equal(JSON.parse(open.stderr).error.code, "audit-state");
    assert.match(open.stderr, /is open to other users: chmod 700/);
    chmodSync(state, 0o700);
    assert.equal((await auditJson()).code, 0);
    const leaves = join(state, "leaves");
    const hashes = readFileSync(leaves);
    hashes[40] = (hashes[40] as number) ^ 1;
    writeFileSync(leaves, hashes);
    const damaged = await auditJson();
    assert.equal(damaged.code, 6, damaged.stderr);
    assert.match(
      JSON.parse(damaged.stderr).error.message,
      /audit\.json is not an audit's state: its leaf hashes do not make its root/,
    );
  });

  test("--follow prints each checkpoint that grows the log, and SIGINT ends it with the summary, exit 0", async () => {
    const child = spawn(
      process.execPath,
      [REID, "registry", "audit", log.base, "--ca", log.caFile, "--follow"],
      {
        env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const done = finished(child);
    let printed = "";
    const lines = (count: number) =>
      new Promise<void>((resolve, reject) => {
        void done.then((end) => reject(new Error(`audit --follow ended: ${end.stderr.toString()}`)));
        const check = () => {
          if (printed.split("\n").length > count) {
            child.stdout?.off("data", on);
            resolve();
          }
        };
        const on = (chunk: Buffer) => {
          printed += chunk.toString("utf8");
          check();
        };
        child.stdout?.on("data", on);
        check();
      });
    await lines(1);
    assert.match(printed, /^size 6 {2}root \S+ {2}\+6 leaves {2}1 active, 1 superseded, 1 revoked\n/);
    log.append({ type: "enrolled", handle: newHandle(), data: { serial: newSerial() } });
    await lines(2);
    assert.match(
      printed.split("\n")[1] as string,
      /^size 7 {2}root \S+ {2}\+1 leaves {2}2 active, 1 superseded, 1 revoked$/,
    );
    child.kill("SIGINT");
    const end = await done;
    assert.equal(end.code, 0, end.stderr.toString());
    assert.match(
      end.stdout.toString(),
      /\naudited {2}https:.*\nsize {5}7 \(7 leaves verified now\)\n[\s\S]*devices {2}4: 2 active/,
    );
  });
});
