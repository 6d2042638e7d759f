// `reid sign` and `reid verify`: signatures openssl accepts, and that both openssl and reid reject
// once the file, the signature or the element's identifier changed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { assertOneLineError, type CliResult } from "../helpers/cli.js";
import { Element, errorCode, openssl, tlv } from "./derivation.js";
import { assertUnchanged } from "./store.js";

type Alg = "ed25519" | "p256";

/** openssl checks a raw signature over FILE with the public key in PEM (SHA-256 for P-256). */
function opensslVerify(alg: Alg, pemPath: string, file: string, signature: string) {
  const digest = alg === "p256" ? ["-digest", "sha256"] : [];
  return openssl([
    "pkeyutl",
    "-verify",
    "-pubin",
    "-inkey",
    pemPath,
    "-rawin",
    ...digest,
    "-in",
    file,
    "-sigfile",
    signature,
  ]);
}

async function assertOpensslAccepts(alg: Alg, pemPath: string, file: string, signature: string) {
  const result = await opensslVerify(alg, pemPath, file, signature);
  assert.equal(result.code, 0, `openssl rejected a good ${alg} signature: ${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /Signature Verified Successfully/);
}

async function assertOpensslRejects(
  alg: Alg,
  pemPath: string,
  file: string,
  signature: string,
  what: string,
) {
  const result = await opensslVerify(alg, pemPath, file, signature);
  assert.notEqual(result.code, 0, `openssl accepted ${what} (${alg})`);
  assert.doesNotMatch(result.stdout, /Verified Successfully/);
}

function assertBadSignature(result: CliResult, what: string): void {
  assertOneLineError(result, 4, /does not verify/);
  if (result.stderr.startsWith("{")) assert.equal(errorCode(result), "bad-signature", what);
}

/** An element with a message file and each signing key's public PEM on disk. */
async function setUp(element: Element) {
  await element.ok(["init"]);
  const message = element.file("message.bin", randomBytes(1000));
  const [ed25519, p256, keys] = await Promise.all([
    element.ok(["keys", "--pem", "--alg", "ed25519"]),
    element.ok(["keys", "--pem", "--alg", "p256"]),
    element.keys(),
  ]);
  const pem = {
    ed25519: element.file("ed25519.pem", ed25519.stdout),
    p256: element.file("p256.pem", p256.stdout),
  };
  return { message, pem, handle: keys.handle };
}

describe("sign and verify", () => {
  it("Ed25519 (default): --out writes 64 raw bytes, stdout gets their hex, openssl and reid verify both", async (t) => {
    const element = new Element(t);
    const { message, pem, handle } = await setUp(element);
    const out = await element.ok(["sign", message, "--out", element.path("ed.sig")]);
    assert.equal(out.stdout, "", "with --out nothing goes to stdout");
    const raw = readFileSync(element.path("ed.sig"));
    assert.equal(raw.length, 64);
    const [printed, json] = await Promise.all([
      element.ok(["sign", message]),
      element.json(["sign", message]),
    ]);
    assert.equal(printed.stdout, `${raw.toString("hex")}\n`, "Ed25519 is deterministic: the same signature");
    assert.deepEqual(json, { algorithm: "ed25519", handle, signature: raw.toString("hex") });

    await assertOpensslAccepts("ed25519", pem.ed25519, message, element.path("ed.sig"));
    const hexFile = element.file("ed.hex", printed.stdout);
    const [verified, verifiedHex, verifiedJson] = await Promise.all([
      element.ok(["verify", message, element.path("ed.sig")]),
      // An explicit --alg ed25519 agrees with the form (64 bytes).
      element.ok(["verify", message, hexFile, "--alg", "ed25519"]),
      element.json(["verify", message, hexFile]),
    ]);
    for (const { stdout } of [verified, verifiedHex]) {
      assert.match(stdout, new RegExp(`^signature verifies: .*, handle ${handle}, ed25519\\n$`));
    }
    assert.deepEqual(verifiedJson, { valid: true, algorithm: "ed25519", handle });
  });

  it("P-256 (--alg p256): a DER ECDSA signature over SHA-256 that openssl and reid verify", async (t) => {
    const element = new Element(t);
    const { message, pem, handle } = await setUp(element);
    const sigPath = element.path("p256.sig");
    await element.ok(["sign", message, "--alg", "p256", "--out", sigPath]);
    const raw = readFileSync(sigPath);
    const sequence = tlv(raw, 0);
    assert.equal(sequence.tag, 0x30, "DER: SEQUENCE { r, s }");
    assert.equal(sequence.end, raw.length, "nothing after the DER signature");

    await assertOpensslAccepts("p256", pem.p256, message, sigPath);
    // The other way openssl checks ECDSA: hash and verify in one (dgst).
    const dgst = await openssl(["dgst", "-sha256", "-verify", pem.p256, "-signature", sigPath, message]);
    assert.equal(dgst.code, 0, dgst.stdout + dgst.stderr);
    assert.match(dgst.stdout, /Verified OK/);

    const [printed, json] = await Promise.all([
      element.ok(["sign", message, "--alg", "p256"]),
      element.json(["sign", message, "--alg", "p256"]),
    ]);
    assert.match(printed.stdout, /^30[0-9a-f]+\n$/);
    const hexFile = element.file("p256.hex", printed.stdout);
    assert.equal(json.algorithm, "p256");
    assert.equal(json.handle, handle);
    const jsonFile = element.file("p256.json-hex", String(json.signature));
    const signatures = [sigPath, hexFile, jsonFile];
    for (const [i, signature] of signatures.entries()) {
      await assertOpensslAccepts(
        "p256",
        pem.p256,
        message,
        element.file(`p256-${i}.der`, hexOrRaw(signature)),
      );
    }
    const verified = await Promise.all(
      signatures.map((signature) => element.json(["verify", message, signature, "--alg", "p256"])),
    );
    for (const each of verified) assert.deepEqual(each, { valid: true, algorithm: "p256", handle });
    // Without --alg the DER form says P-256; named Ed25519, it does not verify.
    assert.deepEqual(await element.json(["verify", message, sigPath]), {
      valid: true,
      algorithm: "p256",
      handle,
    });
    assert.equal(
      (await element.ok(["verify", message, hexFile])).stdout,
      `signature verifies: ${message}, handle ${handle}, p256\n`,
    );
    assertBadSignature(
      await element.run(["verify", message, sigPath, "--alg", "ed25519"]),
      "p256 as ed25519",
    );
  });

  it("a changed file or signature is rejected by openssl and by reid verify (exit 4, bad-signature)", async (t) => {
    const element = new Element(t);
    const { message, pem } = await setUp(element);
    const bytes = readFileSync(message);
    const changedMessage = Buffer.from(bytes);
    changedMessage[500] = (changedMessage[500] as number) ^ 0x01;
    const otherFile = element.file("changed.bin", changedMessage);
    const longerFile = element.file("longer.bin", Buffer.concat([bytes, Buffer.from("\n")]));
    for (const alg of ["ed25519", "p256"] as const) {
      const sigPath = element.path(`${alg}.sig`);
      await element.ok(["sign", message, "--alg", alg, "--out", sigPath]);
      const good = readFileSync(sigPath);
      const changed = (at: number) => {
        const copy = Buffer.from(good);
        copy[at] = (copy[at] as number) ^ 0x01;
        return copy;
      };
      await assertOpensslAccepts(alg, pem[alg], message, sigPath);
      const cases: [what: string, file: string, signature: string][] = [
        ["a changed byte in the file", otherFile, sigPath],
        ["a byte appended to the file", longerFile, sigPath],
        ["a changed last signature byte", message, element.file(`${alg}-last.sig`, changed(good.length - 1))],
        ["a changed signature byte at 10", message, element.file(`${alg}-10.sig`, changed(10))],
        [
          "a changed signature, as hex",
          message,
          element.file(`${alg}-hex.sig`, `${changed(20).toString("hex")}\n`),
        ],
        [
          "a truncated signature",
          message,
          element.file(`${alg}-short.sig`, good.subarray(0, good.length - 1)),
        ],
      ];
      for (const [i, [what, file, signature]] of cases.entries()) {
        await assertOpensslRejects(
          alg,
          pem[alg],
          file,
          element.file(`probe-${i}.der`, hexOrRaw(signature)),
          what,
        );
      }
      // reid verify on each, alternately plain and --json.
      await Promise.all(
        cases.map(async ([what, file, signature], i) => {
          const json = i % 2 === 0 ? ["--json"] : [];
          assertBadSignature(await element.run([...json, "verify", file, signature, "--alg", alg]), what);
        }),
      );
    }
  });

  it("a signature made before reset does not verify after it", async (t) => {
    const element = new Element(t);
    const { message, pem } = await setUp(element);
    const both = ["ed25519", "p256"] as const;
    await Promise.all(
      both.map(async (alg) => {
        await element.ok(["sign", message, "--alg", alg, "--out", element.path(`${alg}.sig`)]);
        await element.ok(["verify", message, element.path(`${alg}.sig`), "--alg", alg]);
      }),
    );
    await element.ok(["reset"]);
    const afterReset = async (alg: Alg) => {
      const sigPath = element.path(`${alg}.sig`);
      const [plain, json, newKey] = await Promise.all([
        element.run(["verify", message, sigPath, "--alg", alg]),
        element.run(["--json", "verify", message, sigPath, "--alg", alg]),
        element.ok(["keys", "--pem", "--alg", alg]),
        // And the new key signs afresh.
        element.ok(["sign", message, "--alg", alg, "--out", element.path(`${alg}-new.sig`)]),
      ]);
      assertBadSignature(plain, alg);
      assertBadSignature(json, alg);
      const newPem = element.file(`${alg}-new.pem`, newKey.stdout);
      await assertOpensslRejects(alg, newPem, message, sigPath, "an old signature under the new key");
      // The signature itself is intact: the old key still accepts it.
      await assertOpensslAccepts(alg, pem[alg], message, sigPath);
      await assertOpensslAccepts(alg, newPem, message, element.path(`${alg}-new.sig`));
    };
    await Promise.all(both.map(afterReset));
  });

  it("missing, unreadable or extra arguments and bad --alg exit 2 with one line and change nothing", async (t) => {
    const element = new Element(t);
    const { message } = await setUp(element);
    const signature = element.path("good.sig");
    await element.ok(["sign", message, "--out", signature]);
    const directory = element.path("a-directory");
    mkdirSync(directory);
    const locked = element.file("locked.bin", "secret plans", 0o000);
    const missing = element.path("missing.bin");
    // A named pipe no one writes to: reading it would block for ever, so it must be refused.
    const pipe = element.path("a-pipe");
    assert.equal(spawnSync("mkfifo", ["-m", "600", pipe]).status, 0, "mkfifo failed");
    const cases: [args: string[], pattern: RegExp][] = [
      [["sign", pipe], /file .*a-pipe is not a regular file/],
      [["sign"], /'reid sign' is missing an argument/],
      [["sign", missing], /cannot read file .*missing\.bin: no such file or directory/],
      [["sign", directory], /file .*a-directory is not a regular file/],
      [["sign", message, "extra"], /unexpected argument 'extra'/],
      [["sign", message, "--alg", "x25519"], /bad --alg 'x25519'/],
      [["sign", message, "--alg"], /'--alg'.*needs a value/],
      [["sign", message, "--out"], /'--out'.*needs a value/],
      [["sign", message, "--out", element.path("no-such-dir/x.sig")], /cannot write .*x\.sig: no such file/],
      [["sign", message, "--out", directory], /cannot write .*a-directory: is a directory/],
      [["verify"], /'reid verify' is missing an argument/],
      [["verify", message], /'reid verify' is missing an argument/],
      [["verify", missing, signature], /cannot read file .*missing\.bin/],
      [["verify", message, missing], /cannot read signature file .*missing\.bin/],
      [["verify", directory, signature], /file .*a-directory is not a regular file/],
      [["verify", message, directory], /signature file .*a-directory is not a regular file/],
      [["verify", message, signature, "extra"], /unexpected argument 'extra'/],
      [["verify", message, signature, "--alg", "rsa"], /bad --alg 'rsa'/],
      [["verify", message, signature, "--out", "x"], /unknown option '--out'/],
    ];
    await assertUnchanged(element.store, async () => {
      for (const [i, [args, pattern]] of cases.entries()) {
        const json = i % 3 === 0;
        const result = await element.run(json ? ["--json", ...args] : args);
        assertOneLineError(result, 2, pattern);
        if (json) assert.equal(errorCode(result), "usage");
      }
      // Unreadable: root reads any file, so as root run reid as another user, who may pass through
      // the directory and read the public copies but not the mode-000 file.
      const asOther = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      chmodSync(element.dir, 0o711);
      const publicMessage = element.file("public.bin", readFileSync(message), 0o644);
      const publicSignature = element.file("public.sig", readFileSync(signature), 0o644);
      const unreadable: string[][] = [
        ["sign", locked],
        ["verify", locked, publicSignature],
        ["verify", publicMessage, locked],
      ];
      for (const args of unreadable) {
        assertOneLineError(
          await element.run(args, asOther),
          2,
          /cannot read .*locked\.bin: permission denied/,
        );
      }
    });
    assert.equal(existsSync(element.path("no-such-dir")), false);
  });
});

/** The bytes of a signature file as reid reads it: hex text, or raw bytes. */
function hexOrRaw(path: string): Buffer {
  const content = readFileSync(path);
  const text = content.toString("latin1").trim();
  return /^(?:[0-9a-f]{2})+$/i.test(text) ? Buffer.from(text, "hex") : content;
}
