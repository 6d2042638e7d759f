// The bindings file: sealed under a key derived from the identifier, 0600, replaced whole; an edit
// or another identifier's key is refused, a file of an earlier identifier reads as no bindings.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BINDINGS_FILE, BindingsFile, wipeBindings } from "../../src/binding/bindings-file.js";
import { StorageError } from "../../src/errors.js";
import { tempDir } from "../helpers/temp.js";

const user = {
  handle: "ab".repeat(16),
  ed25519: "cd".repeat(32),
  x25519: "ef".repeat(32),
  bound: "2026-01-01T00:00:00.000Z",
  counter: 4,
};
const corrupt = (error: unknown) => error instanceof StorageError && error.code === "bindings-corrupt";

test("written sealed (no binding readable), 0600, read back whole", (t) => {
  const { dir } = tempDir(t);
  const key = randomBytes(32);
  const file = new BindingsFile(dir, "11".repeat(16), key);
  assert.deepEqual(file.read(), { users: [], devices: [] });
  file.write({ users: [user], devices: [] });
  const path = join(dir, BINDINGS_FILE);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const text = readFileSync(path, "utf8");
  for (const secretish of [user.handle, user.ed25519, user.x25519, "counter"]) {
    assert.ok(!text.includes(secretish), `the file shows ${secretish.slice(0, 8)} in clear`);
  }
  assert.deepEqual(new BindingsFile(dir, "11".repeat(16), key).read(), { users: [user], devices: [] });
});

test("an edited file, or another key, is refused as corrupt; an earlier identifier's file reads as empty", (t) => {
  const { dir } = tempDir(t);
  const key = randomBytes(32);
  const handle = "11".repeat(16);
  new BindingsFile(dir, handle, key).write({ users: [user], devices: [] });
  const path = join(dir, BINDINGS_FILE);
  const original = readFileSync(path, "utf8");
  const parsed = JSON.parse(original);
  const last = parsed.sealed.length - 1;
  parsed.sealed = `${parsed.sealed.slice(0, last)}${parsed.sealed[last] === "0" ? "1" : "0"}`;
  writeFileSync(path, JSON.stringify(parsed));
  assert.throws(() => new BindingsFile(dir, handle, key).read(), corrupt);
  writeFileSync(path, "{not json");
  assert.throws(() => new BindingsFile(dir, handle, key).read(), corrupt);
  writeFileSync(path, original);
  assert.throws(() => new BindingsFile(dir, handle, randomBytes(32)).read(), corrupt);
  // Sealed for handle 11..., read by the identifier with handle 22...: left by the one before.
  assert.deepEqual(new BindingsFile(dir, "22".repeat(16), randomBytes(32)).read(), {
    users: [],
    devices: [],
  });
  wipeBindings(dir);
  assert.ok(!existsSync(path));
  wipeBindings(dir);
});
