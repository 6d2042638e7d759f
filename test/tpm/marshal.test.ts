// The TPM client's marshaling pinned three ways: literal byte vectors worked out from the TPM 2.0
// spec's command tables; the bytes Debian's tpm2-tools itself sends to a real swtpm (recorded by a
// proxy in between, so the reference is independent of us); and property tests of the codec engine
// (every value reads back equal, every truncated encoding is a MarshalError, never a crash).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import fc from "fast-check";
import {
  type CommandInput,
  type CommandSpec,
  marshalCommand,
  password,
  responseCode,
  unmarshalResponse,
} from "../../src/tpm/command.js";
import { GetCapability } from "../../src/tpm/commands/capability.js";
import { Clear } from "../../src/tpm/commands/hierarchy.js";
import {
  NV_DefineSpace,
  NV_Read,
  NV_ReadPublic,
  NV_UndefineSpace,
  NV_Write,
} from "../../src/tpm/commands/nv.js";
import { FlushContext, ReadPublic } from "../../src/tpm/commands/object.js";
import { GetRandom } from "../../src/tpm/commands/random.js";
import { Startup } from "../../src/tpm/commands/startup.js";
import { TPM_ALG, TPM_CAP, TPM_PT, TPM_RH, TPM_SU, TPMA_NV } from "../../src/tpm/constants.js";
import { TpmResponseError, TpmTransportError } from "../../src/tpm/errors.js";
import { MarshalError, TpmReader, TpmWriter } from "../../src/tpm/marshal/buffer.js";
import {
  type Codec,
  list,
  sized,
  sizedBytes,
  struct,
  tagged,
  u8,
  u8Bytes,
  u16,
  u32,
  u64,
} from "../../src/tpm/marshal/codec.js";
import { decodeResponseCode, describeResponseCode, RETRYABLE } from "../../src/tpm/response-code.js";
import { nvPublic2b } from "../../src/tpm/structures/nv.js";
import { finished } from "../helpers/process.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { tempDir } from "../helpers/temp.js";

const swtpm = swtpmForFile();

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const bytes = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));

/** A plain owner-read/owner-write index, as tpm2_nvdefine -a "ownerread|ownerwrite" makes it. */
const OWNER_RW = TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE;

describe("command byte vectors from the spec's tables", () => {
  const cases: [string, Uint8Array, string][] = [
    // tag NO_SESSIONS, size 12, TPM_CC_GetRandom, bytesRequested 16.
    ["TPM2_GetRandom(16)", marshalCommand(GetRandom, { bytesRequested: 16 }), "8001 0000000c 0000017b 0010"],
    [
      "TPM2_Startup(CLEAR)",
      marshalCommand(Startup, { startupType: TPM_SU.CLEAR }),
      "8001 0000000c 00000144 0000",
    ],
    [
      "TPM2_GetCapability(TPM_PROPERTIES, PT_FIXED, 127)",
      marshalCommand(GetCapability, {
        capability: TPM_CAP.TPM_PROPERTIES,
        property: TPM_PT.FAMILY_INDICATOR,
        propertyCount: 127,
      }),
      "8001 00000016 0000017a 00000006 00000100 0000007f",
    ],
    [
      "TPM2_NV_ReadPublic(0x01500016)",
      marshalCommand(NV_ReadPublic, { nvIndex: 0x01500016 }),
      "8001 0000000e 00000169 01500016",
    ],
    // The flushed handle is a parameter, not in the handle area: the bytes are the same either way,
    // but the size would not be if the engine added an authorization area.
    [
      "TPM2_FlushContext(0x80000000)",
      marshalCommand(FlushContext, { flushHandle: 0x80000000 }),
      "8001 0000000e 00000165 80000000",
    ],
    [
      // tag SESSIONS; handles OWNER, index; authorizationSize 9: TPM_RS_PW, empty nonce,
      // continueSession, empty password; then data (TPM2B) and offset.
      "TPM2_NV_Write(owner, 0x01500016, deadbeef, 0)",
      marshalCommand(NV_Write, {
        authHandle: password(TPM_RH.OWNER),
        nvIndex: 0x01500016,
        data: bytes("deadbeef"),
        offset: 0,
      }),
      "8002 00000027 00000137 40000001 01500016 00000009 40000009 0000 01 0000 0004 deadbeef 0000",
    ],
    [
      // A password travels in the clear in the session's hmac field: "pw" here, a test value.
      "TPM2_NV_Write with an owner password",
      marshalCommand(NV_Write, {
        authHandle: password(TPM_RH.OWNER, new TextEncoder().encode("pw")),
        nvIndex: 0x01500016,
        data: bytes("00"),
        offset: 7,
      }),
      "8002 00000026 00000137 40000001 01500016 0000000b 40000009 0000 01 0002 7077 0001 00 0007",
    ],
    [
      // auth empty, then TPM2B_NV_PUBLIC of 14 bytes: index, SHA-256, attributes, no policy, 32 bytes.
      "TPM2_NV_DefineSpace(owner, 0x01500016, 32 bytes)",
      marshalCommand(NV_DefineSpace, {
        authHandle: password(TPM_RH.OWNER),
        auth: new Uint8Array(0),
        publicInfo: {
          nvIndex: 0x01500016,
          nameAlg: TPM_ALG.SHA256,
          attributes: OWNER_RW,
          authPolicy: new Uint8Array(0),
          dataSize: 32,
        },
      }),
      "8002 0000002d 0000012a 40000001 00000009 40000009 0000 01 0000 0000 000e 01500016 000b 00020002 0000 0020",
    ],
    [
      "TPM2_NV_Read(owner, 0x01500016, 32, 0)",
      marshalCommand(NV_Read, {
        authHandle: password(TPM_RH.OWNER),
        nvIndex: 0x01500016,
        size: 32,
        offset: 0,
      }),
      "8002 00000023 0000014e 40000001 01500016 00000009 40000009 0000 01 0000 0020 0000",
    ],
    [
      "TPM2_Clear(platform)",
      marshalCommand(Clear, { authHandle: password(TPM_RH.PLATFORM) }),
      "8002 0000001b 00000126 4000000c 00000009 40000009 0000 01 0000",
    ],
  ];
  for (const [name, ours, expected] of cases) {
    test(name, () => assert.equal(hex(ours), hex(bytes(expected))));
  }

  test("the checker is not vacuous: a byte off anywhere is a different vector", () => {
    const good = marshalCommand(GetRandom, { bytesRequested: 16 });
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i] = (bad[i] as number) ^ 1;
      assert.notEqual(hex(bad), "80010000000c0000017b0010");
    }
  });

  test("values that do not fit their field are refused before any byte is sent", () => {
    assert.throws(() => marshalCommand(GetRandom, { bytesRequested: 0x10000 }), RangeError);
    assert.throws(() => marshalCommand(GetRandom, { bytesRequested: -1 }), RangeError);
    assert.throws(() => marshalCommand(GetRandom, { bytesRequested: 1.5 }), RangeError);
    assert.throws(
      () =>
        marshalCommand(NV_Write, {
          authHandle: password(TPM_RH.OWNER),
          nvIndex: 0x01500016,
          data: new Uint8Array(2049),
          offset: 0,
        }),
      /at most 2048 bytes/,
    );
  });
});

describe("response byte vectors", () => {
  test("TPM2_GetRandom: the bytes inside the TPM2B_DIGEST", () => {
    const out = unmarshalResponse(GetRandom, bytes("8001 00000014 00000000 0008 0102030405060708"));
    assert.equal(hex(out.randomBytes), "0102030405060708");
  });

  test("TPM2_NV_ReadPublic: the public area and the name", () => {
    const name = `000b${"ab".repeat(32)}`;
    const out = unmarshalResponse(
      NV_ReadPublic,
      bytes(`8001 0000003e 00000000 000e 01500016 000b 20020002 0000 0020 0022 ${name}`),
    );
    assert.deepEqual(out.nvPublic, {
      nvIndex: 0x01500016,
      nameAlg: TPM_ALG.SHA256,
      attributes: OWNER_RW | TPMA_NV.WRITTEN,
      authPolicy: new Uint8Array(0),
      dataSize: 32,
    });
    assert.equal(hex(out.nvName), name);
  });

  test("TPM2_GetCapability: tagged properties ('IBM', input buffer 1024)", () => {
    const out = unmarshalResponse(
      GetCapability,
      bytes("8001 00000023 00000000 01 00000006 00000002 00000105 49424d00 0000010d 00000400"),
    );
    assert.deepEqual(out, {
      moreData: 1,
      capabilityData: {
        capability: TPM_CAP.TPM_PROPERTIES,
        properties: [
          { property: TPM_PT.MANUFACTURER, value: 0x49424d00 },
          { property: TPM_PT.INPUT_BUFFER, value: 0x400 },
        ],
      },
    });
  });

  test("a response with a session: parameterSize, parameters, then the session's acknowledgement", () => {
    const out = unmarshalResponse(NV_Read, bytes("8002 00000017 00000000 00000004 0002 cafe 0000 01 0000"));
    assert.equal(hex(out.data), "cafe");
    // And with no parameters (NV_Write): parameterSize 0, then the acknowledgement.
    assert.deepEqual(unmarshalResponse(NV_Write, bytes("8002 00000013 00000000 00000000 0000 01 0000")), {});
  });

  test("known-bad responses are refused with a one-line error that says what is wrong", () => {
    const malformed: [string, string, RegExp][] = [
      ["8001 00000014 00000000 0008 01020304050607", "truncated", /responseSize says 20 bytes, 19 arrived/],
      [
        "8001 00000013 00000000 0008 01020304050607",
        "size short",
        /truncated at byte 12 reading TPM2B_DIGEST/,
      ],
      [
        "8001 00000015 00000000 0008 0102030405060708 ff",
        "trailing",
        /1 unexpected bytes after the response/,
      ],
      ["8002 00000014 00000000 0008 0102030405060708", "wrong tag", /tag 0x8002 where 0x8001 belongs/],
      [`8001 00000054 00000000 0048${"00".repeat(72)}`, "over 64", /TPM2B_DIGEST of 72 bytes exceeds/],
      ["8001 0000", "header", /truncated at byte 2 reading responseSize/],
      ["", "empty", /truncated at byte 0 reading tag/],
    ];
    for (const [vector, what, message] of malformed) {
      assert.throws(
        () => unmarshalResponse(GetRandom, bytes(vector)),
        (error: unknown) => {
          assert.ok(error instanceof TpmTransportError, `${what}: ${String(error)}`);
          assert.equal(error.code, "tpm-malformed", what);
          assert.match(error.message, /^malformed response to TPM2_GetRandom: /, what);
          assert.match(error.message, message, what);
          assert.doesNotMatch(error.message, /\n/, what);
          return true;
        },
      );
    }
  });

  test("an error code becomes a TpmResponseError naming the command, the code and the entity", () => {
    assert.throws(
      () => unmarshalResponse(NV_ReadPublic, bytes("8001 0000000a 0000018b"), [0x01500016]),
      (error: unknown) => {
        assert.ok(error instanceof TpmResponseError);
        assert.equal(error.rc, "TPM_RC_HANDLE");
        assert.equal(error.responseCode, 0x18b);
        assert.equal(
          error.message,
          "TPM2_NV_ReadPublic failed: TPM_RC_HANDLE: the NV index 0x01500016 is not defined (handle 1, 0x18b)",
        );
        return true;
      },
    );
    assert.equal(responseCode(bytes("8001 0000000a 00000100"), "x"), 0x100);
  });
});

describe("response codes decoded into readable errors", () => {
  const table: [number, readonly number[], string][] = [
    [0x18b, [0x01500016], "TPM_RC_HANDLE: the NV index 0x01500016 is not defined (handle 1, 0x18b)"],
    [0x18b, [0x80000001], "TPM_RC_HANDLE: the object 0x80000001 is not loaded (handle 1, 0x18b)"],
    [0x28b, [0x40000001, 0x81000001], "TPM_RC_HANDLE: the object 0x81000001 is not loaded (handle 2, 0x28b)"],
    // Without the handles the text stays the general one rather than guessing.
    [0x18b, [], "TPM_RC_HANDLE: the handle is not correct for the use (handle 1, 0x18b)"],
    // A flushed object: real TPMs answer TPM_RC_REFERENCE_H0 (a warning), not TPM_RC_HANDLE.
    [0x910, [0x80000000], "TPM_RC_REFERENCE_H0: the object 0x80000000 is not loaded (handle 1, 0x910)"],
    [
      0x911,
      [],
      "TPM_RC_REFERENCE_H1: handle 2 references a transient object or session that is not loaded (handle 2, 0x911)",
    ],
    [0x918, [], "TPM_RC_REFERENCE_S0: session 1 references a session that is not loaded (session 1, 0x918)"],
    [0x917, [], "TPM_RC_UNKNOWN: an unknown warning (0x917)"],
    [0x100, [], "TPM_RC_INITIALIZE: TPM not initialized by TPM2_Startup or already initialized (0x100)"],
    [0x922, [], "TPM_RC_RETRY: the TPM was not able to start the command (0x922)"],
    [0x9a2, [], "TPM_RC_BAD_AUTH: authorization failure without DA implications (session 1, 0x9a2)"],
    [
      0x98e,
      [],
      "TPM_RC_AUTH_FAIL: the authorization HMAC check failed and the DA counter was incremented (session 1, 0x98e)",
    ],
    [0x1c4, [], "TPM_RC_VALUE: value is out of range or is not correct for the context (parameter 1, 0x1c4)"],
    [0x2d5, [], "TPM_RC_SIZE: structure is the wrong size (parameter 2, 0x2d5)"],
    [
      0xfc4,
      [],
      "TPM_RC_VALUE: value is out of range or is not correct for the context (parameter 15, 0xfc4)",
    ],
    [
      0x14a,
      [],
      "TPM_RC_NV_UNINITIALIZED: an NV index is used before being initialized (it was never written) (0x14a)",
    ],
    [0x14c, [], "TPM_RC_NV_DEFINED: NV index or persistent object already defined (0x14c)"],
    [0x146, [], "TPM_RC_NV_RANGE: NV offset+size is out of range (0x146)"],
    [0x920, [], "TPM_RC_NV_RATE: the TPM is rate-limiting accesses to prevent wearout of NV (0x920)"],
    [
      0x921,
      [],
      "TPM_RC_LOCKOUT: authorizations for objects subject to DA protection are not allowed at this time (0x921)",
    ],
    [0x17f, [], "TPM_RC_UNKNOWN: an unknown error (0x17f)"],
    [0x97f, [], "TPM_RC_UNKNOWN: an unknown warning (0x97f)"],
    [0x0bf, [], "TPM_RC_UNKNOWN: an unknown format-one error (0x0bf)"],
    [0x500, [], "TPM_RC_VENDOR: a vendor-defined error (0x500)"],
    // TPM 1.2's TPM_BADINDEX: a TPM 1.2 answered, which no TPM 2.0 code can be mistaken for.
    [0x002, [], "TPM_RC_1.2: a TPM 1.2 response code: this is not a TPM 2.0 (0x002)"],
  ];
  for (const [code, handles, text] of table) {
    test(`0x${code.toString(16)}${handles.length ? ` on ${handles.map((h) => h.toString(16))}` : ""}`, () => {
      assert.equal(describeResponseCode(code, handles), text);
    });
  }

  test("warnings, and which of them are worth sending again", () => {
    assert.equal(decodeResponseCode(0x922).warning, true);
    assert.equal(decodeResponseCode(0x100).warning, false);
    assert.equal(
      decodeResponseCode(0x9a2).warning,
      false,
      "format-one codes are errors whatever bit 11 says",
    );
    assert.deepEqual(decodeResponseCode(0x9a2).subject, { kind: "session", index: 1 });
    assert.deepEqual(decodeResponseCode(0x2c4).subject, { kind: "parameter", index: 2 });
    for (const code of [0x908, 0x90a, 0x920, 0x922, 0x923])
      assert.ok(RETRYABLE.has(code), `0x${code.toString(16)}`);
    for (const code of [0x100, 0x18b, 0x9a2, 0x921, 0x14c])
      assert.ok(!RETRYABLE.has(code), `0x${code.toString(16)}`);
  });

  test("the table checker is not vacuous: a wrong decoding is noticed", () => {
    assert.notEqual(describeResponseCode(0x18b, [0x01500016]), describeResponseCode(0x18b, [0x80000001]));
    assert.notEqual(describeResponseCode(0x1c4), describeResponseCode(0x2c4));
  });
});

/**
 * A TCP proxy that records every command frame and the response to it, so the bytes tpm2-tools
 * sends can be compared with ours. Frames are split by their header's size, since TCP may merge or
 * split them. tpm2-tools' swtpm TCTI also needs the control port (data port + 1): forwarded as is.
 */
async function recordingProxy(t: TestContext, target: number) {
  const exchanges: { command: Uint8Array; response?: Uint8Array }[] = [];
  const sockets = new Set<Socket>();
  const frames = (onFrame: (frame: Uint8Array) => void) => {
    let pending = Buffer.alloc(0);
    return (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 6 && pending.length >= pending.readUInt32BE(2)) {
        const size = pending.readUInt32BE(2);
        onFrame(new Uint8Array(pending.subarray(0, size)));
        pending = pending.subarray(size);
      }
    };
  };
  const forward = (to: number, record: boolean) =>
    createServer((client) => {
      const upstream = connect({ host: "127.0.0.1", port: to });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on("data", (chunk) => upstream.write(chunk));
      upstream.on("data", (chunk) => client.write(chunk));
      if (record) {
        client.on(
          "data",
          frames((command) => exchanges.push({ command })),
        );
        upstream.on(
          "data",
          frames((response) => {
            const last = exchanges.findLast((e) => !e.response);
            if (last) last.response = response;
          }),
        );
      }
    });
  const listen = (server: Server, port: number) =>
    new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen({ port, host: "127.0.0.1" }, () => resolve(true));
    });
  // Two consecutive free ports, as the TCTI requires: the kernel picks one, the next is tried.
  for (let attempt = 0; attempt < 50; attempt++) {
    const data = forward(target, true);
    const control = forward(target + 1, false);
    if (await listen(data, 0)) {
      const port = (data.address() as { port: number }).port;
      if (port < 65535 && (await listen(control, port + 1))) {
        t.after(async () => {
          for (const socket of sockets) socket.destroy();
          await new Promise((resolve) => data.close(resolve));
          await new Promise((resolve) => control.close(resolve));
        });
        return { port, exchanges };
      }
      await new Promise((resolve) => data.close(resolve));
    }
  }
  throw new Error("no two consecutive free ports for the recording proxy");
}

/** The frame's parts: header, handles (as many as the command has), authorization area, parameters. */
function split(frame: Uint8Array, handleCount: number) {
  const r = new TpmReader(frame);
  const tag = r.u16("tag");
  const size = r.u32("size");
  const code = r.u32("code");
  const handles = Array.from({ length: handleCount }, () => r.u32("handle"));
  const auth = tag === 0x8002 ? r.raw(r.u32("authorizationSize"), "authorization area") : new Uint8Array(0);
  const parameters = r.raw(r.remaining, "parameters");
  return { tag, size, code, handles, auth, parameters: hex(parameters) };
}

/**
 * Whether our command carries what tpm2-tools' does. tpm2-tools authorizes with HMAC sessions, we
 * with password sessions, so the authorization areas differ by design; all else must be equal.
 */
function assertSameCommand(ours: Uint8Array, theirs: Uint8Array, handleCount: number, what: string): void {
  const a = split(ours, handleCount);
  const b = split(theirs, handleCount);
  assert.equal(a.size, ours.length, `${what}: our size field`);
  assert.equal(b.size, theirs.length, `${what}: tpm2-tools' size field`);
  assert.deepEqual(
    { tag: a.tag, code: a.code, handles: a.handles, parameters: a.parameters },
    { tag: b.tag, code: b.code, handles: b.handles, parameters: b.parameters },
    what,
  );
  if (a.tag === 0x8001) assert.equal(hex(ours), hex(theirs), what);
}

describe("against what tpm2-tools sends (recorded between tpm2-tools and swtpm)", () => {
  const INDEX = 0x01500016;

  async function tpm2(port: number, args: readonly string[]) {
    const child = spawn(args[0] as string, args.slice(1), {
      env: { PATH: process.env.PATH, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const { code, stdout, stderr } = await finished(child);
    return { code, stdout, stderr: stderr.toString("utf8") };
  }

  /** Runs one tool through the proxy; returns its output and the exchanges of the given command. */
  async function recorded(t: TestContext, args: readonly string[], spec: CommandSpec, ok = true) {
    const { address } = await swtpm();
    assert.equal(address.kind, "tcp");
    const proxy = await recordingProxy(t, address.kind === "tcp" ? address.port : 0);
    const result = await tpm2(proxy.port, args);
    if (ok) assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr.trim()}`);
    const matching = proxy.exchanges.filter((e) => Buffer.from(e.command).readUInt32BE(6) === spec.code);
    assert.ok(matching.length > 0, `${args[0]} sent no ${spec.name}`);
    return { ...result, matching };
  }

  function same<C extends CommandSpec>(spec: C, input: CommandInput<C>, theirs: Uint8Array): void {
    assertSameCommand(marshalCommand(spec, input), theirs, spec.handles.length, spec.name);
  }

  test("TPM2_GetRandom: same command; the response parses to what tpm2_getrandom printed", async (t) => {
    const run = await recorded(t, ["tpm2_getrandom", "--hex", "16"], GetRandom);
    const exchange = run.matching[0];
    assert.ok(exchange?.response);
    same(GetRandom, { bytesRequested: 16 }, exchange.command);
    const { randomBytes } = unmarshalResponse(GetRandom, exchange.response);
    assert.equal(randomBytes.length, 16);
    assert.equal(hex(randomBytes), run.stdout.toString("utf8").trim());
  });

  test("TPM2_GetCapability: same command; the properties parse to what tpm2_getcap printed", async (t) => {
    const run = await recorded(t, ["tpm2_getcap", "properties-fixed"], GetCapability);
    const exchange = run.matching[0];
    assert.ok(exchange?.response);
    same(
      GetCapability,
      { capability: TPM_CAP.TPM_PROPERTIES, property: TPM_PT.FAMILY_INDICATOR, propertyCount: 127 },
      exchange.command,
    );
    const { capabilityData } = unmarshalResponse(GetCapability, exchange.response);
    assert.equal(capabilityData.capability, TPM_CAP.TPM_PROPERTIES);
    if (capabilityData.capability !== TPM_CAP.TPM_PROPERTIES) return;
    const printed = run.stdout.toString("utf8");
    // tpm2_getcap prints "TPM2_PT_INPUT_BUFFER:\n  raw: 0x400" for each property.
    const raw = (name: string) => {
      const match = new RegExp(`^${name}:\\s*\\n\\s+raw: (0x[0-9a-fA-F]+)`, "m").exec(printed);
      assert.ok(match, `tpm2_getcap printed no ${name}`);
      return Number(match[1]);
    };
    const ours = new Map(capabilityData.properties.map((p) => [p.property, p.value]));
    assert.equal(ours.get(TPM_PT.INPUT_BUFFER), raw("TPM2_PT_INPUT_BUFFER"));
    assert.equal(ours.get(TPM_PT.NV_BUFFER_MAX), raw("TPM2_PT_NV_BUFFER_MAX"));
    assert.equal(ours.get(TPM_PT.MAX_DIGEST), raw("TPM2_PT_MAX_DIGEST"));
    assert.equal(ours.get(TPM_PT.MANUFACTURER), raw("TPM2_PT_MANUFACTURER"));
  });

  test("NV_DefineSpace, NV_Write, NV_Read, NV_ReadPublic, NV_UndefineSpace: same handles and parameters", async (t) => {
    const { dir } = tempDir(t);
    const data = new Uint8Array(Buffer.from("abcdefghijklmnopqrstuvwxyz012345"));
    writeFileSync(join(dir, "data"), data);
    const index = `0x${INDEX.toString(16)}`;

    const define = await recorded(
      t,
      ["tpm2_nvdefine", "-C", "o", "-s", "32", "-a", "ownerread|ownerwrite", index],
      NV_DefineSpace,
    );
    same(
      NV_DefineSpace,
      {
        authHandle: password(TPM_RH.OWNER),
        auth: new Uint8Array(0),
        publicInfo: {
          nvIndex: INDEX,
          nameAlg: TPM_ALG.SHA256,
          attributes: OWNER_RW,
          authPolicy: new Uint8Array(0),
          dataSize: 32,
        },
      },
      define.matching[0]?.command as Uint8Array,
    );

    const write = await recorded(t, ["tpm2_nvwrite", "-C", "o", "-i", join(dir, "data"), index], NV_Write);
    const writeExchange = write.matching[0];
    assert.ok(writeExchange?.response);
    same(
      NV_Write,
      { authHandle: password(TPM_RH.OWNER), nvIndex: INDEX, data, offset: 0 },
      writeExchange.command,
    );
    // The response carries tpm2-tools' HMAC session acknowledgement: parsed all the same.
    assert.deepEqual(unmarshalResponse(NV_Write, writeExchange.response), {});

    const read = await recorded(t, ["tpm2_nvread", "-C", "o", "-s", "32", index], NV_Read);
    const readExchange = read.matching[0];
    assert.ok(readExchange?.response);
    same(
      NV_Read,
      { authHandle: password(TPM_RH.OWNER), nvIndex: INDEX, size: 32, offset: 0 },
      readExchange.command,
    );
    assert.equal(hex(unmarshalResponse(NV_Read, readExchange.response).data), hex(data));
    assert.equal(hex(read.stdout), hex(data));

    const readPublic = await recorded(t, ["tpm2_nvreadpublic", index], NV_ReadPublic);
    const publicExchange = readPublic.matching[0];
    assert.ok(publicExchange?.response);
    same(NV_ReadPublic, { nvIndex: INDEX }, publicExchange.command);
    const { nvPublic } = unmarshalResponse(NV_ReadPublic, publicExchange.response);
    const printed = readPublic.stdout.toString("utf8");
    assert.match(printed, new RegExp(`^\\s+value: 0x${nvPublic.attributes.toString(16)}$`, "im"));
    assert.match(printed, new RegExp(`^\\s+size: ${nvPublic.dataSize}$`, "m"));
    assert.equal(nvPublic.attributes, OWNER_RW | TPMA_NV.WRITTEN);

    const undefine = await recorded(t, ["tpm2_nvundefine", "-C", "o", index], NV_UndefineSpace);
    same(
      NV_UndefineSpace,
      { authHandle: password(TPM_RH.OWNER), nvIndex: INDEX },
      undefine.matching[0]?.command as Uint8Array,
    );
  });

  test("TPM2_ReadPublic of an empty slot: same command; the error names the object", async (t) => {
    // tpm2_flushcontext reads the handle's public area first, and fails there: nothing is loaded.
    const run = await recorded(t, ["tpm2_flushcontext", "0x80000000"], ReadPublic, false);
    const exchange = run.matching[0];
    assert.ok(exchange?.response);
    same(ReadPublic, { objectHandle: 0x80000000 }, exchange.command);
    assert.throws(
      () => unmarshalResponse(ReadPublic, exchange.response as Uint8Array, [0x80000000]),
      /TPM2_ReadPublic failed: TPM_RC_REFERENCE_H0: the object 0x80000000 is not loaded \(handle 1, 0x910\)$/,
    );
  });

  test("TPM2_Startup and TPM2_Clear(platform): same commands", async (t) => {
    // The TPM is started already: tpm2_startup fails, but what it sent is what counts here.
    const startup = await recorded(t, ["tpm2_startup", "-c"], Startup, false);
    same(Startup, { startupType: TPM_SU.CLEAR }, startup.matching[0]?.command as Uint8Array);
    const clear = await recorded(t, ["tpm2_clear", "-c", "p"], Clear);
    same(Clear, { authHandle: password(TPM_RH.PLATFORM) }, clear.matching[0]?.command as Uint8Array);
  });

  test("the comparison is not vacuous: a different parameter, handle or code is noticed", () => {
    const theirs = marshalCommand(NV_Read, {
      authHandle: password(TPM_RH.OWNER),
      nvIndex: INDEX,
      size: 32,
      offset: 0,
    });
    const variants = [
      marshalCommand(NV_Read, { authHandle: password(TPM_RH.OWNER), nvIndex: INDEX, size: 32, offset: 1 }),
      marshalCommand(NV_Read, {
        authHandle: password(TPM_RH.OWNER),
        nvIndex: INDEX + 1,
        size: 32,
        offset: 0,
      }),
      marshalCommand(NV_Read, { authHandle: password(TPM_RH.PLATFORM), nvIndex: INDEX, size: 32, offset: 0 }),
    ];
    for (const ours of variants)
      assert.throws(() => assertSameCommand(ours, theirs, 2, "variant"), assert.AssertionError);
    const code = theirs.slice();
    code[9] = 0x4f;
    assert.throws(() => assertSameCommand(code, theirs, 2, "code"), assert.AssertionError);
    // Only the authorization area may differ (HMAC against password sessions).
    const otherAuth = marshalCommand(NV_Read, {
      authHandle: password(TPM_RH.OWNER, new Uint8Array([1, 2, 3])),
      nvIndex: INDEX,
      size: 32,
      offset: 0,
    });
    assertSameCommand(otherAuth, theirs, 2, "auth only");
  });
});

describe("codec engine properties (fast-check)", () => {
  const encode = <T>(codec: Codec<T>, value: T) => {
    const w = new TpmWriter();
    codec.write(w, value);
    return w.finish();
  };

  /** Reads back equal, uses every byte, and refuses every proper prefix with a MarshalError. */
  function roundTrip<T>(codec: Codec<T>, value: T): void {
    const encoded = encode(codec, value);
    const r = new TpmReader(encoded);
    // structuredClone: fast-check builds records without a prototype, which deepEqual would count.
    assert.deepEqual(codec.read(r), structuredClone(value));
    assert.equal(r.remaining, 0, `${codec.name} left bytes unread`);
    for (let cut = 0; cut < encoded.length; cut++) {
      assert.throws(
        () => codec.read(new TpmReader(encoded.subarray(0, cut))),
        MarshalError,
        `${codec.name} cut at ${cut}`,
      );
    }
  }

  const blob = (max: number) => fc.uint8Array({ maxLength: max });
  const record = struct("record", {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: sizedBytes("e", 40),
    f: u8Bytes("f", 8),
  });
  const union = tagged("union", "kind", u16, {
    1: struct("one", { x: u32 }),
    2: struct("two", { y: sizedBytes("y", 8), z: list("z", u16, 5) }),
    16: struct("null", {}),
  });
  const runs = { numRuns: 300 };

  test("integers", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xff }), (v) => roundTrip(u8, v)),
      runs,
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (v) => roundTrip(u16, v)),
      runs,
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => roundTrip(u32, v)),
      runs,
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }), (v) => roundTrip(u64, v)),
      runs,
    );
  });

  test("integers that do not fit are refused on write", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0x100, max: 2 ** 40 }),
          fc.integer({ max: -1 }),
          fc.double({ noInteger: true }),
        ),
        (v) => assert.throws(() => encode(u8, v), RangeError),
      ),
      runs,
    );
    assert.throws(() => encode(u32, 2 ** 32), RangeError);
    assert.throws(() => encode(u64, 2n ** 64n), RangeError);
    assert.throws(() => encode(u64, -1n), RangeError);
  });

  test("sized byte arrays, structures, lists, tagged unions, sized structures", () => {
    fc.assert(
      fc.property(blob(300), (v) => roundTrip(sizedBytes("blob", 300), v)),
      runs,
    );
    const recordArb = fc.record({
      a: fc.integer({ min: 0, max: 0xff }),
      b: fc.integer({ min: 0, max: 0xffff }),
      c: fc.integer({ min: 0, max: 0xffffffff }),
      d: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
      e: blob(40),
      f: blob(8),
    });
    fc.assert(
      fc.property(recordArb, (v) => roundTrip(record, v)),
      runs,
    );
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 6 }), (v) => roundTrip(list("records", record, 6), v)),
      runs,
    );
    fc.assert(
      fc.property(recordArb, (v) => roundTrip(sized("sized record", record), v)),
      runs,
    );
    const unionArb = fc.oneof(
      fc.record({ kind: fc.constant(1 as const), x: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({
        kind: fc.constant(2 as const),
        y: blob(8),
        z: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 5 }),
      }),
      fc.record({ kind: fc.constant(0x10 as const) }),
    );
    fc.assert(
      fc.property(unionArb, (v) => roundTrip(union, v)),
      runs,
    );
    fc.assert(
      fc.property(fc.array(unionArb, { maxLength: 4 }), (v) => roundTrip(list("unions", union, 4), v)),
      runs,
    );
  });

  test("a TPM2B_NV_PUBLIC round-trips and its size covers exactly the structure", () => {
    const arb = fc.record({
      nvIndex: fc.integer({ min: 0, max: 0xffffffff }),
      nameAlg: fc.integer({ min: 0, max: 0xffff }),
      attributes: fc.integer({ min: 0, max: 0xffffffff }),
      authPolicy: blob(64),
      dataSize: fc.integer({ min: 0, max: 0xffff }),
    });
    fc.assert(
      fc.property(arb, (v) => {
        roundTrip(nvPublic2b, v);
        const encoded = encode(nvPublic2b, v);
        assert.equal(new DataView(encoded.buffer).getUint16(0), encoded.length - 2);
      }),
      runs,
    );
    // A size that leaves bytes inside the TPM2B unread is a layout disagreement, not ignored.
    const good = encode(nvPublic2b, {
      nvIndex: 1,
      nameAlg: 11,
      attributes: 0,
      authPolicy: new Uint8Array(0),
      dataSize: 8,
    });
    const padded = new Uint8Array([...good, 0]);
    padded[1] = (padded[1] as number) + 1;
    assert.throws(() => nvPublic2b.read(new TpmReader(padded)), /1 unexpected bytes after TPM2B_NV_PUBLIC/);
  });

  test("limits: oversized buffers, absurd counts and unknown selectors are refused in both directions", () => {
    assert.throws(() => encode(sizedBytes("b", 4), new Uint8Array(5)), RangeError);
    assert.throws(() => sizedBytes("b", 4).read(new TpmReader(bytes("0005 0000000000"))), MarshalError);
    assert.throws(() => list("l", u8, 3).read(new TpmReader(bytes("00000004 01020304"))), /claims 4 entries/);
    assert.throws(() => list("l", u8, 3).read(new TpmReader(bytes("ffffffff"))), MarshalError);
    assert.throws(
      () => union.read(new TpmReader(bytes("0003 00000000"))),
      /union has no member for selector 0x3/,
    );
    assert.throws(() => encode(union, { kind: 3 } as never), MarshalError);
    assert.throws(() => u8Bytes("s", 2).read(new TpmReader(bytes("03 000000"))), MarshalError);
  });

  test("arbitrary bytes as a response: a value or a clear error, never anything else", () => {
    const specs = [GetRandom, GetCapability, NV_ReadPublic, NV_Read, NV_Write, ReadPublic] as const;
    // Valid headers with random bodies reach the parameter parsers; pure noise tests the header.
    const header = fc
      .tuple(fc.constantFrom(0x8001, 0x8002, 0x8000, 0x00c4), fc.uint8Array({ maxLength: 200 }))
      .map(([tag, body]) => {
        const w = new TpmWriter();
        w.u16(tag);
        w.u32(body.length + 10);
        w.u32(0);
        w.raw(body);
        return w.finish();
      });
    fc.assert(
      fc.property(
        fc.oneof(header, fc.uint8Array({ maxLength: 64 })),
        fc.constantFrom(...specs),
        (response, spec) => {
          try {
            unmarshalResponse(spec as CommandSpec, response);
          } catch (error) {
            assert.ok(
              error instanceof TpmTransportError || error instanceof TpmResponseError,
              `${spec.name}: ${String(error)}`,
            );
            assert.doesNotMatch(error.message, /\n/);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
