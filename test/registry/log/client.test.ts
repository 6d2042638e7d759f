// The log client's strict reading of the registry's answers (docs/spec.md §10.12): each malformed
// answer (shape, base64, sizes, type) is `log-untrusted`; a registry failing on its side (5xx)
// keeps the error of a registry out of reach.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LogAnswer } from "../../../src/http/log-witness.js";
import { LogClient } from "../../../src/registry/log/client.js";

const HASH = Buffer.alloc(32, 7).toString("base64");

/** A client whose registry answers `body` (JSON unless a string) with `status` and `type`. */
function answering(body: unknown, status = 200, type = "application/json"): LogClient {
  const bytes = Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  return new LogClient(async (): Promise<LogAnswer> => ({ status, type, body: bytes }), "registry.test:8443");
}

async function refused(promise: Promise<unknown>, message: RegExp, code = "log-untrusted"): Promise<void> {
  await assert.rejects(promise, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

const firstPage = (client: LogClient, start = 0, end = 2) => client.leaves(start, end).next();

describe("the log client", () => {
  test("a well-formed page of leaves and proofs is read", async () => {
    const leaf = Buffer.from("{}").toString("base64");
    assert.deepEqual((await firstPage(answering({ start: 0, leaves: [leaf, leaf] }))).value, [
      new Uint8Array(Buffer.from("{}")),
      new Uint8Array(Buffer.from("{}")),
    ]);
    assert.equal((await answering({ index: 1, size: 3, hashes: [HASH, HASH] }).inclusion(1, 3)).length, 2);
    assert.equal((await answering({ from: 2, to: 3, hashes: [HASH] }).consistency(2, 3)).length, 1);
  });

  test("leaves: another start, a member more, none, more than asked, not base64, or too large are refused", async () => {
    const leaf = Buffer.from("{}").toString("base64");
    await refused(firstPage(answering({ start: 1, leaves: [leaf] })), /answered leaves from 0 malformed/);
    await refused(
      firstPage(answering({ start: 0, leaves: [leaf], more: 1 })),
      /with no start, leaves object/,
    );
    await refused(firstPage(answering({ start: 0, leaves: [] })), /answered leaves from 0 malformed/);
    await refused(
      firstPage(answering({ start: 0, leaves: [leaf, leaf, leaf] })),
      /more leaves than the 2 asked/,
    );
    await refused(firstPage(answering({ start: 0, leaves: ["e30"] })), /not base64/);
    await refused(firstPage(answering({ start: 0, leaves: ["e31="] })), /not base64/);
    await refused(firstPage(answering({ start: 0, leaves: [7] })), /not base64/);
    const big = Buffer.alloc(64 * 1024 + 1, 0x20).toString("base64");
    await refused(firstPage(answering({ start: 0, leaves: [big] })), /not base64 of 1 byte to 64 KiB/);
    await refused(firstPage(answering("not json")), /with no start, leaves object/);
  });

  test("proofs: a hash not of 32 bytes, too many hashes, or another index or size than asked are refused", async () => {
    const short = Buffer.alloc(31).toString("base64");
    await refused(
      answering({ index: 1, size: 3, hashes: [short] }).inclusion(1, 3),
      /inclusion proof hash malformed/,
    );
    await refused(
      answering({ index: 1, size: 4, hashes: [HASH] }).inclusion(1, 3),
      /inclusion proof asked malformed/,
    );
    const many = Array.from({ length: 65 }, () => HASH);
    await refused(
      answering({ from: 1, to: 3, hashes: many }).consistency(1, 3),
      /consistency proof malformed/,
    );
    await refused(
      answering({ from: 1, to: 3, hashes: "x" }).consistency(1, 3),
      /consistency proof malformed/,
    );
  });

  test("the key and the checkpoint: another type, not UTF-8, or two keys are refused", async () => {
    await refused(
      answering("x", 200, "application/json").checkpoint(),
      /as 'application\/json', not text\/plain/,
    );
    const bad = new LogClient(
      async () => ({ status: 200, type: "text/plain", body: Uint8Array.of(0x61, 0xff, 0x0a) }),
      "registry.test:8443",
    );
    await refused(bad.checkpoint(), /that is not UTF-8/);
    await refused(answering("a+b+c\nd+e+f\n", 200, "text/plain").key(), /no single log key/);
    await refused(answering("a+b+c\n", 200, "text/plain").key(), /not a log verifier key/);
  });

  test("a refusal is log-untrusted with the registry's line; a failure on its side is registry-unreachable", async () => {
    await refused(
      answering('{"error":{"code":"beyond-log"}}', 400).inclusion(9, 3),
      /refused GET \/v1\/log\/proof\/inclusion\?index=9&size=3: HTTP 400: \{"error"/,
    );
    await refused(
      answering("busy", 503, "text/plain").checkpoint(),
      /answered HTTP 503: busy/,
      "registry-unreachable",
    );
  });
});
