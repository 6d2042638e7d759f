import assert from "node:assert/strict";

/**
 * Compares secret bytes without ever printing them: a failure names only lengths and the first
 * differing offset, so no identifier reaches test output or logs.
 */
export function assertSameSecret(
  actual: Uint8Array | null,
  expected: Uint8Array | null,
  what = "identifier",
): void {
  if (actual === null || expected === null) {
    assert.ok(actual === expected, `${what}: one is missing`);
    return;
  }
  assert.ok(actual.length === expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.ok(at === -1, `${what}: differs at offset ${at}`);
}

export function assertDifferentSecret(a: Uint8Array | null, b: Uint8Array | null, what = "identifier"): void {
  assert.ok(a && b, `${what}: one is missing`);
  const same = a.length === b.length && a.every((byte, i) => byte === b[i]);
  assert.ok(!same, `${what}: the two are equal`);
}

/** Whether `needle` occurs anywhere in `haystack` (to scan files and output for a secret). */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  return (
    Buffer.from(haystack.buffer, haystack.byteOffset, haystack.length).indexOf(Buffer.from(needle)) !== -1
  );
}

/**
 * Every text form of a PIN or recovery code that would give it away: as is (always first), without
 * a recovery code's dashes, lowercased, hex, base64 and base64url.
 */
export function textForms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  return [
    secret,
    secret.replaceAll("-", ""),
    secret.toLowerCase(),
    bytes.toString("hex"),
    bytes.toString("base64").replace(/=+$/, ""),
    bytes.toString("base64url"),
  ];
}
