// Encrypted sessions against a real swtpm (libtpms, the TCG reference code), which checks every
// command HMAC reid computes and whose every response HMAC reid checks: both salts (ECC P-256 and
// RSA-2048), the authValue in the HMAC key, names and cpHash against tpm2-tools' own (--cphash),
// leftovers of killed clients, and, through a logging TCP proxy between the CLI and swtpm, that
// neither the identifier nor the owner password ever crosses the wire, and that a response changed
// on its way is refused (exit 6 tpm-integrity) with nothing written half.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { decodeArea } from "../../src/storage/record.js";
import { REID_NV_ATTRIBUTES } from "../../src/storage/tpm/nv-area.js";
import { type CommandInput, type CommandSpec, commandParts, password } from "../../src/tpm/command.js";
import { NV_DefineSpace, NV_Read, NV_UndefineSpace, NV_Write } from "../../src/tpm/commands/nv.js";
import { CreatePrimary } from "../../src/tpm/commands/object.js";
import { GetRandom } from "../../src/tpm/commands/random.js";
import { TPM_ALG, TPM_CC, TPM_RH, TPMA_NV } from "../../src/tpm/constants.js";
import { TpmResponseError } from "../../src/tpm/errors.js";
import { handleName, nvName } from "../../src/tpm/names.js";
import { cpHash } from "../../src/tpm/session/hmac-session.js";
import type { NvPublic } from "../../src/tpm/structures/nv.js";
import { eccP256Template } from "../../src/tpm/templates.js";
import type { Tpm, TpmOptions } from "../../src/tpm/tpm.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { assertOneLineError, reid } from "../helpers/cli.js";
import { containsBytes } from "../helpers/secret.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { secretFile, tempDir } from "../helpers/temp.js";
import { readIndex } from "../helpers/tpm-nv.js";
import { HierarchyChangeAuth } from "./hierarchy-change-auth.js";
import { flipParameterByte, tpmProxy } from "./proxy.js";
import * as tools from "./tools.js";
import { storeCli } from "./tools.js";

const swtpm = swtpmForFile();
let nextIndex = 0x01524c00;
const OWNER_RW = (TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE | TPMA_NV.NO_DA) >>> 0;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

async function open(t: TestContext, options?: TpmOptions): Promise<Tpm> {
  const tpm = await connectTpm((await swtpm()).address, 10_000, options);
  t.after(() => tpm.close());
  return tpm;
}

function indexPublic(nvIndex: number, size: number, written = false): NvPublic {
  return {
    nvIndex,
    nameAlg: TPM_ALG.SHA256,
    attributes: (OWNER_RW | (written ? TPMA_NV.WRITTEN : 0)) >>> 0,
    authPolicy: new Uint8Array(0),
    dataSize: size,
  };
}

const named = (pub: NvPublic) => ({ handle: pub.nvIndex, name: nvName(pub) });

/**
 * 24 random bytes for an owner password, the last neither LF (a password file's final newline is
 * not part of it, docs/spec.md §3.7) nor zero (the TPM drops an authValue's trailing zeros).
 */
function ownerPassword(): Uint8Array {
  const bytes = new Uint8Array(randomBytes(24));
  if (bytes[23] === 0x0a || bytes[23] === 0) bytes[23] = 0x5a;
  return bytes;
}

/**
 * Sets the owner's password for `use`, and always empties it again (the file's later tests need
 * none); each change on a connection of its own, as swtpm serves one client at a time.
 */
async function withOwnerPassword<T>(secret: Uint8Array, use: () => Promise<T>): Promise<T> {
  const change = async (from: Uint8Array, to: Uint8Array) => {
    const tpm = await connectTpm((await swtpm()).address, 10_000);
    try {
      await tpm.run(HierarchyChangeAuth, { authHandle: password(TPM_RH.OWNER, from), newAuth: to });
    } finally {
      await tpm.close();
    }
  };
  await change(new Uint8Array(0), secret);
  try {
    return await use();
  } finally {
    await change(secret, new Uint8Array(0));
  }
}

describe("the client's encrypted sessions", () => {
  for (const salt of ["ecc", "rsa"] as const) {
    test(`${salt === "ecc" ? "ECC P-256" : "RSA-2048"} salt: NV define, write, read, undefine and GetRandom all run on the session`, async (t) => {
      const tpm = await open(t, { sessions: "encrypted", salt });
      const pub = indexPublic(nextIndex++, 64);
      const data = new Uint8Array(randomBytes(64));
      await tpm.run(NV_DefineSpace, {
        authHandle: password(TPM_RH.OWNER),
        auth: new Uint8Array(0),
        publicInfo: pub,
      });
      await tpm.run(NV_Write, { authHandle: password(TPM_RH.OWNER), nvIndex: named(pub), data, offset: 0 });
      const written = indexPublic(pub.nvIndex, 64, true);
      const back = await tpm.run(NV_Read, {
        authHandle: password(TPM_RH.OWNER),
        nvIndex: named(written),
        size: 64,
        offset: 0,
      });
      assert.equal(hex(back.data), hex(data));
      assert.equal((await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes.length, 32);
      await tpm.run(NV_UndefineSpace, { authHandle: password(TPM_RH.OWNER), nvIndex: named(written) });
    });
  }

  test("the TPM checks each HMAC: a wrong owner password or a stale name is refused, and the session goes on", async () => {
    const secret = new Uint8Array(randomBytes(20));
    await withOwnerPassword(secret, async () => {
      const tpm = await connectTpm((await swtpm()).address, 10_000, { sessions: "encrypted" });
      try {
        const pub = indexPublic(nextIndex++, 16);
        const define = (auth: Uint8Array) =>
          tpm.run(NV_DefineSpace, {
            authHandle: password(TPM_RH.OWNER, auth),
            auth: new Uint8Array(0),
            publicInfo: pub,
          });
        const wrong = secret.slice();
        wrong[3] = (wrong[3] as number) ^ 1;
        for (const attempt of [new Uint8Array(0), wrong]) {
          await assert.rejects(define(attempt), (error: unknown) => {
            assert.ok(error instanceof TpmResponseError, String(error));
            assert.match(error.rc, /^TPM_RC_(BAD_AUTH|AUTH_FAIL)$/);
            return true;
          });
        }
        // Trailing zeros are not part of an authValue (Part 1, 19.6.5): the TPM agrees.
        await define(Uint8Array.from([...secret, 0, 0]));
        const owner = password(TPM_RH.OWNER, secret);
        // The index's name once written differs (TPMA_NV_WRITTEN): the unwritten name is now stale.
        await tpm.run(NV_Write, {
          authHandle: owner,
          nvIndex: named(pub),
          data: new Uint8Array(16),
          offset: 0,
        });
        await assert.rejects(
          tpm.run(NV_Read, { authHandle: owner, nvIndex: named(pub), size: 16, offset: 0 }),
          (error: unknown) => error instanceof TpmResponseError && /AUTH_FAIL|BAD_AUTH/.test(error.rc),
        );
        const written = indexPublic(pub.nvIndex, 16, true);
        await tpm.run(NV_Read, { authHandle: owner, nvIndex: named(written), size: 16, offset: 0 });
        await tpm.run(NV_UndefineSpace, { authHandle: owner, nvIndex: named(written) });
      } finally {
        await tpm.close();
      }
    });
  });

  test("nothing written or read crosses the wire in clear, and the owner password never does", async (t) => {
    const proxy = await tpmProxy(t, port(await swtpm()));
    const secret = ownerPassword();
    const data = new Uint8Array(randomBytes(128));
    let random: Uint8Array = new Uint8Array(0);
    await withOwnerPassword(secret, async () => {
      const tpm = await connectTpm(
        { kind: "tcp", host: "127.0.0.1", port: Number(proxy.spec.split("port=")[1]) },
        10_000,
        { sessions: "encrypted" },
      );
      try {
        const owner = password(TPM_RH.OWNER, secret);
        const pub = indexPublic(nextIndex++, 128);
        await tpm.run(NV_DefineSpace, { authHandle: owner, auth: new Uint8Array(0), publicInfo: pub });
        await tpm.run(NV_Write, { authHandle: owner, nvIndex: named(pub), data, offset: 0 });
        const written = named(indexPublic(pub.nvIndex, 128, true));
        const back = await tpm.run(NV_Read, { authHandle: owner, nvIndex: written, size: 128, offset: 0 });
        assert.equal(hex(back.data), hex(data));
        random = (await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes;
        await tpm.run(NV_UndefineSpace, { authHandle: owner, nvIndex: written });
      } finally {
        await tpm.close();
      }
    });
    const traffic = proxy.traffic();
    assert.ok(proxy.log.some((c) => c.code === TPM_CC.StartAuthSession));
    for (const [what, secretBytes] of [
      ["the owner password", secret],
      ["the NV data", data.subarray(0, 16)],
      ["the NV data's end", data.subarray(112)],
      ["GetRandom's bytes", random.subarray(0, 16)],
    ] as const) {
      assert.ok(!containsBytes(traffic, secretBytes), `${what} crossed the wire`);
    }
    // The search finds what is there: the index handle travels in clear, as it must.
    assert.ok(containsBytes(traffic, handleName(nextIndex - 1)));
  });

  test("cpHash and NV names equal tpm2-tools' (--cphash) for NV_Read and NV_Write authorized by reid's index itself, and NV_UndefineSpace", async (t) => {
    const { dir } = tempDir(t);
    const index = nextIndex++;
    const pub = { ...indexPublic(index, 256), attributes: REID_NV_ATTRIBUTES };
    const tools = async (args: string[]) => {
      const file = join(dir, "cphash.bin");
      await tpm2Ok([...args, "--cphash", file]);
      const bytes = readFileSync(file);
      // A TPM2B_DIGEST: its size, then the digest.
      assert.equal(bytes.readUInt16BE(0), 32);
      return hex(bytes.subarray(2));
    };
    const ours = <C extends CommandSpec>(spec: C, input: CommandInput<C>) => {
      const parts = commandParts(spec, input);
      return hex(
        cpHash(
          spec.code,
          parts.names.map((name, i) => name ?? handleName(parts.handles[i] as number)),
          parts.parameters,
        ),
      );
    };
    await tpm2Ok([
      "tpm2_nvdefine",
      "-C",
      "o",
      "-s",
      "256",
      "-a",
      "authread|authwrite",
      `0x${index.toString(16)}`,
    ]);
    const hexIndex = `0x${index.toString(16)}`;
    // The index authorizes itself: authHandle and nvIndex are the same entity, named alike.
    const self = (p: NvPublic) => ({ ...named(p), password: new Uint8Array(0) });
    const data = randomBytes(256);
    writeFileSync(join(dir, "data.bin"), data);
    // Before the first write, the index's name has no TPMA_NV_WRITTEN.
    assert.equal(
      await tools(["tpm2_nvwrite", "-C", hexIndex, "-i", join(dir, "data.bin"), hexIndex]),
      ours(NV_Write, { authHandle: self(pub), nvIndex: named(pub), data, offset: 0 }),
    );
    await tpm2Ok(["tpm2_nvwrite", "-C", hexIndex, "-i", join(dir, "data.bin"), hexIndex]);
    const written = { ...pub, attributes: (REID_NV_ATTRIBUTES | TPMA_NV.WRITTEN) >>> 0 };
    assert.equal(
      await tools(["tpm2_nvread", "-C", hexIndex, "-s", "256", "--offset", "0", hexIndex]),
      ours(NV_Read, { authHandle: self(written), nvIndex: named(written), size: 256, offset: 0 }),
    );
    assert.notEqual(
      await tools(["tpm2_nvread", "-C", hexIndex, "-s", "256", "--offset", "0", hexIndex]),
      ours(NV_Read, { authHandle: self(pub), nvIndex: named(pub), size: 256, offset: 0 }),
      "the unwritten name must not match a written index",
    );
    assert.equal(
      await tools(["tpm2_nvundefine", "-C", "o", `0x${index.toString(16)}`]),
      ours(NV_UndefineSpace, { authHandle: password(TPM_RH.OWNER), nvIndex: named(written) }),
    );
    await tpm2Ok(["tpm2_nvundefine", "-C", "o", `0x${index.toString(16)}`]);
  });

  test("sessions and salt keys left by killed clients are flushed when the TPM runs out of room", async (t) => {
    const { address } = await swtpm();
    // Clients that die without flushing (the transport closed under them, as a SIGKILL does):
    // more sessions and transient objects than swtpm can hold loaded (3 each).
    for (let i = 0; i < 4; i++) {
      const dying = await connectTpm(address, 10_000, { sessions: "encrypted" });
      await dying.run(GetRandom, { bytesRequested: 8 });
      await dying.transport.close();
    }
    const leaky = await connectTpm(address, 10_000);
    const primary = () =>
      leaky.run(CreatePrimary, {
        primaryHandle: password(TPM_RH.NULL),
        inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
        inPublic: eccP256Template("sign"),
        outsideInfo: new Uint8Array(0),
        creationPCR: [],
      });
    let full = false;
    for (let i = 0; i < 8 && !full; i++) {
      await primary().catch((error: unknown) => {
        assert.ok(error instanceof TpmResponseError && error.rc === "TPM_RC_OBJECT_MEMORY", String(error));
        full = true;
      });
    }
    assert.ok(full, "swtpm never ran out of object memory");
    await leaky.transport.close();
    const tpm = await open(t, { sessions: "encrypted" });
    assert.equal((await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes.length, 32);
  });
});

describe("the CLI through a logging proxy", () => {
  /** A store on a fresh index pair, reached through a proxy; the owner's password in a file. */
  async function proxied(t: TestContext, sessions?: "password" | "encrypted") {
    const sw = await swtpm();
    const proxy = await tpmProxy(t, port(sw));
    const { dir, store } = tempDir(t);
    const nvIndex = nextIndex;
    nextIndex += 4;
    const owner = ownerPassword();
    const ownerFile = secretFile(dir, "owner.pass", owner);
    const spec = `${proxy.spec},nv-index=0x${nvIndex.toString(16).padStart(8, "0")}${sessions ? `,sessions=${sessions}` : ""},owner-auth-file=${ownerFile}`;
    const { run, ok } = storeCli(store, spec);
    /** The identifiers in reid's two indices, read straight from swtpm (not through the proxy). */
    const identifiers = async () => {
      const direct = await connectTpm(sw.address, 10_000);
      try {
        const found: Uint8Array[] = [];
        for (const index of [nvIndex, nvIndex + 1]) {
          const bytes = await readIndex(direct, index, owner);
          const area = bytes.length === 0 ? null : decodeArea(bytes);
          if (area?.kind === "record" && area.record.identifier) found.push(area.record.identifier);
        }
        return found;
      } finally {
        await direct.close();
      }
    };
    return { proxy, store, spec, owner, run, ok, identifiers };
  }

  /** Every spelling of `secret` a careless client might send: raw, hex (either case), base64. */
  function spellings(secret: Uint8Array): Buffer[] {
    const b = Buffer.from(secret);
    return [
      b,
      Buffer.from(b.toString("hex")),
      Buffer.from(b.toString("hex").toUpperCase()),
      Buffer.from(b.toString("base64")),
      Buffer.from(b.toString("base64url")),
    ];
  }

  function leaks(traffic: Buffer, secret: Uint8Array): string[] {
    return spellings(secret)
      .filter((spelling) => containsBytes(traffic, spelling))
      .map((spelling) => spelling.subarray(0, 8).toString("latin1"));
  }

  test("init, reset, status and keys: neither the identifier nor the owner password is anywhere in the traffic", async (t) => {
    const element = await proxied(t);
    await withOwnerPassword(element.owner, async () => {
      await element.ok(["init"]);
      const first = await element.identifiers();
      await element.ok(["reset"]);
      const second = await element.identifiers();
      await element.ok(["status"]);
      await element.ok(["keys"]);
      const traffic = element.proxy.traffic();
      assert.equal(first.length, 1);
      assert.equal(second.length, 1);
      for (const secret of [first[0], second[0], element.owner] as Uint8Array[]) {
        assert.deepEqual(leaks(traffic, secret), [], "a secret crossed the wire");
      }
      // Every command that authorizes ran on a session, never with a password (TPM_RS_PW).
      const commands = element.proxy.log.filter((c) => c.direction === "command");
      assert.ok(commands.some((c) => c.code === TPM_CC.StartAuthSession));
      assert.ok(
        commands.some((c) => c.code === TPM_CC.NV_Write) && commands.some((c) => c.code === TPM_CC.NV_Read),
      );
      assert.deepEqual(passwordUses(commands), [], "commands authorized with a password (TPM_RS_PW)");
    });
  });

  test("the same with sessions=password: the search finds the identifier and the password in the traffic", async (t) => {
    const element = await proxied(t, "password");
    await withOwnerPassword(element.owner, async () => {
      await element.ok(["init"]);
      await element.ok(["status"]);
      const [identifier] = await element.identifiers();
      const traffic = element.proxy.traffic();
      assert.ok(identifier);
      assert.notDeepEqual(leaks(traffic, identifier), []);
      assert.notDeepEqual(leaks(traffic, element.owner), []);
      assert.ok(!element.proxy.log.some((c) => c.code === TPM_CC.StartAuthSession), "a session was started");
      const remembered = JSON.parse(readFileSync(join(element.store, "store.json"), "utf8")) as {
        spec: string;
      };
      assert.match(remembered.spec, /,sessions=password,owner-auth-file=/);
    });
  });

  test("a flipped byte in a response's parameters is refused (exit 6 tpm-integrity); nothing is written half", async (t) => {
    const element = await proxied(t);
    await withOwnerPassword(element.owner, async () => {
      // init: GetRandom's answer changed on its way: refused before anything is written.
      element.proxy.tamper = (response, code, index) =>
        code === TPM_CC.GetRandom && index === 0 ? flipParameterByte(response) : response;
      assertOneLineError(
        await element.run(["init"]),
        6,
        /answer to TPM2_GetRandom fails the session's integrity check: its HMAC does not match/,
      );
      element.proxy.tamper = null;
      assert.deepEqual(await element.identifiers(), []);
      assert.equal(
        (JSON.parse((await element.ok(["--json", "status"])).stdout) as { generation: number }).generation,
        0,
      );
      await element.ok(["init"]);
      const before = await element.identifiers();
      const status = JSON.parse((await element.ok(["--json", "status"])).stdout) as {
        generation: number;
        handle: string;
      };
      // status: the record's own read (NV_Read) changed on its way.
      const seen = element.proxy.log.filter(
        (c) => c.code === TPM_CC.NV_Read && c.direction === "response",
      ).length;
      element.proxy.tamper = (response, code, index) =>
        code === TPM_CC.NV_Read && index === seen ? flipParameterByte(response) : response;
      const refused = await element.run(["--json", "status"]);
      assertOneLineError(refused, 6, /TPM2_NV_Read fails the session's integrity check/);
      assert.match(refused.stderr, /tpm-integrity/);
      // reset: NV_Write's answer changed (its HMAC: NV_Write answers no parameters).
      element.proxy.tamper = (response, code) => {
        if (code !== TPM_CC.NV_Write) return response;
        const copy = Uint8Array.from(response);
        copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0x80;
        return copy;
      };
      assertOneLineError(
        await element.run(["reset"]),
        6,
        /TPM2_NV_Write fails the session's integrity check/,
      );
      element.proxy.tamper = null;
      // The old record or the new, whole: never a torn or lost one; and reid goes on from there.
      const after = JSON.parse((await element.ok(["--json", "status"])).stdout) as {
        generation: number;
        handle: string;
      };
      assert.ok(after.generation === 1 || after.generation === 2, String(after.generation));
      if (after.generation === 1) assert.equal(after.handle, status.handle);
      const now = await element.identifiers();
      assert.ok(now.length >= 1 && now.length <= 2);
      if (after.generation === 1) assert.ok(now.some((id) => hex(id) === hex(before[0] as Uint8Array)));
      await element.ok(["reset"]);
      assert.equal(
        (JSON.parse((await element.ok(["--json", "status"])).stdout) as { generation: number }).generation,
        after.generation + 1,
      );
    });
  });

  test("a store.json from before sessions= opens with encrypted sessions, and keeps its spec's other parameters", async (t) => {
    const element = await proxied(t, "encrypted");
    await withOwnerPassword(element.owner, async () => {
      await element.ok(["init"]);
      const file = join(element.store, "store.json");
      const marker = JSON.parse(readFileSync(file, "utf8")) as { spec: string };
      writeFileSync(
        file,
        `${JSON.stringify({ ...marker, spec: marker.spec.replace(",sessions=encrypted", "") })}\n`,
        {
          mode: 0o600,
        },
      );
      const started = element.proxy.log.length;
      const result = await reid(["--store", element.store, "--json", "status"]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(element.proxy.log.slice(started).some((c) => c.code === TPM_CC.StartAuthSession));
    });
  });
});

/** Handles before the authorization area, by command code. */
const HANDLES: Readonly<Record<number, number>> = {
  [TPM_CC.NV_Write]: 2,
  [TPM_CC.NV_Read]: 2,
  [TPM_CC.NV_Increment]: 2,
  [TPM_CC.NV_UndefineSpace]: 2,
  [TPM_CC.NV_DefineSpace]: 1,
  [TPM_CC.CreatePrimary]: 1,
  [TPM_CC.GetRandom]: 0,
};

/**
 * The commands that carried a password session (TPM_RS_PW), as "0xCODE", but the one that must:
 * the salt key's CreatePrimary under the null hierarchy, whose password is empty.
 */
function passwordUses(commands: readonly { code: number; bytes: Uint8Array }[]): string[] {
  return commands
    .filter((c) => {
      const view = Buffer.from(c.bytes);
      if (view.readUInt16BE(0) !== 0x8002) return false;
      const handles = HANDLES[c.code];
      if (handles === undefined) return true;
      const session = view.readUInt32BE(10 + 4 * handles + 4);
      return (
        session === TPM_RH.RS_PW &&
        !(c.code === TPM_CC.CreatePrimary && view.readUInt32BE(10) === TPM_RH.NULL)
      );
    })
    .map((c) => `0x${c.code.toString(16)}`);
}

function port(sw: { address: { kind: string; port?: number } }): number {
  if (sw.address.kind !== "tcp" || !sw.address.port) throw new Error("the proxy needs swtpm on TCP");
  return sw.address.port;
}

async function tpm2Ok(args: readonly string[]) {
  return tools.tpm2Ok((await swtpm()).tcti, args);
}
