// Every CLI command prints the same and exits the same whether a daemon serves the store or the
// command opens it directly (issue 4). One table of commands runs, step by step, against two
// stores that go through the same sequence: store A served by a real `reid serve`, store B with no
// daemon. Outputs are compared after normalizing what must differ between two elements (store
// paths, handles, keys, signatures, times, schedule ids); generations and everything else must
// match exactly. Certificates and requests are compared by their parsed fields.
import "reflect-metadata";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as x509 from "@peculiar/x509";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

/** The daemon's store must be reached through its socket: direct access would fail after 0.2 s. */
const ENV = { REID_LOCK_TIMEOUT: "0.2" };
const HANDLE = /^[0-9a-f]{32}$/;

interface Side {
  readonly name: "daemon" | "direct";
  readonly store: string;
  /** Where this side's files (message, signatures, wrap key) live. */
  readonly work: string;
  /** Strings that differ between the sides by nature, and what they are replaced with. */
  readonly replace: [string, string][];
}

interface Step {
  readonly args: (side: Side) => string[];
  readonly code: number;
  /** Compares what stdout says beyond the normalized text (certificates, requests). */
  readonly parsed?: (stdout: string, side: Side) => Promise<unknown>;
  /** p256 signatures (DER) differ in length from key to key. */
  readonly anyHexLength?: boolean;
  /** Runs after both sides ran it (to learn a schedule id, say). */
  readonly after?: (result: CliResult, side: Side) => void;
}

function side(name: Side["name"], root: string): Side {
  const store = join(root, name === "daemon" ? "a" : "b");
  const work = join(root, `work-${name}`);
  mkdirSync(work, { mode: 0o700 });
  // The same message on both sides; the wrap key too (the wrapped identifiers still differ).
  writeFileSync(join(work, "message.txt"), "the same message on both sides\n");
  writeFileSync(join(work, "tampered.txt"), "the same message on both sides!\n");
  writeFileSync(join(work, "kek.bin"), Buffer.alloc(32, 7), { mode: 0o600 });
  writeFileSync(join(work, "short.bin"), Buffer.alloc(16, 7), { mode: 0o600 });
  return {
    name,
    store,
    work,
    replace: [
      [work, "<WORK>"],
      [store, "<STORE>"],
    ],
  };
}

/** The text with everything that differs between two elements by nature replaced by a marker. */
function normalizeText(text: string, side: Side, anyHexLength: boolean): string {
  let out = text;
  for (const [from, to] of [...side.replace].sort((a, b) => b[0].length - a[0].length)) {
    out = out.split(from).join(to);
  }
  out = out.replace(
    /-----BEGIN ([A-Z ]+)-----\n([\s\S]*?)-----END \1-----/g,
    (_, type: string, body: string) => `<PEM ${type}: ${body.split("\n").length} lines>`,
  );
  out = out.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, "<TIME>");
  out = out.replace(/\b[0-9a-f]{40,}\b/g, (hex) => (anyHexLength ? "<HEX>" : `<HEX${hex.length}>`));
  return out.replace(/\b[0-9a-f]{32}\b/g, "<HANDLE>");
}

/** One JSON object (--json output, JSON errors) is normalized value by value, else the text. */
function normalize(output: string, side: Side, anyHexLength = false): string {
  const trimmed = output.trim();
  if (trimmed.startsWith("{") && !trimmed.includes("\n")) {
    const parsed = JSON.parse(trimmed) as unknown;
    const walk = (value: unknown): unknown => {
      if (typeof value === "string") return normalizeText(value, side, anyHexLength);
      if (Array.isArray(value)) return value.map(walk);
      if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, walk(inner)]));
      }
      return value;
    };
    return `${JSON.stringify(walk(parsed))}\n`;
  }
  return normalizeText(output, side, anyHexLength);
}

/** The handle each side's element has now (certificates are checked against it). */
async function handleOf(side: Side): Promise<string> {
  const result = await reid(["--store", side.store, "--json", "status"], { env: ENV });
  assert.equal(result.code, 0, result.stderr);
  const { handle } = JSON.parse(result.stdout) as { handle: string };
  assert.match(handle, HANDLE);
  return handle;
}

/** The fields of a certificate that must not depend on which way the command went. */
async function certificateFields(pem: string, side: Side): Promise<unknown> {
  const handle = await handleOf(side);
  const openssl = new X509Certificate(pem);
  assert.equal(openssl.subject, `CN=${handle}\nserialNumber=${handle}`, `${side.name}: subject`);
  // The serial is the handle's number: OpenSSL shows it without the leading zero bytes a handle can have.
  assert.equal(BigInt(`0x${openssl.serialNumber}`), BigInt(`0x${handle}`), `${side.name}: serial`);
  assert.ok(openssl.verify(openssl.publicKey), `${side.name}: the self-signature does not verify`);
  const parsed = new x509.X509Certificate(pem);
  assert.ok(await parsed.verify({ signatureOnly: true }));
  return {
    subject: parsed.subject.split(handle).join("<HANDLE>"),
    issuer: parsed.issuer.split(handle).join("<HANDLE>"),
    // Whole seconds, by construction: [now, now + days].
    validSeconds: (parsed.notAfter.getTime() - parsed.notBefore.getTime()) / 1000,
    signature: parsed.signatureAlgorithm,
    key: openssl.publicKey.asymmetricKeyType,
    curve: openssl.publicKey.asymmetricKeyDetails?.namedCurve ?? null,
    ca: openssl.ca,
    extensions: parsed.extensions.map((extension) => `${extension.type}${extension.critical ? "!" : ""}`),
    pemLines: pem.trimEnd().split("\n").length,
  };
}

async function requestFields(pem: string, side: Side): Promise<unknown> {
  const handle = await handleOf(side);
  const csr = new x509.Pkcs10CertificateRequest(pem);
  assert.ok(await csr.verify(), `${side.name}: the request's signature does not verify`);
  return {
    subject: csr.subject.split(handle).join("<HANDLE>"),
    signature: csr.signatureAlgorithm,
    key: csr.publicKey.algorithm,
    extensions: csr.extensions.map((extension) => `${extension.type}${extension.critical ? "!" : ""}`),
  };
}

const certificate = (stdout: string, side: Side) => certificateFields(stdout, side);
const certificateJson = (stdout: string, side: Side) =>
  certificateFields((JSON.parse(stdout) as { certificate: string }).certificate, side);
const request = (stdout: string, side: Side) => requestFields(stdout, side);
const requestJson = (stdout: string, side: Side) =>
  requestFields((JSON.parse(stdout) as { request: string }).request, side);

/** `args` as given, the same on both sides. */
const same =
  (...args: string[]) =>
  () =>
    args;
const json = (...args: string[]) => same("--json", ...args);
const inWork =
  (build: (file: (name: string) => string) => string[]) =>
  (side: Side): string[] =>
    build((name) => join(side.work, name));

const FUTURE = "2099-06-01T12:00:00Z";
/** Each side's scheduled request id, learnt from its own `reset --at`. */
const scheduleIds = new Map<string, string>();
const learnScheduleId = (result: CliResult, side: Side) => {
  const { scheduled } = JSON.parse(result.stdout) as { scheduled: { id: string } };
  assert.match(scheduled.id, /^[0-9a-f]{8}$/);
  scheduleIds.set(side.name, scheduled.id);
  side.replace.push([scheduled.id, "<SCHEDULE-ID>"]);
};

/** The table: each step runs on both stores; both follow the same sequence of states. */
const STEPS: Step[] = [
  // A blank element.
  { args: same("status"), code: 0 },
  { args: json("status"), code: 0 },
  { args: same("keys"), code: 3 },
  { args: json("cert"), code: 3 },
  { args: same("erase"), code: 3 },
  { args: json("erase"), code: 3 },
  // init, init again.
  { args: same("init"), code: 0 },
  { args: json("init"), code: 3 },
  { args: same("init"), code: 3 },
  // reset, with formats.
  { args: same("reset"), code: 0 },
  { args: json("reset"), code: 0 },
  { args: same("reset", "--format", "digits:40"), code: 0 },
  { args: json("reset", "--format", "digits:40"), code: 0 },
  { args: same("reset", "--format", "hex:32"), code: 2 },
  { args: json("reset", "--format", "hex:32"), code: 2 },
  { args: same("reset", "--format", "raw:8"), code: 2 },
  { args: json("init", "--format", "digits"), code: 3 },
  { args: same("status"), code: 0 },
  { args: json("status"), code: 0 },
  // Keys.
  { args: same("keys"), code: 0 },
  { args: json("keys"), code: 0 },
  { args: same("keys", "--pem"), code: 0 },
  { args: json("keys", "--pem"), code: 0 },
  { args: same("keys", "--alg", "x25519"), code: 0 },
  { args: same("keys", "--alg", "rsa"), code: 2 },
  { args: json("keys", "--alg", "rsa"), code: 2 },
  // Certificates and requests: compared by their fields.
  { args: same("cert"), code: 0, parsed: certificate },
  { args: json("cert", "--days", "30"), code: 0, parsed: certificateJson },
  { args: same("cert", "--alg", "p256", "--days", "7"), code: 0, parsed: certificate },
  { args: same("cert", "--alg", "rsa"), code: 2 },
  { args: json("cert", "--days", "0"), code: 2 },
  { args: same("csr"), code: 0, parsed: request },
  { args: json("csr", "--alg", "p256", "--subject", "CN=sensor-7, O=Acme"), code: 0, parsed: requestJson },
  { args: same("csr", "--subject", "FOO=1"), code: 2 },
  // Signatures: good ones verify, a tampered message does not (exit 4).
  { args: inWork((f) => ["sign", f("message.txt"), "--out", f("message.sig")]), code: 0 },
  { args: inWork((f) => ["--json", "sign", f("message.txt")]), code: 0 },
  { args: inWork((f) => ["sign", f("message.txt"), "--alg", "p256"]), code: 0, anyHexLength: true },
  { args: inWork((f) => ["verify", f("message.txt"), f("message.sig")]), code: 0 },
  { args: inWork((f) => ["--json", "verify", f("message.txt"), f("message.sig")]), code: 0 },
  { args: inWork((f) => ["verify", f("tampered.txt"), f("message.sig")]), code: 4 },
  { args: inWork((f) => ["--json", "verify", f("tampered.txt"), f("message.sig")]), code: 4 },
  { args: inWork((f) => ["verify", f("message.txt"), f("message.sig"), "--alg", "p256"]), code: 4 },
  { args: inWork((f) => ["sign", f("missing.txt")]), code: 2 },
  // Wrapped export.
  { args: inWork((f) => ["export", "--wrap-key", f("kek.bin")]), code: 0 },
  { args: inWork((f) => ["--json", "export", "--wrap-key", f("kek.bin")]), code: 0 },
  { args: inWork((f) => ["export", "--wrap-key", f("short.bin")]), code: 2 },
  { args: inWork((f) => ["--json", "export", "--wrap-key", f("message.txt")]), code: 2 },
  { args: same("export"), code: 2 },
  // Single-type mode: every request becomes a reset.
  { args: same("config"), code: 0 },
  { args: same("config", "single-type", "on"), code: 0 },
  { args: json("config"), code: 0 },
  { args: same("init"), code: 0 },
  { args: json("erase"), code: 0 },
  { args: json("config", "single-type", "off"), code: 0 },
  { args: same("config", "single-type", "maybe"), code: 2 },
  // Scheduled requests: listed, cancelled (each side's own id).
  { args: same("schedule", "list"), code: 0 },
  { args: json("schedule", "list"), code: 0 },
  { args: json("reset", "--at", FUTURE), code: 0, after: learnScheduleId },
  { args: same("schedule", "list"), code: 0 },
  { args: json("schedule", "list"), code: 0 },
  { args: same("status"), code: 0 },
  { args: same("reset", "--at", "2001-01-01T00:00Z"), code: 2 },
  { args: same("schedule", "cancel", "00000000"), code: 3 },
  { args: (side) => ["schedule", "cancel", scheduleIds.get(side.name) ?? "missing"], code: 0 },
  { args: json("schedule", "list"), code: 0 },
  // erase, erase again.
  { args: same("erase"), code: 0 },
  { args: json("erase"), code: 3 },
  { args: same("erase"), code: 3 },
  { args: same("keys"), code: 3 },
  // Factory mode and the mode switch (each side its own simulated chip).
  { args: same("mode", "factory"), code: 3 },
  { args: json("init", "--factory", "puf-sim"), code: 0 },
  { args: same("status"), code: 0 },
  { args: json("status"), code: 0 },
  { args: same("reset"), code: 3 },
  { args: json("erase"), code: 3 },
  { args: same("mode", "random"), code: 0 },
  { args: json("mode", "random"), code: 3 },
  { args: json("mode", "factory"), code: 0 },
  { args: same("mode", "sideways"), code: 2 },
  { args: json("init", "--factory", "silicon"), code: 2 },
  { args: json("mode", "random"), code: 0 },
  { args: same("erase"), code: 0 },
  // The audit log of all of the above.
  { args: same("log"), code: 0 },
  { args: json("log"), code: 0 },
  { args: same("log", "--verify"), code: 0 },
  { args: json("log", "--verify"), code: 0 },
  { args: json("status"), code: 0 },
  // Usage errors caught before the element is asked.
  { args: same("status", "--bogus"), code: 2 },
  { args: same("frobnicate"), code: 2 },
];

describe("the same output with and without a daemon", () => {
  it("every command of the table: same exit code, same stdout and stderr (normalized)", async (t) => {
    const { dir } = tempDir(t);
    const daemonSide = side("daemon", dir);
    const directSide = side("direct", dir);
    // The daemon creates its store directory (0700); the direct store starts the same way.
    await serve(t, daemonSide.store);
    mkdirSync(directSide.store, { mode: 0o700 });

    for (const [index, step] of STEPS.entries()) {
      const sides = [daemonSide, directSide] as const;
      const results = await Promise.all(
        sides.map((s) => reid(["--store", s.store, ...step.args(s)], { env: ENV })),
      );
      const [a, b] = results as [CliResult, CliResult];
      const what = `step ${index + 1}: reid ${step.args(daemonSide).join(" ")}`;
      for (const [s, result] of [
        [daemonSide, a],
        [directSide, b],
      ] as const) {
        if (step.code === 0) {
          assert.equal(result.code, 0, `${what} (${s.name}) exited ${result.code}: ${result.stderr}`);
          assert.equal(result.stderr, "", `${what} (${s.name}) wrote to stderr`);
        } else {
          assertOneLineError(result, step.code);
        }
        step.after?.(result, s);
      }
      assert.equal(
        normalize(a.stdout, daemonSide, step.anyHexLength),
        normalize(b.stdout, directSide, step.anyHexLength),
        `${what}: stdout differs`,
      );
      assert.equal(
        normalize(a.stderr, daemonSide),
        normalize(b.stderr, directSide),
        `${what}: stderr differs`,
      );
      if (step.parsed) {
        assert.deepEqual(
          await step.parsed(a.stdout, daemonSide),
          await step.parsed(b.stdout, directSide),
          `${what}: the parsed output differs`,
        );
      }
    }

    // Both stores went through the same states; the direct one was never served.
    const [statusA, statusB] = await Promise.all(
      [daemonSide, directSide].map(async (s) => {
        const result = await reid(["--store", s.store, "--json", "status"], { env: ENV });
        return JSON.parse(result.stdout) as { state: string; generation: number };
      }),
    );
    assert.deepEqual([statusA?.state, statusA?.generation], ["blank", 11]);
    assert.deepEqual(statusB, { ...statusA, store: directSide.store });
    assert.equal(readFileSync(join(daemonSide.work, "message.sig")).length, 64);
    assert.equal(readFileSync(join(directSide.work, "message.sig")).length, 64);
  });
});
