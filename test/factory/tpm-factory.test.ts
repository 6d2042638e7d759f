// The TPM as a factory source, on real swtpm processes: the factory identity is a function of the
// TPM's endorsement seed, so it survives restarts (and TPM2_Clear, which keeps that seed) and
// differs between two TPMs; through the CLI, `reid mode factory` restores it on the TPM backend.
import assert from "node:assert/strict";
import { test } from "node:test";
import { p256 } from "@noble/curves/nist.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { FactoryError } from "../../src/errors.js";
import { FACTORY_POINT } from "../../src/factory/tpm/factory-point.js";
import { FACTORY_KEY_TEMPLATE, TpmFactorySource } from "../../src/factory/tpm/tpm-factory-source.js";
import { password } from "../../src/tpm/command.js";
import { GetCapability } from "../../src/tpm/commands/capability.js";
import { Clear } from "../../src/tpm/commands/hierarchy.js";
import { CreatePrimary, FlushContext } from "../../src/tpm/commands/object.js";
import { TPM_CAP, TPM_RH } from "../../src/tpm/constants.js";
import type { Tpm } from "../../src/tpm/tpm.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { assertDifferentSecret, assertSameSecret } from "../helpers/secret.js";
import { type Swtpm, swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";

const first = swtpmForFile();
const second = swtpmForFile();

async function withTpm<T>(swtpm: Swtpm, task: (tpm: Tpm) => Promise<T>): Promise<T> {
  const tpm = await connectTpm(swtpm.address);
  try {
    return await task(tpm);
  } finally {
    await tpm.close();
  }
}

/** The factory root of `swtpm`, over a connection of its own (swtpm serves one client at a time). */
function rootOf(swtpm: Swtpm): Promise<Uint8Array> {
  return withTpm(swtpm, (tpm) => new TpmFactorySource(tpm).root());
}

test("the factory point is a valid P-256 point, fixed by its derivation", () => {
  const point = p256.Point.fromAffine({
    x: BigInt(`0x${Buffer.from(FACTORY_POINT.x).toString("hex")}`),
    y: BigInt(`0x${Buffer.from(FACTORY_POINT.y).toString("hex")}`),
  });
  point.assertValidity();
  assert.ok(!point.equals(p256.Point.BASE), "the factory point must not be the generator");
});

test("tpm factory root: the same on every call and across swtpm restarts and TPM2_Clear; another TPM another", async () => {
  const a = await first();
  const root = await rootOf(a);
  assertSameSecret(await rootOf(a), root, "root");
  await a.restart();
  assertSameSecret(await rootOf(a), root, "root after a restart");
  // TPM2_Clear resets the owner hierarchy; the endorsement seed, and so the identity, stay.
  await withTpm(a, (tpm) => tpm.run(Clear, { authHandle: password(TPM_RH.LOCKOUT) }));
  assertSameSecret(await rootOf(a), root, "root after TPM2_Clear");
  assertDifferentSecret(await rootOf(await second()), root, "root of another TPM");
  // No transient object is left behind: each root flushes its key (swtpm has only 3 slots).
  for (let i = 0; i < 4; i++) (await rootOf(a)).fill(0);
  const data = await withTpm(a, async (tpm) => {
    const { capabilityData } = await tpm.run(GetCapability, {
      capability: TPM_CAP.HANDLES,
      property: 0x80000000,
      propertyCount: 16,
    });
    return capabilityData;
  });
  assert.ok(data.capability === TPM_CAP.HANDLES);
  assert.deepEqual(data.handles, [], "a transient object was left");
});

test("tpm factory root: not computable from public data (the factory key's public point)", async () => {
  const a = await first();
  const root = await rootOf(a);
  const outPublic = await withTpm(a, async (tpm) => {
    const created = await tpm.run(CreatePrimary, {
      primaryHandle: password(TPM_RH.ENDORSEMENT),
      inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
      inPublic: FACTORY_KEY_TEMPLATE,
      outsideInfo: new Uint8Array(0),
      creationPCR: [],
    });
    await tpm.run(FlushContext, { flushHandle: created.objectHandle });
    return created.outPublic;
  });
  assert.ok("x" in outPublic.unique);
  const { x } = outPublic.unique as { x: Uint8Array };
  const fromPublic = hkdf(
    sha256,
    x,
    new TextEncoder().encode("reid/factory/tpm/v1"),
    new TextEncoder().encode("root"),
    32,
  );
  assertDifferentSecret(fromPublic, root, "root from the public key");
});

test("tpm factory root: a TPM that refuses is a FactoryError, not a root", async () => {
  const a = await first();
  await withTpm(a, async (tpm) => {
    const wrongAuth = new TpmFactorySource(tpm, new TextEncoder().encode("not the endorsement password"));
    await assert.rejects(
      wrongAuth.root(),
      (e) => e instanceof FactoryError && /TPM could not give its factory identity/.test(e.message),
    );
  });
});

async function ok(args: readonly string[]): Promise<CliResult> {
  const result = await reid(args);
  assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  return result;
}

async function json(args: readonly string[]): Promise<Record<string, unknown>> {
  return JSON.parse((await ok([...args, "--json"])).stdout) as Record<string, unknown>;
}

test("reid --tpm init --factory tpm: the identity comes back after mode random, a restart, and in a new store; another TPM differs", async (t) => {
  const { dir } = tempDir(t);
  const a = await first();
  const store = `${dir}/a`;
  const spec = `${a.spec},nv-index=0x01524a00`;
  const init = await json(["--store", store, "--tpm", spec, "init", "--factory", "tpm"]);
  assert.equal(init.mode, "factory");
  const status = await json(["--store", store, "status"]);
  assert.deepEqual([status.mode, status.factory], ["factory", "tpm"]);
  const random = await json(["--store", store, "mode", "random"]);
  assert.notEqual(random.handle, init.handle);
  await a.restart();
  const back = await json(["--store", store, "mode", "factory"]);
  assert.equal(back.handle, init.handle);
  // Another store on the same TPM (another NV index): the same factory identity.
  const again = await json([
    "--store",
    `${dir}/a2`,
    "--tpm",
    `${a.spec},nv-index=0x01524a04`,
    "init",
    "--factory",
    "tpm",
  ]);
  assert.equal(again.handle, init.handle);
  const other = await json([
    "--store",
    `${dir}/b`,
    "--tpm",
    `${(await second()).spec},nv-index=0x01524a00`,
    "init",
    "--factory",
    "tpm",
  ]);
  assert.notEqual(other.handle, init.handle);
  // The TPM is gone: a clear error, nothing changes.
  await a.stop();
  const refused = await reid(["--store", store, "mode", "random"]);
  assertOneLineError(refused, 6);
  await a.restart();
});
