// Which --web addresses the page accepts: loopback only, in each of its spellings.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReidError } from "../../src/errors.js";
import { parseWebAddress, webAddress } from "../../src/web/address.js";

test("loopback hosts are accepted, and 'localhost' binds 127.0.0.1", () => {
  assert.deepEqual(parseWebAddress("127.0.0.1:8080"), { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseWebAddress("127.45.6.7:1"), { host: "127.45.6.7", port: 1 });
  assert.deepEqual(parseWebAddress("localhost:65535"), { host: "127.0.0.1", port: 65535 });
  assert.deepEqual(parseWebAddress("LocalHost:80"), { host: "127.0.0.1", port: 80 });
  assert.deepEqual(parseWebAddress("[::1]:8080"), { host: "::1", port: 8080 });
  assert.deepEqual(parseWebAddress("[0:0:0:0:0:0:0:1]:8080"), { host: "::1", port: 8080 });
  assert.deepEqual(webAddress("127.0.0.1", 0), { host: "127.0.0.1", port: 0 });
});

test("anything else is a usage error (exit 2) naming what was wrong", () => {
  for (const text of [
    "0.0.0.0:8080",
    "10.0.0.1:8080",
    "128.0.0.1:8080",
    "[::]:8080",
    "[::2]:8080",
    "[::ffff:127.0.0.1]:8080",
    "::1:8080",
    "example.com:8080",
    "localhost.example.com:8080",
    "127.1:8080",
    "127.0.0.1",
    "127.0.0.1:",
    ":8080",
    "127.0.0.1:65536",
    "127.0.0.1:-1",
    "127.0.0.1:80a",
    "",
  ]) {
    assert.throws(
      () => parseWebAddress(text),
      (error: unknown) =>
        error instanceof ReidError && error.exitCode === 2 && /--web|loopback|port/.test(error.message),
      text,
    );
  }
  assert.throws(() => webAddress("0.0.0.0", 8080), /loopback only/);
  assert.throws(() => webAddress("127.0.0.1", 1.5), /port/);
});
