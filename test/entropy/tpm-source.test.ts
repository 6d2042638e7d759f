// The TPM's generator and its mixing with the OS generator, beyond the EntropySource contract
// (source-conformance.test.ts runs that on swtpm): what a replayed, short or stuck TPM gives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { openRandomSupply } from "../../src/entropy/open.js";
import { OsMixedSource } from "../../src/entropy/os-mixed-source.js";
import { EntropyError, ExitCode } from "../../src/errors.js";
import { TpmRandomSource } from "../../src/storage/tpm/random-source.js";
import type { Tpm } from "../../src/tpm/tpm.js";

test("tpm+os is not the TPM's output: the same TPM bytes give different mixed bytes", async (t) => {
  // Two swtpm processes started from one state would repeat GetRandom; here the mixing is shown by
  // the OS salt: a TPM whose output is replayed (a recorded stream) still yields fresh bytes.
  const replayed = new Uint8Array(32).fill(0x5a);
  const fakeTpm = { run: async () => ({ randomBytes: Uint8Array.from(replayed) }) } as unknown as Tpm;
  const plain = new TpmRandomSource(fakeTpm);
  const mixed = new OsMixedSource(new TpmRandomSource(fakeTpm));
  const [a, b, c] = [new Uint8Array(32), new Uint8Array(32), new Uint8Array(32)];
  await plain.fill(a);
  await mixed.fill(b);
  await mixed.fill(c);
  assert.ok(Buffer.from(a).equals(Buffer.from(replayed)), "the plain source passes the TPM's bytes on");
  assert.ok(!Buffer.from(b).equals(Buffer.from(replayed)), "the mixed source passed the TPM's bytes on");
  assert.ok(!Buffer.from(b).equals(Buffer.from(c)), "a replayed TPM stream gave the same mixed bytes twice");
  t.diagnostic("a stuck TPM alone is caught by the health tests; mixed, the OS salt keeps it fresh");
});

test("a TPM that answers GetRandom short is an entropy failure, not a short identifier", async () => {
  const shortTpm = { run: async () => ({ randomBytes: new Uint8Array(8).fill(1) }) } as unknown as Tpm;
  const error = await new TpmRandomSource(shortTpm).fill(new Uint8Array(32)).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(error instanceof EntropyError);
  assert.equal(error.exitCode, ExitCode.entropy);
  assert.match(error.message, /returned 8 bytes, not 32/);
});

test("a stuck TPM (the same 32 bytes every time) fails the health tests with exit 5", async () => {
  const stuck = { run: async () => ({ randomBytes: new Uint8Array(32).fill(0x5a) }) } as unknown as Tpm;
  const supply = openRandomSupply(new TpmRandomSource(stuck), { capacity: 4096, refill: 64 });
  try {
    const error = await supply.fifo.read(32).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof EntropyError, "a stuck TPM was accepted");
    assert.equal(error.exitCode, ExitCode.entropy);
    assert.match(error.message, /health test/);
  } finally {
    await supply.close();
  }
});
