import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { recordOfAreaFile } from "../../src/storage/file/file-area.js";
import { decodeArea, type StoredRecord } from "../../src/storage/record.js";
import { reidOk } from "../helpers/cli.js";
import { containsBytes } from "../helpers/secret.js";

/** Reads the files of a store as the element would: the valid record with the highest epoch. */
export function currentRecord(store: string): StoredRecord & { readonly area: 0 | 1 } {
  let newest: (StoredRecord & { area: 0 | 1 }) | null = null;
  for (const area of [0, 1] as const) {
    const decoded = decodeArea(recordOfAreaFile(new Uint8Array(readFileSync(join(store, `area-${area}`)))));
    if (decoded.kind !== "record") continue;
    if (newest === null || decoded.record.epoch > newest.epoch) newest = { ...decoded.record, area };
  }
  assert.ok(newest, `store ${store} holds no valid record`);
  return newest;
}

/** The identifier bytes the store holds now (null when blank). Never print them. */
export function storedIdentifier(store: string): Uint8Array | null {
  return currentRecord(store).identifier;
}

/** Whether any area file of the store holds `secret` anywhere in its bytes. */
export function storeContains(store: string, secret: Uint8Array): boolean {
  return [0, 1].some((area) => containsBytes(readFileSync(join(store, `area-${area}`)), secret));
}

/**
 * A fingerprint of everything at `path` (names, types, modes, SHA-256 of contents), safe to show in
 * a failed assertion: it names no stored byte. "absent" when nothing is there.
 */
const AUDIT_FILES = /^\.\/audit\.(log|head)(\.tmp)?$/;

export function fingerprint(path: string): string {
  if (!existsSync(path)) return "absent";
  const lines: string[] = [];
  const visit = (at: string, name: string) => {
    // The audit log records refused requests too, by design (test/audit checks what it says).
    if (AUDIT_FILES.test(name)) return;
    const stats = lstatSync(at);
    const mode = (stats.mode & 0o7777).toString(8);
    if (stats.isDirectory()) {
      lines.push(`${name}/ ${mode}`);
      for (const entry of readdirSync(at).sort()) visit(join(at, entry), `${name}/${entry}`);
    } else {
      const hash = createHash("sha256").update(readFileSync(at)).digest("hex");
      lines.push(`${name} ${mode} ${stats.size} ${hash}`);
    }
  };
  visit(path, ".");
  return lines.join("\n");
}

/** Runs `check` and asserts that the store at `path` is exactly as it was before. */
export async function assertUnchanged<T>(path: string, check: () => Promise<T>): Promise<T> {
  const before = fingerprint(path);
  const result = await check();
  assert.equal(fingerprint(path), before, `the store at ${path} changed`);
  return result;
}

/** A store with one identifier: `reid init` (plus any extra arguments). */
export async function initStore(store: string, ...args: string[]): Promise<void> {
  await reidOk(["--store", store, "init", ...args]);
}

/** Runs a request with --json and returns its parsed notification. */
export async function request(
  store: string,
  type: "init" | "reset" | "erase",
  ...args: string[]
): Promise<Record<string, unknown>> {
  const result = await reidOk(["--store", store, "--json", type, ...args]);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

export async function status(store: string): Promise<Record<string, unknown>> {
  const result = await reidOk(["--store", store, "--json", "status"]);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** The ways an identifier (or a 12+ byte piece of it) could show up in output. */
export function renderings(secret: Uint8Array): Buffer[] {
  const half = Math.floor(secret.length / 2);
  const parts = [secret, secret.subarray(0, half), secret.subarray(half)].filter((part) => part.length >= 12);
  return parts.flatMap((part) => {
    const bytes = Buffer.from(part);
    return [
      bytes,
      Buffer.from(bytes.toString("hex")),
      Buffer.from(bytes.toString("hex").toUpperCase()),
      Buffer.from(bytes.toString("base64").replace(/=+$/, "")),
      Buffer.from(bytes.toString("base64url")),
      Buffer.from(Array.from(bytes).join(",")),
    ];
  });
}

/** Fails (naming only which command and stream) if any rendering of any secret is in the output. */
export function assertNoSecretIn(
  output: { readonly stdoutBytes: Uint8Array; readonly stderr: string },
  secrets: readonly Uint8Array[],
  what: string,
): void {
  const streams = { stdout: output.stdoutBytes, stderr: Buffer.from(output.stderr) };
  for (const [name, bytes] of Object.entries(streams)) {
    for (const [n, secret] of secrets.entries()) {
      const leaked = renderings(secret).some((form) => containsBytes(bytes, form));
      assert.ok(!leaked, `${what}: ${name} shows identifier #${n} (or a piece of it)`);
    }
  }
}
