import assert from "node:assert/strict";
import { test } from "node:test";
import { openRandomSupply } from "../../src/entropy/open.js";
import type { EntropySource } from "../../src/entropy/source.js";
import { EntropyError, ExitCode } from "../../src/errors.js";
import type { OpenedBackend } from "../../src/storage/backend.js";
import { backend } from "../../src/storage/pkcs11/backend.js";
import { Pkcs11Source } from "../../src/storage/pkcs11/random-source.js";
import { type SoftHsmToken, softhsmForFile } from "../helpers/softhsm.js";
import { describeEntropySource } from "./source-conformance.js";

const softhsm = softhsmForFile();
let token: Promise<SoftHsmToken> | null = null;
const backends = new WeakMap<EntropySource, OpenedBackend>();

async function closeBackend(opened: OpenedBackend): Promise<void> {
  await opened.area.close();
  await opened.close();
}

// The backend's own source: C_GenerateRandom on the session the areas use.
describeEntropySource({
  name: "pkcs11 (SoftHSM2)",
  open: async (t) => {
    token ??= softhsm().then((hsm) => hsm.token());
    const opened = await backend.open(".", backend.parse((await token).spec), {
      write: false,
      lockTimeoutMs: 5000,
      env: {},
    });
    t.after(() => closeBackend(opened));
    const source = opened.randomSource?.();
    assert.ok(source, "the PKCS#11 backend offers no random source");
    backends.set(source, opened);
    return source;
  },
  // The token goes away: the backend's session is closed under the source.
  breakIt: async (source) => {
    const opened = backends.get(source);
    if (opened) await closeBackend(opened);
  },
});

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
