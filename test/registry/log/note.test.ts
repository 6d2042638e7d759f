// Signed notes and checkpoints (docs/spec.md §10.12) held to the reference: the example key and
// note of the Go implementation (golang.org/x/mod/sumdb/note), which Ed25519's determinism lets us
// reproduce byte for byte, and each malformed or forged note refused.
import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { checkpointText, parseCheckpoint } from "../../../src/registry/log/checkpoint.js";
import { leafHash, nodeHash } from "../../../src/registry/log/hash.js";
import { eventOfLeaf, leafOf } from "../../../src/registry/log/leaf.js";
import {
  openNote,
  parseVerifierKey,
  rawPublicKey,
  signNote,
  verifierKeyText,
} from "../../../src/registry/log/note.js";

const VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

/** The reference's private key: 0x01 and the Ed25519 seed, as a KeyObject. */
function referenceKey() {
  const seed = Buffer.from(SIGNER.split("+").slice(4).join("+"), "base64").subarray(1);
  const publicKey = parseVerifierKey(VERIFIER).publicKey;
  return createPrivateKey({
    key: {
      kty: "OKP",
      crv: "Ed25519",
      d: seed.toString("base64url"),
      x: Buffer.from(publicKey).toString("base64url"),
    },
    format: "jwk",
  });
}

describe("signed notes", () => {
  test("the reference note is made byte for byte, and its verifier key too", () => {
    const key = referenceKey();
    assert.equal(signNote(TEXT, "PeterNeumann", key), NOTE);
    assert.equal(verifierKeyText("PeterNeumann", rawPublicKey(key)), VERIFIER);
    assert.equal(openNote(NOTE, parseVerifierKey(VERIFIER)), TEXT);
  });

  test("a changed text, a changed signature, another key or no signature is refused", () => {
    const key = parseVerifierKey(VERIFIER);
    const refused = (note: string) =>
      assert.throws(
        () => openNote(note, key),
        (error: Error & { code?: string }) => error.code === "log-untrusted",
      );
    refused(NOTE.replace("cryptography", "cryptographY"));
    refused(NOTE.replace("x08go", "x08gp"));
    refused(TEXT);
    refused(`${TEXT}\n`);
    refused(NOTE.replace("PeterNeumann x08", "Someone x08"));
    const other = generateKeyPairSync("ed25519").privateKey;
    refused(signNote(TEXT, "PeterNeumann", other));
  });

  test("a mangled verifier key is refused", () => {
    for (const text of [
      VERIFIER.replace("c74f20a3", "c74f20a4"),
      VERIFIER.replace("+ARpc", "+AApc"),
      VERIFIER.slice(0, -2),
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann",
    ]) {
      assert.throws(() => parseVerifierKey(text), /not a log verifier key/);
    }
  });
});

describe("checkpoints", () => {
  const checkpoint = {
    origin: "reid-registry/0123456789abcdef",
    size: 42,
    root: new Uint8Array(32).fill(7),
    time: "2026-12-04T15:00:00.000Z",
  };

  test("the text form is the C2SP one with a time line, and reads back", () => {
    const text = checkpointText(checkpoint);
    assert.equal(
      text,
      `reid-registry/0123456789abcdef\n42\n${Buffer.alloc(32, 7).toString("base64")}\ntime 2026-12-04T15:00:00.000Z\n`,
    );
    assert.deepEqual(parseCheckpoint(text), checkpoint);
  });

  test("a checkpoint out of form is refused", () => {
    const text = checkpointText(checkpoint);
    for (const bad of [
      text.replace("\n42\n", "\n042\n"),
      text.replace("\n42\n", "\n-1\n"),
      text.replace("time ", "when "),
      text.replace("=\n", "\n"),
      `${text}extra\n`,
      text.slice(0, -1),
    ]) {
      assert.throws(
        () => parseCheckpoint(bad),
        (error: Error & { code?: string }) => error.code === "log-untrusted",
      );
    }
  });
});

describe("leaves", () => {
  const event = {
    sequence: 7,
    type: "enrolled" as const,
    handle: "0123456789abcdef0123456789abcdef",
    data: { serial: "1f", imported: true },
    at: "2026-12-04T15:00:00.000Z",
  };

  test("a leaf is the event's RFC 8785 form, and reads back only in that form", () => {
    const leaf = leafOf(event);
    assert.equal(
      Buffer.from(leaf).toString(),
      '{"at":"2026-12-04T15:00:00.000Z","data":{"imported":true,"serial":"1f"},"handle":"0123456789abcdef0123456789abcdef","sequence":7,"type":"enrolled"}',
    );
    assert.deepEqual(eventOfLeaf(leaf), event);
    const spaced = Buffer.from(JSON.stringify(event, null, 1));
    assert.throws(() => eventOfLeaf(spaced), /canonical/);
    assert.throws(() => eventOfLeaf(Buffer.from('{"a":1}')), /not a registry event/);
  });

  test("leaf and node hashes are domain-separated (RFC 9162 §2.1.1)", () => {
    // The empty leaf's hash is RFC 6962's published one.
    assert.equal(
      Buffer.from(leafHash(new Uint8Array())).toString("hex"),
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    );
    const a = leafHash(Buffer.from("a"));
    assert.notDeepEqual(nodeHash(a, a), leafHash(Buffer.concat([a, a])));
  });
});
