// The element's side of the identity log (docs/spec.md §10.12) against a registry that lies: the
// checks an enrollment, a renewal and a succession make of the answer's event (begin and confirm,
// src/registry/log/element-check.ts), over the pinned TLS the enrollment uses, each refusing a
// tampered or dropped leaf, a forked or foreign checkpoint, a proof that does not verify, and
// someone else's event, with `log-untrusted` (exit 4) and one line saying what.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, beforeEach, describe, test } from "node:test";
import { logGet } from "../../../src/enrollment/log-witness.js";
import type { ExpectedEvent, LogGet, LogRecord } from "../../../src/http/log-witness.js";
import { begin, confirm } from "../../../src/registry/log/element-check.js";
import { leafOf } from "../../../src/registry/log/leaf.js";
import { tempDirFor } from "./temp.js";
import { newHandle, newSerial, startTestLog, type TestLog } from "./test-log.js";

/** A refusal of the log: exit 4 `log-untrusted`, one line matching `message`. */
function untrusted(message: RegExp) {
  return (error: Error & { code?: string; exitCode?: number }) => {
    assert.equal(error.code, "log-untrusted", error.message);
    assert.equal(error.exitCode, 4);
    assert.doesNotMatch(error.message, /\n/);
    assert.match(error.message, message);
    return true;
  };
}

describe("the element holds the registry's answer to its log", () => {
  let log: TestLog;
  let get: LogGet;
  let where: string;
  let remove: () => void;
  before(async () => {
    const scratch = tempDirFor();
    remove = scratch.remove;
    log = await startTestLog(scratch.dir);
    get = await logGet({ origin: new URL(log.base), ca: log.caPem });
    where = new URL(log.base).host;
  });
  after(async () => {
    await log.close();
    remove();
  });
  beforeEach(() => {
    log.misbehave = {};
    // Other devices' history before this element's answer.
    log.rewrite([]);
    log.append(
      { type: "enrolled", handle: newHandle(), data: { serial: newSerial() } },
      { type: "enrolled", handle: newHandle(), data: { serial: newSerial() } },
      { type: "enrolled", handle: newHandle(), data: { serial: newSerial() } },
    );
  });

  /** The kept record, then this element's enrollment appended: what confirm is asked. */
  async function enrolled(): Promise<{ kept: LogRecord; expected: ExpectedEvent }> {
    const kept = await begin(get, where, log.pin);
    const [handle, serial] = [newHandle(), newSerial()];
    const [index] = log.append({ type: "enrolled", handle, data: { serial } });
    return { kept, expected: { index: String(index), type: "enrolled", handle, serial } };
  }

  test("an honest log: the key asked for, the checkpoint kept, then one holding the answer's event", async () => {
    const kept = await begin(get, where, log.pin);
    assert.equal(kept.key, log.key);
    assert.equal(kept.checkpoint, log.note());
    const [handle, serial, renewed] = [newHandle(), newSerial(), newSerial()];
    const [index] = log.append({ type: "enrolled", handle, data: { serial } });
    const first = await confirm(get, where, kept, { index: String(index), type: "enrolled", handle, serial });
    assert.equal(first.checkpoint, log.note());
    assert.match(first.checkpoint, /\n4\n/);
    // A renewal later, after other devices' events: held to the checkpoint kept at enrollment.
    log.append({ type: "enrolled", handle: newHandle(), data: { serial: newSerial() } });
    const [next] = log.append({ type: "renewed", handle, data: { serial: renewed, previous: serial } });
    const second = await confirm(get, where, first, {
      index: String(next),
      type: "renewed",
      handle,
      serial: renewed,
      previous: serial,
    });
    assert.match(second.checkpoint, /\n6\n/);
  });

  test("a given --log-key of another registry, or another key's checkpoint, is refused before anything is sent", async () => {
    const other = generateKeyPairSync("ed25519").privateKey;
    const { verifierKeyText, rawPublicKey } = await import("../../../src/registry/log/note.js");
    await assert.rejects(
      begin(get, where, log.pin, verifierKeyText("reid-registry/0000000000000000", rawPublicKey(other))),
      untrusted(/the log key is of 'reid-registry\/0000000000000000', not of this registry's/),
    );
    await assert.rejects(
      begin(get, where, log.pin, verifierKeyText(log.name, rawPublicKey(other))),
      untrusted(/the note is not signed by reid-registry\//),
    );
  });

  test("a tampered leaf (its bytes changed, the tree not) fails its inclusion proof", async () => {
    const { kept, expected } = await enrolled();
    log.misbehave.leaves = (start, leaves) =>
      leaves.map((leaf, i) => {
        const event = log.events[start + i];
        return event && start + i === Number(expected.index)
          ? leafOf({ ...event, at: "2000-01-01T00:00:00.000Z" })
          : leaf;
      });
    await assert.rejects(
      confirm(get, where, kept, expected),
      untrusted(/^leaf 3 is not in the log of 4 the checkpoint signs$/),
    );
  });

  test("a dropped leaf: the history signed without it, or a later leaf served in its place", async () => {
    const { kept, expected } = await enrolled();
    log.append({ type: "enrolled", handle: newHandle(), data: { serial: newSerial() } });
    log.misbehave.leaves = (start, leaves) =>
      log.events.slice(start + 1, start + 1 + leaves.length).map(leafOf);
    await assert.rejects(
      confirm(get, where, kept, expected),
      untrusted(
        /^leaf 3 of the log is enrolled of [0-9a-f]{32} \(serial [0-9a-f]+\), not this element's enrolled of/,
      ),
    );
    log.misbehave = {};
    // The registry drops leaf 1 and signs what is left: the kept checkpoint of 3 is not in it.
    log.rewrite(log.events.filter((_, index) => index !== 1));
    await assert.rejects(
      confirm(get, where, kept, { ...expected, index: "2" }),
      untrusted(/^the log of 4 does not extend the log of 3 seen before$/),
    );
  });

  test("a forked checkpoint: another root for the size kept, or a new one that does not extend it", async () => {
    const kept = await begin(get, where, log.pin);
    const root = new Uint8Array(32).fill(9);
    log.misbehave.checkpoint = () => log.sign(3, root);
    const old = log.events[2];
    assert.ok(old);
    const expected: ExpectedEvent = {
      index: "2",
      type: "enrolled",
      handle: old.handle,
      serial: (old.data as { serial: string }).serial,
    };
    await assert.rejects(
      confirm(get, where, kept, expected),
      untrusted(/^the log of 3 is signed with another root than the one seen before: a fork$/),
    );
    const [handle, serial] = [newHandle(), newSerial()];
    const [index] = log.append({ type: "enrolled", handle, data: { serial } });
    log.misbehave.checkpoint = () => log.sign(4, root);
    await assert.rejects(
      confirm(get, where, kept, { index: String(index), type: "enrolled", handle, serial }),
      untrusted(/^the log of 4 does not extend the log of 3 seen before$/),
    );
  });

  test("a checkpoint signed by another key, or with a signature that does not verify", async () => {
    const { kept, expected } = await enrolled();
    const other = generateKeyPairSync("ed25519").privateKey;
    log.misbehave.checkpoint = (honest) => log.sign(Number(honest.split("\n")[1]), new Uint8Array(32), other);
    await assert.rejects(
      confirm(get, where, kept, expected),
      untrusted(/^the note is not signed by reid-registry\/[0-9a-f]{16}$/),
    );
    // A character of the signature itself, past the key id's.
    log.misbehave.checkpoint = (honest) => {
      const at = honest.lastIndexOf(" ") + 10;
      return `${honest.slice(0, at)}${honest[at] === "A" ? "B" : "A"}${honest.slice(at + 1)}`;
    };
    await assert.rejects(
      confirm(get, where, kept, expected),
      untrusted(/^the signature of reid-registry\/[0-9a-f]{16} on the note does not verify$/),
    );
  });

  test("an inclusion or a consistency proof that does not verify", async () => {
    const { kept, expected } = await enrolled();
    const flip = (hashes: Uint8Array[]) =>
      hashes.map((hash, i) => (i === 0 ? hash.map((byte) => byte ^ 1) : hash));
    log.misbehave.inclusion = (_index, _size, hashes) => flip(hashes);
    await assert.rejects(confirm(get, where, kept, expected), untrusted(/^leaf 3 is not in the log of 4/));
    log.misbehave = { consistency: (_from, _to, hashes) => flip(hashes) };
    await assert.rejects(
      confirm(get, where, kept, expected),
      untrusted(/^the log of 4 does not extend the log of 3/),
    );
    log.misbehave = { consistency: (_from, _to, hashes) => hashes.slice(1) };
    await assert.rejects(confirm(get, where, kept, expected), untrusted(/does not extend/));
  });

  test("an index that is someone else's event, or none, or beyond every checkpoint", async () => {
    const { kept, expected } = await enrolled();
    await assert.rejects(
      confirm(get, where, kept, { ...expected, index: "1" }),
      untrusted(/^leaf 1 of the log is enrolled of [0-9a-f]{32} .*, not this element's enrolled of/),
    );
    await assert.rejects(
      confirm(get, where, kept, { ...expected, serial: newSerial() }),
      untrusted(/not this element's/),
    );
    await assert.rejects(
      confirm(get, where, kept, { ...expected, index: null }),
      untrusted(/answered no log index/),
    );
    await assert.rejects(
      confirm(get, where, kept, { ...expected, index: "1.5" }),
      untrusted(/answered no log index/),
    );
    await assert.rejects(
      confirm(get, where, kept, { ...expected, index: "9" }, { waitMs: 200, pollMs: 50 }),
      untrusted(/signed no checkpoint holding leaf 9 within 0.2 s \(its newest is of 4\)/),
    );
  });
});
