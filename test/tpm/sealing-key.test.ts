// Sealing keys in the TPM (docs/spec.md §5.4) against a real swtpm: `reid seal --key tpm`, `seal
// --rotate` and `unseal` keep the identifier (same handle) while the record in NV goes sealed, under
// a new key, and in clear again; the key's blobs live in the store directory (0600) and go with
// their key; a missing or damaged blob, or a blob of another key, is one line and exit 6, never
// another identifier; tpm2-tools, an independent client, unseals the blob to the very key that
// opens the record; and through a logging proxy the AES key never crosses the wire in clear.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { decodeArea } from "../../src/storage/record.js";
import { AesGcmSealer } from "../../src/storage/sealer.js";
import { blobPath, TpmSealingKeys } from "../../src/storage/tpm/sealing-key.js";
import { password } from "../../src/tpm/command.js";
import { CreatePrimary, FlushContext } from "../../src/tpm/commands/object.js";
import { TPM_CC, TPM_RH } from "../../src/tpm/constants.js";
import { TpmResponseError } from "../../src/tpm/errors.js";
import { parseTpmSpec } from "../../src/tpm/spec.js";
import { eccP256Template } from "../../src/tpm/templates.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { containsBytes } from "../helpers/secret.js";
import { type Swtpm, swtpmForFile } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { readIndex } from "../helpers/tpm-nv.js";
import { tpmProxy } from "./proxy.js";
import { storeCli, tpm2Ok } from "./tools.js";

const swtpm = swtpmForFile();
let nextIndex = 0x01525000;

interface Status {
  readonly state: string;
  readonly handle: string | null;
  readonly generation: number;
  readonly sealed: boolean;
  readonly sealingKey: string | null;
  readonly sealingKeyHome: string | null;
}

/** A TPM store on a fresh index pair, with its CLI and a look at its NV records. */
async function tpmElement(t: TestContext) {
  const sw = await swtpm();
  const { dir, store } = tempDir(t, "reid-tpm-seal-");
  const nvIndex = nextIndex;
  nextIndex += 4; // a store takes four indices: two areas, its counter, its audit key
  const spec = `${sw.spec},nv-index=0x${nvIndex.toString(16)}`;
  const cli = storeCli(store, spec);
  /** The records in both indices, read straight from swtpm while no reid runs. */
  const records = async () => {
    const tpm = await connectTpm(sw.address);
    try {
      const out = [];
      for (const index of [nvIndex, nvIndex + 1]) {
        const decoded = decodeArea(await readIndex(tpm, index));
        if (decoded.kind === "record") out.push(decoded);
      }
      return out;
    } finally {
      await tpm.close();
    }
  };
  const blobs = () => readdirSync(store).filter((name) => name.startsWith("tpm-sealing-key-"));
  const storeFile = () => JSON.parse(readFileSync(join(store, "store.json"), "utf8"));
  return { sw, dir, store, spec, cli, records, blobs, storeFile };
}

const handleOf = async (cli: ReturnType<typeof storeCli>) =>
  (await cli.json<{ handle: string }>(["keys"])).handle;

describe("reid seal --key tpm", () => {
  test("seal, rotate and unseal keep the identifier; NV holds it sealed, then in clear; each key's blob goes with it", async (t) => {
    const { cli, records, blobs, storeFile, store } = await tpmElement(t);
    await cli.ok(["init"]);
    const handle = await handleOf(cli);
    const [plain] = await records();
    assert.ok(
      plain?.kind === "record" && plain.record.identifier !== null,
      "init stores the identifier in clear",
    );

    const sealed = await cli.json<Status>(["seal", "--key", "tpm"]);
    assert.equal(sealed.sealed, true);
    const status = await cli.json<Status>(["status"]);
    assert.equal(status.sealingKeyHome, "tpm");
    assert.match(status.sealingKey ?? "", /^[0-9a-f]{16}$/);
    assert.deepEqual(storeFile().sealing, { key: "tpm", id: status.sealingKey });
    assert.deepEqual(blobs(), [`tpm-sealing-key-${status.sealingKey}.json`]);
    assert.equal(statSync(join(store, blobs()[0] as string)).mode & 0o777, 0o600);
    assert.match(
      (await cli.ok(["status"])).stdout,
      /^sealed +yes \(AES-256-GCM under a key sealed to the TPM\)$/m,
    );
    const [inNv] = await records();
    assert.ok(inNv?.kind === "record" && inNv.record.identifier === null && inNv.sealed !== null);
    assert.equal(await handleOf(cli), handle, "sealing changed the identifier");
    // Sealing again under the same home proves the key and changes nothing.
    await cli.ok(["seal", "--key", "tpm"]);
    assert.equal((await cli.json<Status>(["status"])).sealingKey, status.sealingKey);

    // A reset under the sealing key, then a rotation to a new key.
    await cli.ok(["reset"]);
    const afterReset = await handleOf(cli);
    const rotated = await cli.json<Status>(["seal", "--rotate"]);
    assert.notEqual(rotated.sealingKey, status.sealingKey);
    assert.deepEqual(
      blobs(),
      [`tpm-sealing-key-${rotated.sealingKey}.json`],
      "the old key's blob was not destroyed",
    );
    assert.deepEqual(storeFile().sealing, { key: "tpm", id: rotated.sealingKey });
    assert.equal(storeFile().pending, undefined);
    assert.equal(await handleOf(cli), afterReset);

    // Unseal: the identifier in clear again, the key destroyed, the sealed flag gone.
    const unsealed = await cli.json<Status>(["unseal"]);
    assert.equal(unsealed.sealed, false);
    assert.deepEqual(blobs(), []);
    assert.equal(storeFile().sealing, undefined);
    const [clear] = await records();
    assert.ok(clear?.kind === "record" && clear.record.identifier !== null && !clear.record.sealed);
    assert.equal(await handleOf(cli), afterReset);
    await cli.ok(["reset"]);
    assert.equal((await cli.json<Status>(["status"])).sealed, false, "the sealed flag came back");
    assertOneLineError(await cli.run(["unseal"]), 3, /not sealed/);
    assertOneLineError(await cli.run(["seal", "--rotate"]), 3, /not sealed/);

    // The audit log names each owner operation.
    const log = (await cli.json<{ records: { request: string }[] }>(["log"])).records.map((r) => r.request);
    for (const request of ["seal", "seal-rotate", "unseal"])
      assert.ok(log.includes(request), `${request} not audited`);
  });

  test("a missing, damaged or swapped blob is exit 6 and one line, never another identifier; status still works", async (t) => {
    const { cli, store, blobs } = await tpmElement(t);
    await cli.ok(["init"]);
    const handle = await handleOf(cli);
    await cli.ok(["seal", "--key", "tpm"]);
    const blob = join(store, blobs()[0] as string);
    const kept = readFileSync(blob);

    renameSync(blob, `${blob}.away`);
    assertOneLineError(await cli.run(["keys"]), 6, /blob .* is missing/);
    assertOneLineError(await cli.run(["reset"]), 6, /is missing/);
    assert.equal((await cli.json<Status>(["status"])).sealed, true);
    renameSync(`${blob}.away`, blob);
    assert.equal(await handleOf(cli), handle);

    // One bit of the private blob flipped: the TPM refuses to load it.
    const file = JSON.parse(kept.toString("utf8"));
    const bytes = Buffer.from(file.blob, "hex");
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 1;
    writeFileSync(blob, `${JSON.stringify({ v: 1, blob: bytes.toString("hex") })}\n`, { mode: 0o600 });
    const damaged = await cli.run(["keys", "--json"]);
    assert.equal(damaged.code, 6);
    assert.equal(JSON.parse(damaged.stderr).error.code, "store-key-wrong");
    writeFileSync(blob, "not json", { mode: 0o600 });
    assertOneLineError(await cli.run(["keys"]), 6, /corrupt/);

    // Another store's key under this key's name: it loads and unseals, but opens nothing.
    const other = await tpmElement(t);
    await other.cli.ok(["init"]);
    await other.cli.ok(["seal", "--key", "tpm"]);
    writeFileSync(blob, readFileSync(join(other.store, other.blobs()[0] as string)), { mode: 0o600 });
    const swapped = await cli.run(["keys", "--json"]);
    assert.equal(swapped.code, 6, swapped.stderr);
    assert.equal(JSON.parse(swapped.stderr).error.code, "store-key-wrong");
    assert.equal(swapped.stdout, "");

    writeFileSync(blob, kept, { mode: 0o600 });
    assert.equal(await handleOf(cli), handle);
  });

  test("tpm2-tools unseals the blob (owner SRK, tpm2_load, tpm2_unseal) to the key that opens the record", async (t) => {
    const { cli, store, blobs, records, dir, sw } = await tpmElement(t);
    await cli.ok(["init"]);
    await cli.ok(["seal", "--key", "tpm"]);
    const file = JSON.parse(readFileSync(join(store, blobs()[0] as string), "utf8"));
    const blob = Buffer.from(file.blob, "hex");
    const publicSize = blob.readUInt16BE(0) + 2;
    writeFileSync(join(dir, "key.pub"), blob.subarray(0, publicSize));
    writeFileSync(join(dir, "key.priv"), blob.subarray(publicSize));
    const ctx = (name: string) => join(dir, name);
    await tpm2Ok(sw.tcti, [
      "tpm2_createprimary",
      "-C",
      "o",
      "-g",
      "sha256",
      "-G",
      "ecc256:null:aes128cfb",
      "-a",
      "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda",
      "-c",
      ctx("primary.ctx"),
    ]);
    // swtpm has no resource manager: what each tool left loaded is flushed (its context is saved).
    await tpm2Ok(sw.tcti, ["tpm2_flushcontext", "-t"]);
    await tpm2Ok(sw.tcti, [
      "tpm2_load",
      "-C",
      ctx("primary.ctx"),
      "-u",
      ctx("key.pub"),
      "-r",
      ctx("key.priv"),
      "-c",
      ctx("key.ctx"),
    ]);
    await tpm2Ok(sw.tcti, ["tpm2_flushcontext", "-t"]);
    const key = (await tpm2Ok(sw.tcti, ["tpm2_unseal", "-c", ctx("key.ctx")])).stdout;
    await tpm2Ok(sw.tcti, ["tpm2_flushcontext", "-t"]);
    assert.equal(key.length, 32);
    const [record] = await records();
    assert.ok(record?.kind === "record" && record.sealed);
    const opened = new AesGcmSealer(key).open(record.sealed.payload, record.sealed.associated);
    assert.ok(opened !== null, "the unsealed key does not open the record");
    // The check can fail: another key does not open it.
    assert.equal(
      new AesGcmSealer(randomBytes(32)).open(record.sealed.payload, record.sealed.associated),
      null,
    );
    opened.fill(0);
    key.fill(0);
  });

  test("the AES key never crosses the wire in clear: not when the key is made, not when it is unsealed", async (t) => {
    const sw = await swtpm();
    const proxy = await tpmProxy(t, port(sw));
    const { dir } = tempDir(t);
    const address = parseTpmSpec(proxy.spec).address;
    const id = "00112233445566aa";
    const made = await withHome(address, dir, (home) => home.create(id));
    const unsealed = await withHome(address, dir, (home) => home.open(id));
    const key = exportKey(made);
    assert.deepEqual(exportKey(unsealed), key, "the key unsealed is not the key made");
    const commands = proxy.log.filter((c) => c.direction === "command").map((c) => c.code);
    for (const code of [TPM_CC.Create, TPM_CC.Load, TPM_CC.Unseal, TPM_CC.FlushContext]) {
      assert.ok(commands.includes(code), `TPM command 0x${code.toString(16)} did not cross the proxy`);
    }
    const traffic = proxy.traffic();
    for (const part of [key.subarray(0, 12), key.subarray(10, 22), key.subarray(20)]) {
      assert.ok(!containsBytes(traffic, part), "the AES key crossed the wire in clear");
    }
    // The search finds what is there: the blob's public area travels (in Load's second parameter).
    const blob = Buffer.from(JSON.parse(readFileSync(blobPath(dir, id), "utf8")).blob, "hex");
    assert.ok(containsBytes(traffic, blob.subarray(2, blob.readUInt16BE(0) + 2)));
    key.fill(0);
  });

  test("objects a killed client left loaded in swtpm are flushed: the key still opens", async (t) => {
    const sw = await swtpm();
    const { dir } = tempDir(t);
    const id = "00112233445566bb";
    await withHome(sw.address, dir, (home) => home.create(id));
    // A client that loads objects and goes away without flushing them (a kill): swtpm full but
    // for one slot, which the next connection's salt key takes (and frees), so that the room runs
    // out at the sealing key's own CreatePrimary or Load.
    const leaver = await connectTpm(sw.address, 10_000, { sessions: "encrypted" });
    const loaded: number[] = [];
    let full = false;
    for (let i = 0; i < 8 && !full; i++) {
      try {
        const created = await leaver.run(CreatePrimary, {
          primaryHandle: password(TPM_RH.NULL),
          inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
          inPublic: eccP256Template("sign", randomBytes(32)),
          outsideInfo: new Uint8Array(0),
          creationPCR: [],
        });
        loaded.push(created.objectHandle);
      } catch (error) {
        full = error instanceof TpmResponseError && error.rc === "TPM_RC_OBJECT_MEMORY";
        if (!full) throw error;
      }
    }
    assert.ok(full, "swtpm never ran out of object room");
    await leaver.run(FlushContext, { flushHandle: loaded.pop() as number });
    await leaver.transport.close();
    const sealer = await withHome(sw.address, dir, (home) => home.open(id));
    assert.equal(sealer.keyId, id);
  });

  test("through the daemon: seal --key tpm, rotate and unseal, owner-gated by the PIN, the same answers", async (t) => {
    const { cli, store, blobs, dir } = await tpmElement(t);
    await cli.ok(["init"]);
    const handle = await handleOf(cli);
    const pinFile = secretFile(dir, "pin", "correct horse 1");
    await reidOk(["--store", store, "pin", "set", "--new-pin-file", pinFile]);
    await serve(t, store);
    const viaDaemon = (args: readonly string[]) => reid(["--store", store, ...args]);
    assertOneLineError(await viaDaemon(["seal", "--key", "tpm"]), 4, /PIN/);
    assert.deepEqual(blobs(), [], "a refused seal made a key");
    const sealed = await reidJson<Status>(["--store", store, "--pin-file", pinFile, "seal", "--key", "tpm"]);
    assert.equal(sealed.sealed, true);
    assert.equal(blobs().length, 1);
    const rotated = await reidJson<Status>(["--store", store, "--pin-file", pinFile, "seal", "--rotate"]);
    assert.notEqual(rotated.sealingKey, sealed.sealingKey);
    assert.deepEqual(blobs(), [`tpm-sealing-key-${rotated.sealingKey}.json`]);
    assert.equal((await reidJson<{ handle: string }>(["--store", store, "keys"])).handle, handle);
    const kek = secretFile(dir, "kek", randomBytes(32));
    assertOneLineError(
      await viaDaemon(["--pin-file", pinFile, "seal", "--rotate", "--new-kek-file", kek]),
      2,
      /daemon serves/,
    );
    const unsealed = await reidJson<Status>(["--store", store, "--pin-file", pinFile, "unseal"]);
    assert.equal(unsealed.sealed, false);
    assert.deepEqual(blobs(), []);
  });

  test("password sessions are refused: the key would cross the bus in clear", async (t) => {
    const { cli, spec, store } = await tpmElement(t);
    await cli.ok(["init"]);
    const password = storeCli(store, `${spec},sessions=password`);
    assertOneLineError(await password.run(["seal", "--key", "tpm"]), 2, /sessions=password/);
  });
});

async function withHome<T>(
  address: ReturnType<typeof parseTpmSpec>["address"],
  dir: string,
  use: (home: TpmSealingKeys) => Promise<T>,
): Promise<T> {
  const tpm = await connectTpm(address, 10_000, { sessions: "encrypted" });
  const home = new TpmSealingKeys(tpm, dir);
  try {
    return await use(home);
  } finally {
    home.close();
    await tpm.close();
  }
}

/** The AES key inside a sealer over a key unsealed from the TPM (a KeyObject, exported for the search). */
function exportKey(sealer: unknown): Buffer {
  return (sealer as { key: { export(): Buffer } }).key.export();
}

function port(sw: Swtpm): number {
  if (sw.address.kind !== "tcp") throw new Error("the proxy needs swtpm on TCP");
  return sw.address.port;
}
