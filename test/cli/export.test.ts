// `reid export --wrap-key FILE`: the identifier leaves the element only wrapped (RFC 5649), and
// openssl unwraps it to exactly the stored bytes. The identifier is compared, never printed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { describe, it } from "node:test";
import { assertOneLineError } from "../helpers/cli.js";
import { assertDifferentSecret, assertSameSecret } from "../helpers/secret.js";
import { Element, errorCode, openssl } from "./derivation.js";
import { assertUnchanged } from "./store.js";

/** openssl's own RFC 5649 unwrap (AES-256 key wrap with padding, alternative IV A65959A6). */
function opensslUnwrap(kek: Uint8Array, wrappedPath: string) {
  const key = Buffer.from(kek).toString("hex");
  return openssl(["enc", "-d", "-id-aes256-wrap-pad", "-K", key, "-iv", "A65959A6", "-in", wrappedPath]);
}

/** Exports under `kek` and checks the wrapped bytes' shape; returns them. */
async function exportWrapped(element: Element, keyPath: string, extra: string[] = []): Promise<Buffer> {
  const { stdout } = await element.ok([...extra, "export", "--wrap-key", keyPath]);
  assert.match(stdout, /^(?:[0-9a-f]{16})+\n$/, "hex of whole 8-byte blocks");
  return Buffer.from(stdout.trim(), "hex");
}

async function assertUnwrapsTo(
  element: Element,
  kek: Uint8Array,
  wrapped: Uint8Array,
  identifier: Uint8Array,
) {
  const path = element.file("wrapped.bin", wrapped);
  const result = await opensslUnwrap(kek, path);
  assert.equal(result.code, 0, `openssl could not unwrap: ${result.stderr.trim()}`);
  assertSameSecret(result.stdoutBytes, identifier, "unwrapped identifier");
}

async function assertDoesNotUnwrap(element: Element, kek: Uint8Array, wrapped: Uint8Array, what: string) {
  const path = element.file("wrapped-bad.bin", wrapped);
  const result = await opensslUnwrap(kek, path);
  assert.notEqual(result.code, 0, `openssl unwrapped ${what}`);
}

describe("export --wrap-key", () => {
  it("prints hex that openssl unwraps to exactly the stored identifier; a wrong key or a changed byte fails", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const kek = randomBytes(32);
    const keyPath = element.file("wrap.key", kek);
    const identifier = element.identifier();
    assert.ok(identifier);

    const [wrapped, again, json, status] = await Promise.all([
      exportWrapped(element, keyPath),
      exportWrapped(element, keyPath),
      element.json(["export", "--wrap-key", keyPath]),
      element.json(["status"]),
    ]);
    assert.equal(wrapped.length, 8 + Math.ceil(identifier.length / 8) * 8, "RFC 5649 length");
    assert.ok(wrapped.equals(again), "key wrap is deterministic");
    assert.deepEqual(json, {
      wrapped: wrapped.toString("hex"),
      algorithm: "aes256-wrap-pad",
      generation: status.generation,
      handle: status.handle,
    });
    await assertUnwrapsTo(element, kek, wrapped, identifier);

    // The checks have teeth: another key, or any changed byte, fails RFC 5649's integrity check.
    const otherKey = Buffer.from(kek);
    otherKey[0] = (otherKey[0] as number) ^ 0x01;
    await assertDoesNotUnwrap(element, otherKey, wrapped, "under a key one bit off");
    await assertDoesNotUnwrap(element, randomBytes(32), wrapped, "under a random key");
    for (const at of [0, 8, wrapped.length - 1]) {
      const changed = Buffer.from(wrapped);
      changed[at] = (changed[at] as number) ^ 0x80;
      await assertDoesNotUnwrap(element, kek, changed, `with byte ${at} changed`);
    }
  });

  it("text formats export their ASCII bytes; after reset the export is the new identifier", async (t) => {
    const element = new Element(t);
    await element.ok(["init", "--format", "digits:39"]);
    const kek = randomBytes(32);
    const keyPath = element.file("wrap.key", kek);
    const first = element.identifier() as Uint8Array;
    const wrappedFirst = await exportWrapped(element, keyPath);
    await assertUnwrapsTo(element, kek, wrappedFirst, first);

    await element.ok(["reset", "--format", "base32:64"]);
    const second = element.identifier() as Uint8Array;
    assertDifferentSecret(first, second);
    const wrappedSecond = await exportWrapped(element, keyPath);
    assert.equal(wrappedSecond.length, 8 + 64);
    await assertUnwrapsTo(element, kek, wrappedSecond, second);
    assert.ok(!wrappedSecond.equals(wrappedFirst));
  });

  it("a sealed store exports the same identifier it held before sealing", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const identifier = element.identifier() as Uint8Array;
    const kek = randomBytes(32);
    const keyPath = element.file("wrap.key", kek);
    const sealKey = element.file("seal.key", randomBytes(32));
    await element.ok(["--kek-file", sealKey, "seal"]);
    assert.equal(element.identifier(), null, "sealed: no identifier in clear");
    assertOneLineError(await element.run(["export", "--wrap-key", keyPath]), 6, /sealed/);
    await assertUnwrapsTo(
      element,
      kek,
      await exportWrapped(element, keyPath, ["--kek-file", sealKey]),
      identifier,
    );
  });

  it("key file problems are usage errors (exit 2) naming the problem; nothing is printed or changed", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const directory = element.path("a-directory");
    mkdirSync(directory);
    const cases: [what: string, args: string[], pattern: RegExp, code: string][] = [
      [
        "31 bytes",
        ["--wrap-key", element.file("k31", randomBytes(31))],
        /k31 has 31 bytes; it must hold exactly 32/,
        "bad-key-file",
      ],
      [
        "33 bytes",
        ["--wrap-key", element.file("k33", randomBytes(33))],
        /k33 has 33 bytes; it must hold exactly 32/,
        "bad-key-file",
      ],
      ["empty", ["--wrap-key", element.file("k0", "")], /k0 has 0 bytes/, "bad-key-file"],
      [
        "missing",
        ["--wrap-key", element.path("nope")],
        /cannot read wrap key file .*nope: no such file or directory/,
        "bad-key-file",
      ],
      ["a directory", ["--wrap-key", directory], /a-directory is not a regular file/, "bad-key-file"],
      [
        "readable by others",
        ["--wrap-key", element.file("k644", randomBytes(32), 0o644)],
        /k644 is readable by other users \(mode 0644\)/,
        "bad-key-file",
      ],
      [
        "readable by the group",
        ["--wrap-key", element.file("k640", randomBytes(32), 0o640)],
        /k640 is readable by other users \(mode 0640\)/,
        "bad-key-file",
      ],
      ["no --wrap-key", [], /needs --wrap-key FILE/, "usage"],
      ["--wrap-key without a value", ["--wrap-key"], /'--wrap-key'.*needs a value/, "usage"],
      [
        "an extra argument",
        ["--wrap-key", element.file("k32", randomBytes(32)), "extra"],
        /unexpected argument 'extra'/,
        "usage",
      ],
    ];
    await assertUnchanged(element.store, () =>
      Promise.all(
        cases.map(async ([what, args, pattern, code]) => {
          assertOneLineError(await element.run(["export", ...args]), 2, pattern);
          const json = await element.run(["--json", "export", ...args]);
          assertOneLineError(json, 2, pattern);
          assert.equal(errorCode(json), code, what);
        }),
      ),
    );
  });
});
