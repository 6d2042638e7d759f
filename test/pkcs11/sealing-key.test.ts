// Sealing keys in the token (docs/spec.md §5.4, §5.9) on a real SoftHSM2, with OpenSC's
// pkcs11-tool as the independent client: `reid seal --key pkcs11` makes a sensitive, never
// extractable AES-256 key in the token whose value pkcs11-tool cannot read; the areas then hold the
// identifier sealed (AES-GCM inside the token), `seal --rotate` moves it to a new key and destroys
// the old one, `unseal` puts it in clear and destroys the key; a key gone from the token is exit 6.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CKA } from "../../src/pkcs11/constants.js";
import { Pkcs11Token } from "../../src/pkcs11/token.js";
import { backend } from "../../src/storage/pkcs11/backend.js";
import { AREA_LABELS } from "../../src/storage/pkcs11/objects.js";
import { Pkcs11SealingKeys, SEALING_KEY_LABEL } from "../../src/storage/pkcs11/sealing-key.js";
import { decodeArea } from "../../src/storage/record.js";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";
import { SOFTHSM_MODULE, type SoftHsmToken } from "../helpers/softhsm.js";
import { tempDir } from "../helpers/temp.js";
import { softhsm, withTokenSession } from "../storage/pkcs11-fixture.js";

interface Status {
  readonly handle: string | null;
  readonly sealed: boolean;
  readonly sealingKey: string | null;
  readonly sealingKeyHome: string | null;
}

async function run(args: readonly string[]): Promise<CliResult> {
  return reid(args, { env: (await softhsm()).env });
}

async function json<T>(args: readonly string[]): Promise<T> {
  const result = await run([...args, "--json"]);
  assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as T;
}

/** pkcs11-tool on the token, logged in; its exit code and output, whatever they are. */
async function tool(token: SoftHsmToken, args: readonly string[]) {
  const child = spawn(
    "pkcs11-tool",
    ["--module", SOFTHSM_MODULE, "--token-label", token.label, "--login", "--pin", token.pin, ...args],
    { env: (await softhsm()).env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const { code, stdout, stderr } = await finished(child);
  return { code, stdout: stdout.toString("utf8"), stderr: stderr.toString("utf8") };
}

/** reid's sealing keys on the token: each one's id and whether the token calls it extractable. */
function sealingKeys(token: SoftHsmToken) {
  return withTokenSession(token, (session) =>
    session.find([{ type: CKA.LABEL, value: SEALING_KEY_LABEL }]).map((key) => {
      const [id, extractable, sensitive] = session.attributes(key, [CKA.ID, CKA.EXTRACTABLE, CKA.SENSITIVE]);
      return {
        id: id?.toString("hex"),
        extractable: extractable?.[0] === 1,
        sensitive: sensitive?.[0] === 1,
      };
    }),
  );
}

/** The record in the area object that holds one: sealed or in clear. */
function records(token: SoftHsmToken) {
  return withTokenSession(token, (session) =>
    AREA_LABELS.flatMap((label) =>
      session.find([{ type: CKA.LABEL, value: label }]).map((object) => {
        const decoded = decodeArea(session.attributes(object, [CKA.VALUE])[0] ?? Buffer.alloc(0));
        assert.equal(decoded.kind, "record");
        return decoded.kind === "record" ? decoded : null;
      }),
    ),
  );
}

describe("reid seal --key pkcs11", () => {
  test("a never-extractable AES key in the token seals the areas; rotate and unseal keep the identifier and destroy the old key", async (t) => {
    const token = await (await softhsm()).token();
    const { store } = tempDir(t);
    const handleOf = async () => (await json<{ handle: string }>(["--store", store, "keys"])).handle;
    await json(["--store", store, "--pkcs11", token.spec, "init"]);
    const handle = await handleOf();

    const sealed = await json<Status>(["--store", store, "seal", "--key", "pkcs11"]);
    assert.equal(sealed.sealed, true);
    const status = await json<Status>(["--store", store, "status"]);
    assert.equal(status.sealingKeyHome, "pkcs11");
    assert.deepEqual(JSON.parse(readFileSync(join(store, "store.json"), "utf8")).sealing, {
      key: "pkcs11",
      id: status.sealingKey,
    });
    assert.deepEqual(await sealingKeys(token), [
      { id: status.sealingKey, extractable: false, sensitive: true },
    ]);
    const [record] = await records(token);
    assert.ok(record?.sealed && record.record.identifier === null, "the area holds the identifier in clear");
    assert.equal(await handleOf(), handle);

    // The independent client cannot get the key's value out of the token.
    const listed = await tool(token, ["--list-objects", "--type", "secrkey"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`label: +${SEALING_KEY_LABEL}`));
    assert.match(listed.stdout, /Access: +sensitive, always sensitive, never extractable/);
    const read = await tool(token, [
      "--read-object",
      "--type",
      "secrkey",
      "--id",
      status.sealingKey as string,
    ]);
    assert.notEqual(read.code, 0, "pkcs11-tool read the key's value");
    assert.match(read.stderr, /CKR_ATTRIBUTE_SENSITIVE/);
    assert.equal(read.stdout, "");
    // The same reading works on what is readable: the area object (so the refusal is the key's).
    // One pkcs11-tool at a time: two at once on one SoftHSM2 token sometimes find no object.
    const areas = [];
    for (const label of AREA_LABELS)
      areas.push(await tool(token, ["--read-object", "--type", "data", "--label", label]));
    assert.ok(
      areas.some((area) => area.code === 0),
      `pkcs11-tool reads no area object either: ${areas.map((a) => a.stderr.trim()).join(" / ")}`,
    );

    const rotated = await json<Status>(["--store", store, "seal", "--rotate"]);
    assert.notEqual(rotated.sealingKey, status.sealingKey);
    assert.deepEqual(
      (await sealingKeys(token)).map((key) => key.id),
      [rotated.sealingKey],
      "the old key is still in the token",
    );
    assert.equal(await handleOf(), handle);

    // The key gone from the token: exit 6, one line; status still answers.
    const away = await tool(token, [
      "--delete-object",
      "--type",
      "secrkey",
      "--id",
      rotated.sealingKey as string,
    ]);
    assert.equal(away.code, 0, away.stderr);
    const missing = await run(["--store", store, "keys", "--json"]);
    assertOneLineError(missing, 6);
    assert.equal(JSON.parse(missing.stderr).error.code, "store-key-missing");
    assert.equal((await json<Status>(["--store", store, "status"])).sealed, true);
  });

  test("unseal commits the identifier in clear and destroys the token's key", async (t) => {
    const token = await (await softhsm()).token();
    const { store } = tempDir(t);
    await json(["--store", store, "--pkcs11", token.spec, "init"]);
    const handle = (await json<{ handle: string }>(["--store", store, "keys"])).handle;
    await json(["--store", store, "seal", "--key", "pkcs11"]);
    const unsealed = await json<Status>(["--store", store, "unseal"]);
    assert.equal(unsealed.sealed, false);
    assert.deepEqual(await sealingKeys(token), []);
    const [record] = await records(token);
    assert.ok(record && !record.sealed && record.record.identifier !== null);
    assert.equal((await json<{ handle: string }>(["--store", store, "keys"])).handle, handle);
    assertOneLineError(await run(["--store", store, "unseal"]), 3, /not sealed/);
    // --key tpm needs the TPM backend.
    assertOneLineError(await run(["--store", store, "seal", "--key", "tpm"]), 2, /TPM backend/);
  });
});

test("a record sealed under one of the token's keys does not open under another: null, not a device error (SoftHSM2 says CKR_GENERAL_ERROR for a failed GCM tag)", async () => {
  const token = await (await softhsm()).token();
  const spec = backend.parse(token.spec);
  const opened = await Pkcs11Token.open(spec.module, spec.token);
  const session = opened.openSession();
  try {
    session.login(token.pin);
    const keys = new Pkcs11SealingKeys(session);
    const [a, b] = ["aa00000000000001", "bb00000000000002"];
    const sealer = await keys.create(a);
    await keys.create(b);
    const associated = Buffer.from("reid record");
    const sealed = sealer.seal(Buffer.from("the identifier"), associated);
    const opens = async (id: string, bytes: Uint8Array, ad: Uint8Array) =>
      (await keys.open(id)).open(bytes, ad);
    assert.equal(Buffer.from((await opens(a, sealed, associated)) ?? []).toString(), "the identifier");
    // The other key, altered bytes, other associated data: each is "does not open", not a failure.
    assert.equal(await opens(b, sealed, associated), null);
    const altered = Uint8Array.from(sealed);
    altered[20] = (altered[20] ?? 0) ^ 1;
    assert.equal(await opens(a, altered, associated), null);
    assert.equal(await opens(a, sealed, Buffer.from("another record")), null);
  } finally {
    session.close();
    opened.close();
  }
});
