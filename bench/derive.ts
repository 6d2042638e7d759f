// Derive all keys + a self-signed certificate in-process, against `openssl genpkey` + `openssl req
// -x509` run as processes in the same run, interleaved round by round. Goal: in-process p50 <= 5 ms
// and >= 5x faster than the processes. Also prints where the in-process time goes.
// Usage: node --import tsx bench/derive.ts [--rounds 200]
import { spawnSync } from "node:child_process";
import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { expand, extract } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import * as x509 from "@peculiar/x509";
import { selfSignedCertificate } from "../src/derive/certificate.js";
import { deriveAll, wipe } from "../src/derive/derivation.js";
import type { SigningAlgorithm } from "../src/derive/signature.js";
import { argument, percentile, since } from "./stats.js";

const rounds = Number(argument("rounds", "200"));
const warmup = 20;
const ALGORITHMS: readonly SigningAlgorithm[] = ["ed25519", "p256"];
const dir = mkdtempSync(join(tmpdir(), "reid-bench-derive-"));

const msOf = (seconds: number): number => seconds * 1000;
const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

async function inProcess(algorithm: SigningAlgorithm): Promise<number> {
  const identifier = randomBytes(32);
  const start = process.hrtime.bigint();
  const keys = deriveAll(identifier);
  const pem = await selfSignedCertificate(keys, { algorithm, days: 365, now: new Date() });
  const elapsed = since(start);
  wipe(keys);
  identifier.fill(0);
  if (!pem.startsWith("-----BEGIN CERTIFICATE-----")) throw new Error("no certificate");
  return msOf(elapsed);
}

function openssl(args: readonly string[]): void {
  const run = spawnSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} exited ${run.status}: ${run.stderr}`);
}

function processes(algorithm: SigningAlgorithm): number {
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  const genpkey =
    algorithm === "ed25519"
      ? ["genpkey", "-algorithm", "ed25519", "-out", key]
      : ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key];
  const start = process.hrtime.bigint();
  openssl(genpkey);
  openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    key,
    "-subj",
    "/CN=bench/serialNumber=bench",
    "-days",
    "365",
    "-addext",
    "basicConstraints=critical,CA:false",
    "-addext",
    "keyUsage=critical,digitalSignature",
    "-out",
    cert,
  ]);
  return msOf(since(start));
}

/**
 * Where the in-process time goes: each step of deriveAll, then the certificate's steps redone with
 * the same @peculiar/x509 calls certificate.ts makes (Ed25519), then the certificate as a whole.
 */
async function phases(): Promise<Record<string, number>> {
  const encoder = new TextEncoder();
  const identifier = randomBytes(32);
  const out: Record<string, number> = {};
  const time = async <T>(name: string, step: () => T | Promise<T>): Promise<T> => {
    const start = process.hrtime.bigint();
    const result = await step();
    out[name] = msOf(since(start));
    return result;
  };
  const prk = await time("derive: HKDF (extract + 3 expands)", () => {
    const key = extract(sha256, identifier, encoder.encode("reid/v1"));
    for (const [label, length] of [
      ["ed25519", 32],
      ["x25519", 32],
      ["p256", 48],
    ] as const) {
      expand(sha256, key, encoder.encode(`reid/v1/${label}`), length);
    }
    return key;
  });
  const seed = expand(sha256, prk, encoder.encode("reid/v1/ed25519"), 32);
  await time("derive: Ed25519 public key (noble)", () => ed25519.getPublicKey(seed));
  await time("derive: X25519 public key (noble)", () => x25519.getPublicKey(seed));
  await time("derive: P-256 public key (noble)", () =>
    p256.getPublicKey(p256.utils.randomSecretKey(), false),
  );
  const keys = await time("derive: deriveAll, total", () => deriveAll(identifier));

  const algorithm = { name: "Ed25519" } as const;
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), keys.ed25519.seed]);
  const privateKey = await time("cert: WebCrypto importKey pkcs8 (private)", () =>
    webcrypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]),
  );
  der.fill(0);
  const publicKey = await time("cert: WebCrypto importKey raw (public)", () =>
    webcrypto.subtle.importKey("raw", keys.ed25519.publicKey, algorithm, true, ["verify"]),
  );
  const extensions = await time("cert: x509 extensions (SKI: export + SHA-1)", async () => [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey as never),
  ]);
  await time("cert: createSelfSigned (ASN.1 + sign)", async () =>
    (
      await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: `00${keys.handle}`,
        name: [{ CN: [keys.handle] }, { "2.5.4.5": [keys.handle] }],
        notBefore: new Date(),
        notAfter: new Date(Date.now() + 365 * 86_400_000),
        signingAlgorithm: algorithm,
        keys: { privateKey, publicKey } as never,
        extensions,
      })
    ).toString("pem"),
  );
  await time("cert: the Ed25519 signature alone (WebCrypto)", () =>
    webcrypto.subtle.sign(algorithm, privateKey, new Uint8Array(400)),
  );
  await time("cert: selfSignedCertificate, total", () =>
    selfSignedCertificate(keys, { algorithm: "ed25519", days: 365, now: new Date() }),
  );
  wipe(keys);
  return out;
}

try {
  const ours: Record<string, number[]> = { ed25519: [], p256: [] };
  const theirs: Record<string, number[]> = { ed25519: [], p256: [] };
  const breakdown: Record<string, number[]> = {};
  for (let round = -warmup; round < rounds; round++) {
    for (const algorithm of ALGORITHMS) {
      // Alternate which side goes first, so neither always runs on a warmer cache.
      const first = round % 2 === 0;
      const a = first ? await inProcess(algorithm) : processes(algorithm);
      const b = first ? processes(algorithm) : await inProcess(algorithm);
      if (round < 0) continue;
      ours[algorithm]?.push(first ? a : b);
      theirs[algorithm]?.push(first ? b : a);
    }
    if (round >= 0 && round % 4 === 0) {
      for (const [name, ms] of Object.entries(await phases())) {
        const samples = breakdown[name] ?? [];
        samples.push(ms);
        breakdown[name] = samples;
      }
    }
  }

  for (const algorithm of ALGORITHMS) {
    const inP50 = percentile(ours[algorithm] ?? [], 50);
    const inP99 = percentile(ours[algorithm] ?? [], 99);
    const outP50 = percentile(theirs[algorithm] ?? [], 50);
    const outP99 = percentile(theirs[algorithm] ?? [], 99);
    const speedUp = outP50 / inP50;
    console.log(
      `derive + self-signed cert (in-process, ${algorithm}): p50 ${fmt(inP50)}  p99 ${fmt(inP99)}  (${rounds} rounds)`,
    );
    console.log(
      `openssl genpkey + req -x509 (processes, ${algorithm}): p50 ${fmt(outP50)}  p99 ${fmt(outP99)}`,
    );
    const verdict = inP50 <= 5 && speedUp >= 5 ? "goal met" : "GOAL MISSED";
    console.log(
      `speed-up (${algorithm}): ${speedUp.toFixed(1)}x (goal >= 5x), in-process p50 ${fmt(inP50)} (goal <= 5 ms): ${verdict}`,
    );
  }
  console.log(`where the in-process time goes (ed25519, p50 of each step over ${rounds / 4} samples):`);
  for (const [name, samples] of Object.entries(breakdown)) {
    console.log(`  ${name.padEnd(52)} ${fmt(percentile(samples, 50))}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
