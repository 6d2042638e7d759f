// The TPM client against a real swtpm: random bytes, capabilities, the NV round trip with chunking,
// a primary ECC key whose signatures @noble/curves verifies, flushed handles, Clear, an unstarted
// TPM, the Unix-socket transport, and the device transport through a pty that socat bridges to
// swtpm (no /dev/tpmrm0 here). Object and index names are recomputed from our own marshaling and
// compared with the TPM's, which pins the public-area codecs against a real TPM.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, type TestContext, test } from "node:test";
import { p256 } from "@noble/curves/nist.js";
import { password } from "../../src/tpm/command.js";
import { GetCapability } from "../../src/tpm/commands/capability.js";
import { Clear } from "../../src/tpm/commands/hierarchy.js";
import {
  NV_DefineSpace,
  NV_Read,
  NV_ReadPublic,
  NV_UndefineSpace,
  NV_Write,
} from "../../src/tpm/commands/nv.js";
import { CreatePrimary, FlushContext, ReadPublic, Sign } from "../../src/tpm/commands/object.js";
import { GetRandom } from "../../src/tpm/commands/random.js";
import {
  TPM_ALG,
  TPM_CAP,
  TPM_CC,
  TPM_ECC_CURVE,
  TPM_PT,
  TPM_RH,
  TPM_ST,
  TPMA_NV,
} from "../../src/tpm/constants.js";
import { TpmResponseError } from "../../src/tpm/errors.js";
import { TpmWriter } from "../../src/tpm/marshal/buffer.js";
import type { Codec } from "../../src/tpm/marshal/codec.js";
import { readProperties } from "../../src/tpm/properties.js";
import type { TpmAddress } from "../../src/tpm/spec.js";
import { nvPublic2b } from "../../src/tpm/structures/nv.js";
import { type PublicArea, publicArea } from "../../src/tpm/structures/public.js";
import { eccP256Template } from "../../src/tpm/templates.js";
import type { Tpm } from "../../src/tpm/tpm.js";
import { connectTpm } from "../../src/tpm/transport/open.js";
import { SocketTransport } from "../../src/tpm/transport/socket.js";
import { ptyToTcp } from "../helpers/pty.js";
import { swtpmForFile } from "../helpers/swtpm.js";
import { defineIndex } from "../helpers/tpm-nv.js";
import { HierarchyChangeAuth } from "./hierarchy-change-auth.js";

const swtpm = swtpmForFile();
const unstarted = swtpmForFile({ started: false });
const unixSwtpm = swtpmForFile({ transport: "unix" });

const OWNER = () => password(TPM_RH.OWNER);
const OWNER_RW = TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** A client on `address`, closed when the test ends (swtpm serves one client at a time). */
async function open(t: TestContext, address?: TpmAddress): Promise<Tpm> {
  const tpm = await connectTpm(address ?? (await swtpm()).address, 10_000);
  t.after(() => tpm.close());
  return tpm;
}

function encode<T>(codec: Codec<T>, value: T): Uint8Array {
  const w = new TpmWriter();
  codec.write(w, value);
  return w.finish();
}

/** An entity's name (Part 1, 16): nameAlg, then the hash of its marshaled public area. */
function nameOf(nameAlg: number, marshaledPublic: Uint8Array): string {
  assert.equal(nameAlg, TPM_ALG.SHA256);
  return `000b${createHash("sha256").update(marshaledPublic).digest("hex")}`;
}

/** A TPM2B_NV_PUBLIC's name hashes the TPMS_NV_PUBLIC inside it: its 2-byte size goes. */
const nvNameOf = (pub: Parameters<typeof nvPublic2b.write>[1]) =>
  nameOf(pub.nameAlg, encode(nvPublic2b, pub).subarray(2));

async function expectRc(promise: Promise<unknown>, rc: string, message?: RegExp): Promise<TpmResponseError> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected ${rc}, the command succeeded`),
    (error: unknown) => {
      caught = error;
    },
  );
  assert.ok(caught instanceof TpmResponseError, String(caught));
  assert.equal(caught.rc, rc, caught.message);
  if (message) assert.match(caught.message, message);
  assert.doesNotMatch(caught.message, /\n/);
  return caught;
}

describe("TPM2_GetRandom", () => {
  test("returns the bytes asked for, at most one digest's worth, and different each time", async (t) => {
    const tpm = await open(t);
    const maxDigest = (await readProperties(tpm, TPM_PT.MAX_DIGEST, 1)).get(TPM_PT.MAX_DIGEST) ?? 0;
    assert.ok(maxDigest >= 32, `MAX_DIGEST ${maxDigest}`);
    for (const size of [0, 1, 16, 32, maxDigest]) {
      const { randomBytes } = await tpm.run(GetRandom, { bytesRequested: size });
      assert.equal(randomBytes.length, size);
    }
    // More than one digest: the TPM gives MAX_DIGEST bytes, as the spec allows.
    assert.equal((await tpm.run(GetRandom, { bytesRequested: 1000 })).randomBytes.length, maxDigest);
    const a = (await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes;
    const b = (await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes;
    assert.notEqual(hex(a), hex(b));
    assert.notEqual(hex(a), "00".repeat(32));
  });
});

describe("TPM2_GetCapability", () => {
  test("fixed properties: TPM 2.0 by IBM (swtpm), with the buffers reid relies on", async (t) => {
    const tpm = await open(t);
    const fixed = await readProperties(tpm, TPM_PT.FAMILY_INDICATOR, 0x40);
    assert.equal(fixed.get(TPM_PT.FAMILY_INDICATOR), 0x322e3000, '"2.0"');
    assert.equal(fixed.get(TPM_PT.MANUFACTURER), 0x49424d00, '"IBM"');
    assert.ok((fixed.get(TPM_PT.INPUT_BUFFER) ?? 0) >= 1024);
    assert.ok((fixed.get(TPM_PT.NV_BUFFER_MAX) ?? 0) >= 512);
    assert.ok((fixed.get(TPM_PT.NV_INDEX_MAX) ?? 0) >= 2048);
    // Asked for two, the TPM says there is more: moreData and paging work.
    const { moreData, capabilityData } = await tpm.run(GetCapability, {
      capability: TPM_CAP.TPM_PROPERTIES,
      property: TPM_PT.FAMILY_INDICATOR,
      propertyCount: 2,
    });
    assert.equal(moreData, 1);
    assert.ok(capabilityData.capability === TPM_CAP.TPM_PROPERTIES);
    assert.deepEqual(
      capabilityData.properties.map((p) => p.property),
      [TPM_PT.FAMILY_INDICATOR, TPM_PT.LEVEL],
    );
  });

  test("algorithms, curves and commands", async (t) => {
    const tpm = await open(t);
    const algs = await tpm.run(GetCapability, { capability: TPM_CAP.ALGS, property: 0, propertyCount: 100 });
    assert.ok(algs.capabilityData.capability === TPM_CAP.ALGS);
    const ids = algs.capabilityData.algorithms.map((a) => a.alg);
    for (const alg of [TPM_ALG.SHA256, TPM_ALG.ECC, TPM_ALG.ECDSA])
      assert.ok(ids.includes(alg), `0x${alg.toString(16)}`);
    const curves = await tpm.run(GetCapability, {
      capability: TPM_CAP.ECC_CURVES,
      property: 0,
      propertyCount: 100,
    });
    assert.ok(curves.capabilityData.capability === TPM_CAP.ECC_CURVES);
    assert.ok(curves.capabilityData.curves.includes(TPM_ECC_CURVE.NIST_P256));
    const commands = await tpm.run(GetCapability, {
      capability: TPM_CAP.COMMANDS,
      property: TPM_CC.NV_UndefineSpace,
      propertyCount: 200,
    });
    assert.ok(commands.capabilityData.capability === TPM_CAP.COMMANDS);
    // TPMA_CC: the command code sits in the low 16 bits.
    const codes = commands.capabilityData.commands.map((c) => c & 0xffff);
    for (const code of Object.values(TPM_CC)) assert.ok(codes.includes(code), `0x${code.toString(16)}`);
  });
});

describe("NV indices", () => {
  test("define, write and read in chunks, read the public area, undefine", async (t) => {
    const tpm = await open(t);
    const index = 0x01500100;
    const chunk = (await readProperties(tpm, TPM_PT.NV_BUFFER_MAX, 1)).get(TPM_PT.NV_BUFFER_MAX) ?? 0;
    const size = 2048;
    assert.ok(chunk > 0 && chunk < size, `NV_BUFFER_MAX ${chunk}: the test needs several chunks`);
    const publicInfo = {
      nvIndex: index,
      nameAlg: TPM_ALG.SHA256,
      attributes: OWNER_RW,
      authPolicy: new Uint8Array(0),
      dataSize: size,
    };
    await tpm.run(NV_DefineSpace, { authHandle: OWNER(), auth: new Uint8Array(0), publicInfo });
    t.after(() => tpm.run(NV_UndefineSpace, { authHandle: OWNER(), nvIndex: index }).catch(() => undefined));
    await expectRc(
      tpm.run(NV_DefineSpace, { authHandle: OWNER(), auth: new Uint8Array(0), publicInfo }),
      "TPM_RC_NV_DEFINED",
    );

    const before = await tpm.run(NV_ReadPublic, { nvIndex: index });
    assert.deepEqual(before.nvPublic, publicInfo);
    assert.equal(hex(before.nvName), nvNameOf(publicInfo));
    await expectRc(
      tpm.run(NV_Read, { authHandle: OWNER(), nvIndex: index, size: 16, offset: 0 }),
      "TPM_RC_NV_UNINITIALIZED",
    );

    const data = new Uint8Array(randomBytes(size));
    for (let offset = 0; offset < size; offset += chunk) {
      const part = data.subarray(offset, Math.min(offset + chunk, size));
      await tpm.run(NV_Write, { authHandle: OWNER(), nvIndex: index, data: part, offset });
    }
    const back = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += chunk) {
      const want = Math.min(chunk, size - offset);
      const { data: part } = await tpm.run(NV_Read, {
        authHandle: OWNER(),
        nvIndex: index,
        size: want,
        offset,
      });
      back.set(part, offset);
    }
    assert.ok(Buffer.from(back).equals(Buffer.from(data)), "what was written reads back");
    const unaligned = await tpm.run(NV_Read, { authHandle: OWNER(), nvIndex: index, size: 7, offset: 1001 });
    assert.equal(hex(unaligned.data), hex(data.subarray(1001, 1008)));

    // Written now: the attribute, and so the name, changed.
    const written = await tpm.run(NV_ReadPublic, { nvIndex: index });
    assert.equal(written.nvPublic.attributes, OWNER_RW | TPMA_NV.WRITTEN);
    assert.equal(hex(written.nvName), nvNameOf(written.nvPublic));
    assert.notEqual(hex(written.nvName), hex(before.nvName));

    // Out of range, and a chunk larger than the TPM takes: refused by the TPM with its reasons.
    await expectRc(
      tpm.run(NV_Read, { authHandle: OWNER(), nvIndex: index, size: 16, offset: size - 8 }),
      "TPM_RC_NV_RANGE",
    );
    const big = await tpm
      .run(NV_Write, { authHandle: OWNER(), nvIndex: index, data: new Uint8Array(chunk + 1), offset: 0 })
      .then(
        () => null,
        (error: unknown) => error,
      );
    assert.ok(big instanceof TpmResponseError, String(big));

    const handles = await tpm.run(GetCapability, {
      capability: TPM_CAP.HANDLES,
      property: 0x01000000,
      propertyCount: 100,
    });
    assert.ok(handles.capabilityData.capability === TPM_CAP.HANDLES);
    assert.ok(handles.capabilityData.handles.includes(index));

    await tpm.run(NV_UndefineSpace, { authHandle: OWNER(), nvIndex: index });
    await expectRc(
      tpm.run(NV_ReadPublic, { nvIndex: index }),
      "TPM_RC_HANDLE",
      /^TPM2_NV_ReadPublic failed: TPM_RC_HANDLE: the NV index 0x01500100 is not defined \(handle 1, 0x18b\)$/,
    );
    await expectRc(
      tpm.run(NV_UndefineSpace, { authHandle: OWNER(), nvIndex: index }),
      "TPM_RC_HANDLE",
      /NV index 0x01500100 is not defined \(handle 2, 0x28b\)/,
    );
  });

  test("the name check is not vacuous: another public area has another name", () => {
    const pub = {
      nvIndex: 1,
      nameAlg: TPM_ALG.SHA256,
      attributes: 0,
      authPolicy: new Uint8Array(0),
      dataSize: 8,
    };
    assert.notEqual(nvNameOf(pub), nvNameOf({ ...pub, dataSize: 9 }));
  });
});

describe("a primary ECC P-256 signing key", () => {
  const template: PublicArea = eccP256Template("sign");
  const create = (tpm: Tpm) =>
    tpm.run(CreatePrimary, {
      primaryHandle: OWNER(),
      inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
      inPublic: template,
      outsideInfo: new Uint8Array(0),
      creationPCR: [],
    });
  const pad32 = (b: Uint8Array) => {
    const out = new Uint8Array(32);
    out.set(b, 32 - b.length);
    return out;
  };

  test("CreatePrimary, ReadPublic, Sign: the signature verifies with @noble/curves", async (t) => {
    const tpm = await open(t);
    const key = await create(tpm);
    t.after(() => tpm.run(FlushContext, { flushHandle: key.objectHandle }).catch(() => undefined));
    assert.equal(key.objectHandle >>> 24, 0x80, "a transient handle");
    const pub = key.outPublic;
    assert.ok(pub.type === TPM_ALG.ECC);
    assert.equal(pub.unique.x.length, 32);
    assert.equal(pub.unique.y.length, 32);
    // The TPM's name for the key is the hash of the public area as we marshal it.
    assert.equal(hex(key.name), nameOf(pub.nameAlg, encode(publicArea, pub)));

    const read = await tpm.run(ReadPublic, { objectHandle: key.objectHandle });
    assert.deepEqual(read.outPublic, pub);
    assert.equal(hex(read.name), hex(key.name));

    // A primary key is derived from the hierarchy's seed: the same template gives the same key.
    const again = await create(tpm);
    await tpm.run(FlushContext, { flushHandle: again.objectHandle });
    assert.equal(hex(again.name), hex(key.name));

    const point = new Uint8Array([4, ...pad32(pub.unique.x), ...pad32(pub.unique.y)]);
    const message = new TextEncoder().encode("reid signs with a TPM-held key");
    const digest = new Uint8Array(createHash("sha256").update(message).digest());
    const { signature } = await tpm.run(Sign, {
      keyHandle: password(key.objectHandle),
      digest,
      inScheme: { scheme: TPM_ALG.NULL },
      validation: { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) },
    });
    assert.ok(signature.sigAlg === TPM_ALG.ECDSA);
    assert.equal(signature.hash, TPM_ALG.SHA256);
    const sig = new Uint8Array([...pad32(signature.signatureR), ...pad32(signature.signatureS)]);
    // The TPM does not normalise s, so high-s signatures are valid here.
    const verify = (s: Uint8Array, d: Uint8Array, q: Uint8Array) =>
      p256.verify(s, d, q, { prehash: false, lowS: false });
    assert.ok(verify(sig, digest, point), "the TPM's signature verifies");

    // Known-bad inputs: a changed digest, signature or key does not verify.
    const otherDigest = digest.slice();
    otherDigest[0] = (otherDigest[0] as number) ^ 1;
    assert.equal(verify(sig, otherDigest, point), false);
    const otherSig = sig.slice();
    otherSig[40] = (otherSig[40] as number) ^ 1;
    assert.equal(verify(otherSig, digest, point), false);
    const otherKey = p256.getPublicKey(p256.utils.randomSecretKey(), false);
    assert.equal(verify(sig, digest, otherKey), false);

    // An explicit scheme is accepted too, and an unknown selector is refused before sending.
    const explicit = await tpm.run(Sign, {
      keyHandle: password(key.objectHandle),
      digest,
      inScheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 },
      validation: { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) },
    });
    assert.ok(explicit.signature.sigAlg === TPM_ALG.ECDSA);
    assert.ok(
      verify(
        new Uint8Array([...pad32(explicit.signature.signatureR), ...pad32(explicit.signature.signatureS)]),
        digest,
        point,
      ),
    );
  });

  test("FlushContext, then ReadPublic and Sign: the object is not loaded", async (t) => {
    const tpm = await open(t);
    const key = await create(tpm);
    await tpm.run(FlushContext, { flushHandle: key.objectHandle });
    const handle = `0x${key.objectHandle.toString(16).padStart(8, "0")}`;
    // A real TPM answers TPM_RC_REFERENCE_H0 for a flushed transient handle (not TPM_RC_HANDLE).
    await expectRc(
      tpm.run(ReadPublic, { objectHandle: key.objectHandle }),
      "TPM_RC_REFERENCE_H0",
      new RegExp(
        `^TPM2_ReadPublic failed: TPM_RC_REFERENCE_H0: the object ${handle} is not loaded \\(handle 1, 0x910\\)$`,
      ),
    );
    await expectRc(
      tpm.run(Sign, {
        keyHandle: password(key.objectHandle),
        digest: new Uint8Array(32),
        inScheme: { scheme: TPM_ALG.NULL },
        validation: { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) },
      }),
      "TPM_RC_REFERENCE_H0",
      /is not loaded/,
    );
    await expectRc(tpm.run(FlushContext, { flushHandle: key.objectHandle }), "TPM_RC_HANDLE", /parameter 1/);
  });
});

describe("hierarchies", () => {
  test("a wrong owner password: TPM_RC_BAD_AUTH naming the session; the right one works", async (t) => {
    const tpm = await open(t);
    const secret = new Uint8Array(randomBytes(16));
    await tpm.run(HierarchyChangeAuth, { authHandle: OWNER(), newAuth: secret });
    // Whatever happens below, the owner gets its empty password back for the tests after this one
    // (here, not in t.after, which would run after the connection is closed).
    try {
      const define = (auth: Uint8Array) =>
        tpm.run(NV_DefineSpace, {
          authHandle: password(TPM_RH.OWNER, auth),
          auth: new Uint8Array(0),
          publicInfo: {
            nvIndex: 0x01500200,
            nameAlg: TPM_ALG.SHA256,
            attributes: OWNER_RW,
            authPolicy: new Uint8Array(0),
            dataSize: 8,
          },
        });
      const wrong = secret.slice();
      wrong[0] = (wrong[0] as number) ^ 1;
      for (const attempt of [new Uint8Array(0), wrong]) {
        const error = await expectRc(
          define(attempt),
          "TPM_RC_BAD_AUTH",
          /^TPM2_NV_DefineSpace failed: TPM_RC_BAD_AUTH: authorization failure without DA implications \(session 1, 0x9a2\)$/,
        );
        // The message names the failure, never the password tried or the right one.
        assert.ok(
          !error.message.includes(hex(secret)) &&
            !error.message.includes(Buffer.from(secret).toString("latin1")),
        );
      }
      await define(secret);
      await tpm.run(NV_UndefineSpace, { authHandle: password(TPM_RH.OWNER, secret), nvIndex: 0x01500200 });
    } finally {
      await tpm.run(HierarchyChangeAuth, {
        authHandle: password(TPM_RH.OWNER, secret),
        newAuth: new Uint8Array(0),
      });
    }
  });

  test("Clear with platform authorization removes the owner's NV indices", async (t) => {
    const tpm = await open(t);
    const index = 0x01500300;
    await defineIndex(tpm, index, 8, OWNER_RW);
    assert.equal((await tpm.run(NV_ReadPublic, { nvIndex: index })).nvPublic.nvIndex, index);
    // The owner cannot clear (only lockout or platform may): a clear refusal, and the index stays.
    await expectRc(tpm.run(Clear, { authHandle: OWNER() }), "TPM_RC_VALUE", /handle 1/);
    assert.equal((await tpm.run(NV_ReadPublic, { nvIndex: index })).nvPublic.nvIndex, index);
    await tpm.run(Clear, { authHandle: password(TPM_RH.PLATFORM) });
    await expectRc(tpm.run(NV_ReadPublic, { nvIndex: index }), "TPM_RC_HANDLE", /is not defined/);
  });
});

describe("transports and startup", () => {
  test("a TPM waiting for TPM2_Startup gets it automatically", async (t) => {
    const { address } = await unstarted();
    // Known-bad first: without the Tpm object's help the TPM refuses, so the test can fail.
    const raw = await SocketTransport.connect(
      address.kind === "unix" ? { path: address.path } : address,
      10_000,
    );
    const refused = await raw.send(new Uint8Array(Buffer.from("80010000000c0000017b0010", "hex")));
    await raw.close();
    assert.equal(hex(refused), "80010000000a00000100", "TPM_RC_INITIALIZE before Startup");
    const tpm = await open(t, address);
    assert.equal((await tpm.run(GetRandom, { bytesRequested: 16 })).randomBytes.length, 16);
    assert.equal((await tpm.run(GetRandom, { bytesRequested: 8 })).randomBytes.length, 8);
  });

  test("the Unix-socket transport", async (t) => {
    const { address } = await unixSwtpm();
    assert.equal(address.kind, "unix");
    const tpm = await open(t, address);
    assert.match(tpm.description, /^swtpm at .*tpm\.sock$/);
    assert.equal((await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes.length, 32);
    const index = 0x01500400;
    await defineIndex(tpm, index, 4, OWNER_RW);
    await tpm.run(NV_Write, {
      authHandle: OWNER(),
      nvIndex: index,
      data: new Uint8Array([1, 2, 3, 4]),
      offset: 0,
    });
    const { data } = await tpm.run(NV_Read, { authHandle: OWNER(), nvIndex: index, size: 4, offset: 0 });
    assert.deepEqual([...data], [1, 2, 3, 4]);
    await tpm.run(NV_UndefineSpace, { authHandle: OWNER(), nvIndex: index });
  });

  test("the device transport, through a pty that socat bridges to swtpm", async (t) => {
    const { address } = await swtpm();
    assert.equal(address.kind, "tcp");
    // The pty stands in for /dev/tpmrm0 (none here); socat carries its bytes to swtpm's data port.
    const link = await ptyToTcp(t, address.kind === "tcp" ? address.port : 0);
    const tpm = await connectTpm({ kind: "device", path: link }, 10_000);
    try {
      assert.equal(tpm.description, link);
      assert.equal((await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes.length, 32);
      // A long response (the command list, hundreds of bytes) through the pty, read in parts.
      const { capabilityData } = await tpm.run(GetCapability, {
        capability: TPM_CAP.COMMANDS,
        property: 0,
        propertyCount: 200,
      });
      assert.ok(capabilityData.capability === TPM_CAP.COMMANDS && capabilityData.commands.length > 50);
      const index = 0x01500500;
      // Bytes a terminal would act on (^C, ^D, XON/XOFF, CR, LF, DEL) must pass as data.
      const data = new Uint8Array([0x03, 0x04, 0x11, 0x13, 0x0d, 0x0a, 0x7f, 0x00, 0xff, 0x1a]);
      await defineIndex(tpm, index, data.length, OWNER_RW);
      await tpm.run(NV_Write, { authHandle: OWNER(), nvIndex: index, data, offset: 0 });
      const back = await tpm.run(NV_Read, {
        authHandle: OWNER(),
        nvIndex: index,
        size: data.length,
        offset: 0,
      });
      assert.equal(hex(back.data), hex(data));
      await tpm.run(NV_UndefineSpace, { authHandle: OWNER(), nvIndex: index });
      await expectRc(tpm.run(NV_ReadPublic, { nvIndex: index }), "TPM_RC_HANDLE", /is not defined/);
    } finally {
      await tpm.close();
    }
  });
});
