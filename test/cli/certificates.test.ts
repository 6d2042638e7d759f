// `reid cert` and `reid csr`: what openssl makes of them, and that openssl rejects them once altered.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { assertOneLineError } from "../helpers/cli.js";
import {
  children,
  Element,
  errorCode,
  onePem,
  openssl,
  opensslOk,
  type PublicKeys,
  rawKeyFromText,
  signedParts,
  type Tlv,
  toPem,
  withByteChanged,
} from "./derivation.js";
import { assertUnchanged } from "./store.js";

const DAY_MS = 86_400_000;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** openssl's "Nov  1 13:57:20 2126 GMT" as epoch milliseconds. */
function opensslTime(text: string): number {
  const match = /^(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$/.exec(text.trim());
  assert.ok(match, `unexpected openssl time '${text}'`);
  const [, month, day, h, m, s, year] = match;
  return Date.UTC(
    Number(year),
    MONTHS.indexOf(month as string),
    Number(day),
    Number(h),
    Number(m),
    Number(s),
  );
}

/**
 * openssl verifies a certificate against itself as trust anchor. -check_ss_sig makes it check the
 * self-signature too; without it openssl trusts a self-signed anchor's signature unchecked.
 */
function verifySelfSigned(element: Element, name: string, pem: string) {
  const path = element.file(name, pem);
  return openssl(["verify", "-check_ss_sig", "-CAfile", path, path]);
}

/** openssl 3.0's `req -verify` exits 0 even when the signature fails, so read what it says. */
async function verifyRequest(pem: string): Promise<{ ok: boolean; output: string }> {
  const result = await openssl(["req", "-verify", "-noout", "-subject"], pem);
  const output = result.stdout + result.stderr;
  const ok = result.code === 0 && /self-signature verify OK/.test(output) && !/failure/.test(output);
  return { ok, output };
}

async function assertCertificate(
  element: Element,
  pem: string,
  keys: PublicKeys,
  alg: "ed25519" | "p256",
  days: number,
): Promise<void> {
  const { handle } = keys;
  const name = `CN = ${handle}, serialNumber = ${handle}`;
  const verified = await verifySelfSigned(element, `cert-${alg}-${days}.pem`, pem);
  assert.equal(verified.code, 0, `openssl verify: ${verified.stdout}${verified.stderr}`);
  assert.match(verified.stdout, /: OK$/m);

  const text = (await opensslOk(["x509", "-noout", "-text"], pem)).stdout;
  assert.match(text, /Version: 3 \(0x2\)/);
  assert.match(
    text,
    alg === "ed25519" ? /Signature Algorithm: ED25519/ : /Signature Algorithm: ecdsa-with-SHA256/,
  );
  assert.match(text, alg === "ed25519" ? /Public Key Algorithm: ED25519/ : /NIST CURVE: P-256/);
  assert.equal(rawKeyFromText(text), keys[alg], `the certificate carries the element's ${alg} key`);

  const fields = (
    await opensslOk(
      [
        "x509",
        "-noout",
        "-subject",
        "-issuer",
        "-serial",
        "-dates",
        "-ext",
        "basicConstraints,keyUsage,subjectKeyIdentifier",
      ],
      pem,
    )
  ).stdout;
  assert.match(fields, new RegExp(`^subject=${name}$`, "m"), "subject: CN and serialNumber are the handle");
  assert.match(fields, new RegExp(`^issuer=${name}$`, "m"), "self-issued");
  const serial = /^serial=([0-9A-F]+)$/m.exec(fields)?.[1];
  assert.ok(serial, "openssl shows a serial number");
  // As an integer: DER drops the leading zero bytes a handle may start with.
  assert.equal(BigInt(`0x${serial}`), BigInt(`0x${handle}`), "serial number = handle");
  assert.match(fields, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
  assert.match(fields, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
  const ski = /X509v3 Subject Key Identifier: *\n\s+([0-9A-F:]+)\n/.exec(fields)?.[1];
  assert.ok(ski, "a Subject Key Identifier");
  const publicKey = Buffer.from(keys[alg], "hex");
  assert.equal(
    ski.replace(/:/g, "").toLowerCase(),
    createHash("sha1").update(publicKey).digest("hex"),
    "SKI = SHA-1 of the public key (RFC 5280 method 1)",
  );
  const notBefore = opensslTime(/^notBefore=(.+)$/m.exec(fields)?.[1] ?? "");
  const notAfter = opensslTime(/^notAfter=(.+)$/m.exec(fields)?.[1] ?? "");
  assert.equal(notAfter - notBefore, days * DAY_MS, `valid for exactly ${days} days`);
}

describe("cert", () => {
  it("default: a self-signed Ed25519 certificate for a year that openssl verifies", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const keys = await element.keys();
    const { stdout } = await element.ok(["cert"]);
    onePem(stdout, "CERTIFICATE");
    await assertCertificate(element, stdout, keys, "ed25519", 365);

    const json = await element.json(["cert"]);
    assert.deepEqual(Object.keys(json), ["algorithm", "days", "certificate"]);
    assert.equal(json.algorithm, "ed25519");
    assert.equal(json.days, 365);
    await assertCertificate(element, String(json.certificate), keys, "ed25519", 365);
  });

  it("--alg p256 and --days N: ECDSA P-256 over SHA-256, valid for exactly N days", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const keys = await element.keys();
    const cases: [alg: "ed25519" | "p256", days: number][] = [
      ["p256", 365],
      ["p256", 7],
      ["ed25519", 1],
      // Past 2049 the notAfter is a GeneralizedTime.
      ["ed25519", 36_500],
      ["p256", 36_500],
    ];
    await Promise.all(
      cases.map(async ([alg, days]) => {
        const args = ["cert", "--alg", alg, ...(days === 365 ? [] : ["--days", String(days)])];
        const { stdout } = await element.ok(args);
        await assertCertificate(element, stdout, keys, alg, days);
      }),
    );
  });

  it("openssl rejects a certificate whose signature or signed part was altered", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    for (const alg of ["ed25519", "p256"]) {
      const der = onePem((await element.ok(["cert", "--alg", alg])).stdout, "CERTIFICATE");
      const { tbs, signature } = signedParts(der);
      const serial = children(der, tbs)[1] as Tlv;
      assert.equal(serial.tag, 0x02, "the TBS part's second field is the serial number");
      const variants: [what: string, der: Buffer, accepted: boolean][] = [
        // Re-encoding alone changes nothing: the failures below come from the altered byte.
        ["re-encoded unchanged", Buffer.from(der), true],
        ["last signature byte", withByteChanged(der, signature.end - 1), false],
        ["first signature byte", withByteChanged(der, signature.start + 1), false],
        ["serial number (TBS)", withByteChanged(der, serial.end - 1), false],
        ["validity (TBS)", withByteChanged(der, validityOffset(der)), false],
      ];
      for (const [what, bytes, accepted] of variants) {
        const result = await verifySelfSigned(element, "tampered.pem", toPem("CERTIFICATE", bytes));
        const output = result.stdout + result.stderr;
        if (accepted) assert.equal(result.code, 0, `${alg} ${what}: ${output}`);
        else {
          assert.notEqual(result.code, 0, `${alg} ${what}: openssl accepted it`);
          assert.match(output, /certificate signature failure/, `${alg} ${what}`);
        }
      }
    }
  });
});

/** The offset of the last digit of notAfter's seconds, in the TBS part's validity. */
function validityOffset(der: Buffer): number {
  const { tbs } = signedParts(der);
  const validity = children(der, tbs)[4] as Tlv;
  const [, notAfter] = children(der, validity);
  assert.ok(notAfter && (notAfter.tag === 0x17 || notAfter.tag === 0x18), "a time in the validity");
  // "...SSZ": the byte before the Z is a digit; change it to another digit.
  return notAfter.end - 2;
}

describe("csr", () => {
  it("default: an Ed25519 request with the handle as subject that openssl verifies", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const keys = await element.keys();
    const { stdout } = await element.ok(["csr"]);
    onePem(stdout, "CERTIFICATE REQUEST");
    const { ok, output } = await verifyRequest(stdout);
    assert.ok(ok, output);
    assert.match(output, new RegExp(`^subject=CN = ${keys.handle}, serialNumber = ${keys.handle}$`, "m"));
    const text = (await opensslOk(["req", "-noout", "-text"], stdout)).stdout;
    assert.match(text, /Signature Algorithm: ED25519/);
    assert.match(text, /Requested Extensions:\n\s+X509v3 Key Usage: critical\n\s+Digital Signature/);
    assert.equal(rawKeyFromText(text), keys.ed25519, "the request carries the Ed25519 key");

    const json = await element.json(["csr"]);
    assert.deepEqual(Object.keys(json), ["algorithm", "request"]);
    assert.equal(json.algorithm, "ed25519");
    assert.ok((await verifyRequest(String(json.request))).ok);
  });

  it('--subject "CN=x, O=y" and --alg p256 show up in what openssl verifies', async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const cases: [args: string[], subject: string, alg: "ed25519" | "p256"][] = [
      [["--subject", "CN=x, O=y"], "CN = x, O = y", "ed25519"],
      [["--subject", "CN=x, O=y", "--alg", "p256"], "CN = x, O = y", "p256"],
      [["--alg", "p256"], "", "p256"],
      [["--subject", "CN=sensor-7, O=Acme, C=DE"], "CN = sensor-7, O = Acme, C = DE", "ed25519"],
      // Attribute types are matched without case (RFC 4514); serialNumber and escapes work too.
      [["--subject", "cn=x, o=y"], "CN = x, O = y", "ed25519"],
      [["--subject", "serialNumber=12, CN=a\\, b"], 'serialNumber = 12, CN = "a, b"', "ed25519"],
    ];
    const keys = await element.keys();
    const { handle } = keys;
    await Promise.all(
      cases.map(async ([args, subject, alg]) => {
        const { stdout } = await element.ok(["csr", ...args]);
        const { ok, output } = await verifyRequest(stdout);
        assert.ok(ok, output);
        const expected = subject || `CN = ${handle}, serialNumber = ${handle}`;
        assert.match(output, new RegExp(`^subject=${expected}$`, "m"), `csr ${args.join(" ")}`);
        const text = (await opensslOk(["req", "-noout", "-text"], stdout)).stdout;
        assert.match(text, alg === "p256" ? /ecdsa-with-SHA256/ : /Signature Algorithm: ED25519/);
        assert.equal(rawKeyFromText(text), keys[alg], `the request carries the ${alg} key`);
      }),
    );
  });

  it("openssl rejects a request whose signature or subject was altered", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    for (const args of [[], ["--alg", "p256", "--subject", "CN=x, O=y"]]) {
      const der = onePem((await element.ok(["csr", ...args])).stdout, "CERTIFICATE REQUEST");
      const { tbs, signature } = signedParts(der);
      const subject = children(der, tbs)[1] as Tlv;
      const variants: [what: string, der: Buffer, accepted: boolean][] = [
        ["re-encoded unchanged", Buffer.from(der), true],
        ["last signature byte", withByteChanged(der, signature.end - 1), false],
        ["last subject byte", withByteChanged(der, subject.end - 1), false],
      ];
      for (const [what, bytes, accepted] of variants) {
        const { ok, output } = await verifyRequest(toPem("CERTIFICATE REQUEST", bytes));
        assert.equal(ok, accepted, `csr ${args.join(" ")}, ${what}: ${output}`);
        if (!accepted) assert.match(output, /verify failure/);
      }
    }
  });
});

describe("cert and csr: bad input", () => {
  it("bad --days, --alg, --subject and extra arguments exit 2 with one line and change nothing", async (t) => {
    const element = new Element(t);
    await element.ok(["init"]);
    const cases: [args: string[], pattern: RegExp][] = [
      [["cert", "--days", "0"], /bad --days '0'/],
      [["cert", "--days=-1"], /bad --days '-1'/],
      [["cert", "--days", "-1"], /'--days'.*needs a value/],
      [["cert", "--days", "abc"], /bad --days 'abc'/],
      [["cert", "--days", "36501"], /bad --days '36501'/],
      [["cert", "--days", "1.5"], /bad --days '1.5'/],
      [["cert", "--days="], /bad --days ''/],
      [["cert", "--alg", "x25519"], /bad --alg 'x25519'/],
      [["cert", "extra"], /unexpected argument 'extra'/],
      [["csr", "--alg", "P256"], /bad --alg 'P256'/],
      [["csr", "--subject", "garbage"], /bad --subject 'garbage'/],
      [["csr", "--subject", ""], /bad --subject ''/],
      [["csr", "--subject", "CN=x, FOO=y"], /bad --subject 'CN=x, FOO=y'/],
      [["csr", "--subject", "C=DEU"], /bad --subject 'C=DEU': a country is two letters/],
      [["csr", "--subject", "CN="], /bad --subject 'CN='/],
      [["csr", "--subject", "CN=a,,"], /bad --subject 'CN=a,,'/],
      [["csr", "--subject"], /'--subject'.*needs a value/],
      [["csr", "extra"], /unexpected argument 'extra'/],
    ];
    await assertUnchanged(element.store, async () => {
      for (const [i, [args, pattern]] of cases.entries()) {
        // Every third case with --json (one JSON error object, code "usage"), the rest plain.
        const json = i % 3 === 0;
        const result = await element.run(json ? ["--json", ...args] : args);
        assertOneLineError(result, 2, pattern);
        if (json) assert.equal(errorCode(result), "usage");
      }
    });
  });
});
