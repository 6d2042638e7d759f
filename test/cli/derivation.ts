// Shared by keys/certificates/signatures/export tests: an element on a private store whose every
// CLI output is checked for the identifier, openssl as an independent verifier, DER tampering, and
// derivation v1 (docs/spec.md §4) recomputed with node:crypto alone.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createECDH, createHash, createPrivateKey, createPublicKey, hkdfSync } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { type CliOptions, type CliResult, reid } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";
import { tempDir } from "../helpers/temp.js";
import { assertNoSecretIn, storedIdentifier } from "./store.js";

export interface PublicKeys {
  readonly handle: string;
  readonly ed25519: string;
  readonly x25519: string;
  readonly p256: string;
}

/**
 * A store in a private directory. Every `reid` run through it is checked afterwards: no output
 * shows any identifier the store has held (before or after the command, or earlier in the test).
 */
export class Element {
  readonly dir: string;
  readonly store: string;
  /** Every identifier the store has held while this test watched; outputs are checked against all. */
  readonly seen: Uint8Array[] = [];

  constructor(t: TestContext) {
    ({ dir: this.dir, store: this.store } = tempDir(t));
  }

  /** `reid --store STORE ARGS`, whatever its exit code. */
  async run(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
    this.remember();
    const result = await reid(["--store", this.store, ...args], options);
    this.remember();
    assertNoSecretIn(result, this.seen, `reid ${args.join(" ")}`);
    return result;
  }

  async ok(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
    const result = await this.run(args, options);
    assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result;
  }

  async json<T = Record<string, unknown>>(args: readonly string[], options: CliOptions = {}): Promise<T> {
    const result = await this.ok(["--json", ...args], options);
    const lines = result.stdout.split("\n").filter((line) => line !== "");
    assert.equal(lines.length, 1, `reid --json ${args.join(" ")} prints one line`);
    return JSON.parse(result.stdout) as T;
  }

  async keys(): Promise<PublicKeys> {
    return this.json<PublicKeys>(["keys"]);
  }

  /** The identifier the store holds now (null when blank or absent). Never print it. */
  identifier(): Uint8Array | null {
    return existsSync(join(this.store, "area-0")) ? storedIdentifier(this.store) : null;
  }

  /** Writes `content` to DIR/NAME (mode 0600 unless given) and returns the path. */
  file(name: string, content: string | Uint8Array, mode = 0o600): string {
    const path = join(this.dir, name);
    writeFileSync(path, content, { mode });
    return path;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  private remember(): void {
    const identifier = this.identifier();
    if (identifier && !this.seen.some((known) => Buffer.from(known).equals(identifier))) {
      this.seen.push(identifier);
    }
  }
}

export interface OpensslResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

/** Runs the system's openssl (an implementation independent of reid's) with `input` on stdin. */
export async function openssl(args: readonly string[], input?: string | Uint8Array): Promise<OpensslResult> {
  const child = spawn("openssl", args, {
    env: { PATH: process.env.PATH },
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (input !== undefined) child.stdin?.end(input);
  const { code, stdout, stderr } = await finished(child);
  return { code, stdout: stdout.toString("utf8"), stderr: stderr.toString("utf8"), stdoutBytes: stdout };
}

export async function opensslOk(
  args: readonly string[],
  input?: string | Uint8Array,
): Promise<OpensslResult> {
  const result = await openssl(args, input);
  assert.equal(result.code, 0, `openssl ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  return result;
}

/**
 * The raw public key openssl finds in a PEM, as hex: a SubjectPublicKeyInfo (`pkey -pubin -text`),
 * or the subject key of a certificate (`x509`) or a certification request (`req`).
 */
export async function opensslRawKey(pem: string, kind: "pkey" | "x509" | "req" = "pkey"): Promise<string> {
  const args = kind === "pkey" ? ["pkey", "-pubin", "-noout", "-text"] : [kind, "-noout", "-text"];
  const { stdout } = await opensslOk(args, pem);
  return rawKeyFromText(stdout);
}

/** The hex after "pub:" in openssl's -text output of a public key. */
export function rawKeyFromText(text: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.trim() === "pub:");
  assert.ok(start !== -1, `no "pub:" in openssl output:\n${text}`);
  const hex: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!/^\s+[0-9a-f]{2}(:[0-9a-f]{2})*:?$/.test(line)) break;
    hex.push(line.trim().replace(/:/g, ""));
  }
  return hex.join("");
}

// --- PEM and DER -----------------------------------------------------------------------------

export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

export function pemBlocks(text: string): PemBlock[] {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g)];
  return blocks.map((match) => ({
    label: match[1] as string,
    der: Buffer.from((match[2] as string).replace(/\s+/g, ""), "base64"),
  }));
}

export function onePem(text: string, label: string): Buffer {
  const blocks = pemBlocks(text);
  assert.equal(blocks.length, 1, `expected one PEM block in:\n${text}`);
  assert.equal(blocks[0]?.label, label);
  return (blocks[0] as PemBlock).der;
}

export function toPem(label: string, der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly offset: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the last content byte. */
  readonly end: number;
}

/** The DER element (tag, length, value) at `offset`. */
export function tlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset] as number;
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] as number);
    start += count;
  }
  assert.ok(start + length <= der.length, "DER element runs past the end");
  return { tag, offset, start, end: start + length };
}

/** The elements inside a constructed element. */
export function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = tlv(der, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

/**
 * The three parts of a signed DER object (certificate, CSR): {to-be-signed, algorithm, signature}.
 */
export function signedParts(der: Uint8Array): { tbs: Tlv; algorithm: Tlv; signature: Tlv } {
  const parts = children(der, tlv(der, 0));
  assert.equal(parts.length, 3, "a signed object has three parts");
  const [tbs, algorithm, signature] = parts as [Tlv, Tlv, Tlv];
  assert.equal(signature.tag, 0x03, "the signature is a BIT STRING");
  return { tbs, algorithm, signature };
}

/** A copy of `der` with the byte at `offset` changed (to '0', or '1' if it was '0'). */
export function withByteChanged(der: Uint8Array, offset: number): Buffer {
  const copy = Buffer.from(der);
  copy[offset] = copy[offset] === 0x30 ? 0x31 : 0x30;
  return copy;
}

// --- Derivation v1, recomputed -----------------------------------------------------------------

const PKCS8 = {
  ed25519: Buffer.from("302e020100300506032b657004220420", "hex"),
  x25519: Buffer.from("302e020100300506032b656e04220420", "hex"),
};
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/**
 * docs/spec.md §4.1, §4.2 with node:crypto only (hkdfSync = Extract then Expand; OpenSSL's Ed25519, X25519
 * and P-256), so a shared bug in reid's derivation and its own tests cannot hide.
 */
export function independentKeys(identifier: Uint8Array): PublicKeys {
  const okm = (label: string, length: number) =>
    Buffer.from(hkdfSync("sha256", identifier, "reid/v1", label, length));
  const rawPublic = (kind: "ed25519" | "x25519") => {
    const secret = okm(`reid/v1/${kind}`, 32);
    try {
      const key = createPrivateKey({
        key: Buffer.concat([PKCS8[kind], secret]),
        format: "der",
        type: "pkcs8",
      });
      const jwk = createPublicKey(key).export({ format: "jwk" });
      return Buffer.from(String(jwk.x), "base64url");
    } finally {
      secret.fill(0);
    }
  };
  const ed25519 = rawPublic("ed25519");
  const wide = okm("reid/v1/p256", 48);
  const scalar = (BigInt(`0x${wide.toString("hex")}`) % (P256_N - 1n)) + 1n;
  wide.fill(0);
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(Buffer.from(scalar.toString(16).padStart(64, "0"), "hex"));
  return {
    handle: handleOf(ed25519),
    ed25519: ed25519.toString("hex"),
    x25519: rawPublic("x25519").toString("hex"),
    p256: ecdh.getPublicKey("hex", "uncompressed"),
  };
}

/** docs/spec.md §4.2: lowercase hex of the first 16 bytes of SHA-256(Ed25519 public key). */
export function handleOf(ed25519PublicKey: Uint8Array): string {
  return createHash("sha256").update(ed25519PublicKey).digest().subarray(0, 16).toString("hex");
}

/** The one-line failure, and with --json its error code. */
export function errorCode(result: CliResult): string {
  return (JSON.parse(result.stderr) as { error: { code: string } }).error.code;
}
