// The token's generator beyond the EntropySource contract (source-conformance.test.ts runs that
// on SoftHSM2, alone and mixed with the OS): what a stuck token gives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { openRandomSupply } from "../../src/entropy/open.js";
import { EntropyError, ExitCode } from "../../src/errors.js";
import { Pkcs11Source } from "../../src/storage/pkcs11/random-source.js";

test("a token whose generator is stuck fails the health tests with exit 5", async () => {
  const stuck = new Pkcs11Source({ generateRandom: (target) => target.fill(0x5a) });
  const supply = openRandomSupply(stuck, { capacity: 4096, refill: 64 });
  try {
    const error = await supply.fifo.read(32).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof EntropyError, "a stuck generator was accepted");
    assert.equal(error.exitCode, ExitCode.entropy);
    assert.match(error.message, /entropy source pkcs11 failed its start-up health test/);
  } finally {
    await supply.close();
  }
});
