// `reid keys` and the lifecycle of everything derived (docs/spec.md §3.8, §4), through the built CLI
// and checked against openssl and an independent HKDF in node:crypto.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { encodeRecord } from "../../src/storage/record.js";
import { assertOneLineError } from "../helpers/cli.js";
import { assertDifferentSecret } from "../helpers/secret.js";
import {
  Element,
  errorCode,
  handleOf,
  independentKeys,
  onePem,
  opensslOk,
  opensslRawKey,
  type PublicKeys,
  pemBlocks,
  toPem,
} from "./derivation.js";
import { assertUnchanged, currentRecord } from "./store.js";

const ALGORITHMS = ["ed25519", "x25519", "p256"] as const;

function assertKeyShapes(keys: PublicKeys): void {
  assert.deepEqual(Object.keys(keys), ["handle", "ed25519", "x25519", "p256"]);
  assert.match(keys.handle, /^[0-9a-f]{32}$/);
  assert.match(keys.ed25519, /^[0-9a-f]{64}$/, "Ed25519: 32 bytes");
  assert.match(keys.x25519, /^[0-9a-f]{64}$/, "X25519: 32 bytes");
  assert.match(keys.p256, /^04[0-9a-f]{128}$/, "P-256: uncompressed SEC1, 65 bytes starting 04");
}

describe("keys", () => {
  it("prints the handle and three public keys; the handle is the one status and the notifications show", async (t) => {
    const element = new Element(t);
    const init = await element.json(["init"]);
    const keys = await element.keys();
    assertKeyShapes(keys);
    assert.equal(
      keys.handle,
      handleOf(Buffer.from(keys.ed25519, "hex")),
      "handle = SHA-256(Ed25519 key)[0:16]",
    );
    assert.equal(init.handle, keys.handle, "the init notification names the same handle");
    assert.equal((await element.json(["status"])).handle, keys.handle, "status names the same handle");

    const human = await element.ok(["keys"]);
    assert.equal(
      human.stdout,
      [
        `handle   ${keys.handle}`,
        `ed25519  ${keys.ed25519}`,
        `x25519   ${keys.x25519}`,
        `p256     ${keys.p256}`,
        "",
      ].join("\n"),
    );
    for (const alg of ALGORITHMS) {
      const one = await element.json(["keys", "--alg", alg]);
      assert.deepEqual(one, { handle: keys.handle, [alg]: keys[alg] }, `keys --alg ${alg}`);
    }

    const reset = await element.json(["reset"]);
    const after = await element.keys();
    assert.equal(reset.handle, after.handle, "the reset notification names the new handle");
    assert.equal((await element.json(["status"])).handle, after.handle);
    assert.equal(after.handle, handleOf(Buffer.from(after.ed25519, "hex")));
  });

  it("the keys are derivation v1 of the stored identifier, recomputed with node:crypto", async (t) => {
    const formats = ["raw", "digits:39", "base32:26", "raw:64"];
    const derive = async (format: string) => {
      const element = new Element(t);
      await element.ok(["init", "--format", format]);
      const identifier = element.identifier();
      assert.ok(identifier, "the store holds an identifier");
      if (format.startsWith("digits")) assert.ok(/^\d{39}$/.test(Buffer.from(identifier).toString("latin1")));
      const keys = await element.keys();
      assert.deepEqual(keys, independentKeys(identifier), `derivation of a ${format} identifier`);
    };
    await Promise.all(formats.map(derive));
  });

  it("the independent derivation is sensitive to every input (it can fail)", () => {
    const identifier = new Uint8Array(32).map((_, i) => i * 7 + 1);
    const keys = independentKeys(identifier);
    const flipped = Uint8Array.from(identifier);
    flipped[31] = (flipped[31] as number) ^ 1;
    const other = independentKeys(flipped);
    for (const field of ["handle", ...ALGORITHMS] as const) assert.notEqual(other[field], keys[field], field);
    // Text formats derive from their ASCII bytes: the digits "123..." are not the bytes 1, 2, 3.
    const digits = Buffer.from("123456789012345678901234567890123456789", "latin1");
    assert.notDeepEqual(independentKeys(digits), independentKeys(digits.map((c) => c - 0x30)));
  });

  it("--pem gives SubjectPublicKeyInfo that openssl reads, with the same raw keys as the hex", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const keys = await element.keys();
    const all = await element.ok(["keys", "--pem"]);
    const blocks = pemBlocks(all.stdout);
    assert.deepEqual(
      blocks.map((block) => block.label),
      ["PUBLIC KEY", "PUBLIC KEY", "PUBLIC KEY"],
    );
    for (const [i, alg] of ALGORITHMS.entries()) {
      const one = await element.ok(["keys", "--pem", "--alg", alg]);
      const der = onePem(one.stdout, "PUBLIC KEY");
      assert.ok(der.equals((blocks[i] as { der: Buffer }).der), `keys --pem lists ${alg} as block ${i}`);
      assert.equal(await opensslRawKey(one.stdout), keys[alg], `openssl reads the ${alg} key`);
      const algorithm = (await opensslOk(["pkey", "-pubin", "-noout", "-text"], one.stdout)).stdout;
      assert.match(
        algorithm,
        { ed25519: /ED25519 Public-Key/, x25519: /X25519 Public-Key/, p256: /prime256v1/ }[alg],
      );
    }
    // With --json the PEM blocks come inside one JSON object.
    const json = await element.json(["keys", "--pem"]);
    assert.equal(json.handle, keys.handle);
    for (const [i, alg] of ALGORITHMS.entries()) {
      assert.ok(onePem(String(json[alg]), "PUBLIC KEY").equals((blocks[i] as { der: Buffer }).der));
    }

    // The comparison has teeth: a PEM whose key bits changed reads as a different key.
    const edDer = Buffer.from((blocks[0] as { der: Buffer }).der);
    edDer[edDer.length - 1] = (edDer[edDer.length - 1] as number) ^ 0x01;
    assert.notEqual(await opensslRawKey(toPem("PUBLIC KEY", edDer)), keys.ed25519);
  });

  it("a record whose handle does not belong to its identifier hands out nothing", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const record = currentRecord(element.store);
    const handle = record.handle as string;
    const wrong = `${handle.slice(0, 31)}${handle.endsWith("0") ? "1" : "0"}`;
    // A well-formed record (checksum and all) for the same identifier with the wrong handle.
    const forged = encodeRecord({ ...record, handle: wrong }, record.epoch + 1);
    writeFileSync(join(element.store, `area-${1 - record.area}`), forged);
    for (const args of [["keys"], ["cert"], ["csr"], ["--json", "keys"]]) {
      const result = await element.run(args);
      assertOneLineError(result, 6, /corrupt/);
      if (args[0] === "--json") assert.equal(errorCode(result), "store-corrupt");
    }
  });

  it("bad input exits 2 with one line and changes nothing", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const cases: [args: string[], pattern: RegExp][] = [
      [["keys", "--alg", "rsa"], /bad --alg 'rsa'/],
      [["keys", "--alg", "ed448"], /bad --alg 'ed448'/],
      [["keys", "--alg"], /'--alg'.*needs a value/],
      [["keys", "extra"], /unexpected argument 'extra'/],
      [["keys", "--frob"], /unknown option '--frob'/],
      [["keys", "--pem=yes"], /'--pem'.*takes no value/],
    ];
    await assertUnchanged(element.store, async () => {
      for (const [args, pattern] of cases) {
        assertOneLineError(await element.run(args), 2, pattern);
        const json = await element.run(["--json", ...args]);
        assertOneLineError(json, 2, pattern);
        assert.equal(errorCode(json), "usage");
      }
    });
  });
});

describe("lifecycle of derived material", () => {
  it("reset changes every key, the certificates' keys and the handle; keys stay put otherwise", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const before = await element.keys();
    const id0 = element.identifier();
    const signing = ["ed25519", "p256"] as const;
    // The raw public keys openssl finds in a certificate and a CSR for each signing algorithm.
    const inCertificates = () =>
      Promise.all(
        signing.flatMap((alg) => [
          element.ok(["cert", "--alg", alg]).then(({ stdout }) => opensslRawKey(stdout, "x509")),
          element.ok(["csr", "--alg", alg]).then(({ stdout }) => opensslRawKey(stdout, "req")),
        ]),
      );
    const certsBefore = await inCertificates();
    assert.deepEqual(certsBefore, [before.ed25519, before.ed25519, before.p256, before.p256]);
    assert.deepEqual(await element.keys(), before, "no request, no change");

    await element.ok(["reset"]);
    const after = await element.keys();
    assertDifferentSecret(element.identifier(), id0);
    for (const field of ["handle", ...ALGORITHMS] as const) {
      assert.notEqual(after[field], before[field], `${field} changes on reset`);
    }
    const certsAfter = await inCertificates();
    assert.deepEqual(certsAfter, [after.ed25519, after.ed25519, after.p256, after.p256]);
    for (const [i, key] of certsAfter.entries()) assert.notEqual(key, certsBefore[i]);
    assert.deepEqual(after, independentKeys(element.identifier() as Uint8Array));
    // Every output above was checked against both identifiers (Element.run).
    assert.equal(element.seen.length, 2);
  });

  it("sealing keeps the identifier, so the keys stay the same (with the key-encryption key)", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const before = await element.keys();
    const identifier = element.identifier() as Uint8Array;
    const kek = element.file("kek", new Uint8Array(32).fill(0x5a));
    await element.ok(["--kek-file", kek, "seal"]);
    assert.equal(element.identifier(), null, "the store no longer holds the identifier in clear");
    assert.deepEqual(await element.json(["--kek-file", kek, "keys"]), before);
    assertOneLineError(await element.run(["keys"]), 6, /sealed/);
    const wrongKek = element.file("kek2", new Uint8Array(32).fill(0xa5));
    assertOneLineError(await element.run(["--kek-file", wrongKek, "keys"]), 6, /wrong key-encryption key/);
    // Element keeps checking every output for the identifier it saw before sealing.
    assert.deepEqual(independentKeys(identifier), before);
  });

  it("after erase, and on a store never initialized, every derivation command exits 3 with one line", async (t) => {
    const element = new Element(t);
    const file = element.file("message", "hello\n");
    const signature = element.file("message.sig", "00".repeat(64));
    const wrapKey = element.file("wrap.key", new Uint8Array(32).fill(7));
    const commands = [
      ["keys"],
      ["keys", "--pem"],
      ["cert"],
      ["cert", "--alg", "p256"],
      ["csr"],
      ["sign", file],
      ["verify", file, signature],
      ["export", "--wrap-key", wrapKey],
    ];
    // Each command once per phase, alternately plain and --json (the other way round in phase 1).
    const assertAllBlank = (phase: 0 | 1) =>
      Promise.all(
        commands.map(async (args, i) => {
          const json = (i + phase) % 2 === 0;
          const result = await element.run(json ? ["--json", ...args] : args);
          assertOneLineError(result, 3, /blank|no identifier/);
          if (json) assert.equal(errorCode(result), "blank");
        }),
      );
    // No store at all is said to be none (exit 6); one never initialized is blank.
    assertOneLineError(await element.run(["keys"]), 6, /no store at .*'reid init' creates it/);
    assert.equal(existsSync(element.store), false, "reading a store that is not there creates it");
    mkdirSync(element.store, { mode: 0o700 });
    await assertUnchanged(element.store, () => assertAllBlank(0));

    await element.ok(["init"]);
    const signed = await element.ok(["sign", file]);
    assert.match(signed.stdout, /^[0-9a-f]{128}\n$/);
    await element.ok(["erase"]);
    assert.equal(element.identifier(), null);
    await assertUnchanged(element.store, () => assertAllBlank(1));
  });
});
