// Binding protocol v3 against peers of v1 and v2, as an old reid on either side would speak to a
// new one: hand-made v1 and v2 messages to a real `reid serve --device` (a v1 bind request still
// carrying v1's `pop` and no setup-code proof; a v2 one with v3's very fields, its proof keyed the
// v2 way, with the right code), and a v1 or v2 device, answering or refusing, to a real `reid bind`.
// Each is refused with one line that names both versions, before anything else of the message is
// looked at, and at no cost to the owner's pairing window.
import assert from "node:assert/strict";
import { createHmac, diffieHellman, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { bindRequest, checkHello } from "../../src/binding/handshake.js";
import type { BindRequest } from "../../src/binding/messages.js";
import { setupCode } from "../../src/binding/pairing.js";
import type { Party, Peer } from "../../src/binding/parties.js";
import { PROTOCOL, signedBytes } from "../../src/binding/wire.js";
import { publicKeyObject } from "../../src/derive/public-key.js";
import { initStore } from "../cli/store.js";
import { deviceAddress, openPairing, testParty } from "../helpers/binding.js";
import { reid, reidJson } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { secretFile, tempDir } from "../helpers/temp.js";

const OLD = [1, 2] as const;

interface Answer {
  readonly status: number;
  readonly body: { error?: { code: string; message: string; exit: number } } & Record<string, unknown>;
  readonly text: string;
}

async function post(address: string, path: string, body: unknown): Promise<Answer> {
  const response = await fetch(`http://${address}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), text };
}

/** Refused as a peer of binding protocol `old`: 400, exit 2, one line naming both versions. */
function assertOldRefused(answer: Answer, old: number): void {
  assert.equal(answer.status, 400, answer.text);
  assert.ok(!answer.text.trimEnd().includes("\n"), "one line");
  assert.equal(answer.body.error?.code, "protocol-version", answer.text);
  assert.equal(answer.body.error?.exit, 2);
  assert.match(answer.body.error?.message ?? "", new RegExp(`v${old}\\b.*v${PROTOCOL}\\b`));
}

/** The proof of a bind request as docs/spec.md §7.3 writes it, made here from its parts. */
function proofOf(key: Buffer, nonce: Uint8Array, challenge: Uint8Array, device: Peer, user: Party): Buffer {
  const parts = [nonce, challenge, device.handle, device.ed25519, device.x25519];
  const transcript = signedBytes("reid/v1/bind/code", ...parts, user.handle, user.ed25519, user.x25519);
  return createHmac("sha256", key).update(transcript).digest();
}

/** IKM of the bind key (§7.3): X25519(user, device) and the setup code. */
function bindSecret(user: Party, device: Peer, code: string): Buffer {
  const publicKey = publicKeyObject("x25519", device.x25519);
  const shared = diffieHellman({ privateKey: user.agreement, publicKey });
  return Buffer.concat([shared, Buffer.from(code, "utf8")]);
}

/** A v2 reid's bind request: v3's fields, its proof keyed by the first 32 bytes HKDF expanded. */
function v2Request(
  current: BindRequest,
  nonce: Uint8Array,
  challenge: Uint8Array,
  device: Peer,
  user: Party,
  code: string,
) {
  const prk = createHmac("sha256", challenge)
    .update(bindSecret(user, device, code))
    .digest();
  const key = createHmac("sha256", prk).update("reid/v1/bind/code").update(Buffer.of(1)).digest();
  return { ...current, v: 2, proof: proofOf(key, nonce, challenge, device, user).toString("hex") };
}

describe("binding protocol versions", () => {
  test("the protocol is v3: a bind's proof and result are keyed by HKDF's extract itself", () => {
    assert.equal(PROTOCOL, 3);
    const device = testParty();
    const user = testParty();
    const nonce = randomBytes(32);
    const challenge = randomBytes(32);
    const peer = { ...device, verifier: publicKeyObject("ed25519", device.ed25519) };
    const { message } = bindRequest(user, peer, challenge, nonce, "ABCDE12345");
    const key = createHmac("sha256", challenge)
      .update(bindSecret(user, peer, "ABCDE12345"))
      .digest();
    assert.equal(message.v, 3);
    assert.equal(message.proof, proofOf(key, nonce, challenge, peer, user).toString("hex"));
  });

  test("a device refuses v1 hellos, bind requests and commands naming both versions, and its window is untouched", async (t) => {
    const { store, dir } = tempDir(t);
    await initStore(store);
    const daemon = await serve(t, store, {
      serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"],
    });
    const { address, handle } = await deviceAddress(daemon);
    const before = (await reidJson<{ records: unknown[] }>(["--store", store, "log"])).records.length;

    // Outside a window and inside one, an old hello is told the versions, not "not pairing".
    const oldHello = (v: number) => ({ v, nonce: randomBytes(32).toString("hex") });
    for (const old of OLD) assertOldRefused(await post(address, "/v1/bind/hello", oldHello(old)), old);
    const { code } = await openPairing(store);
    for (const old of OLD) assertOldRefused(await post(address, "/v1/bind/hello", oldHello(old)), old);

    // A v1 bind request as an old reid made it: `pop` where v3 has `proof`. Refused for its version,
    // not for the field v1 had and v3 dropped. A v2 one, with the right code: refused for its
    // version too, not as a wrong code spending one of the window's tries.
    const nonce = randomBytes(32);
    const hello = await post(address, "/v1/bind/hello", { v: PROTOCOL, nonce: nonce.toString("hex") });
    assert.equal(hello.status, 200, hello.text);
    const { device, challenge } = checkHello(hello.body, nonce, handle);
    const user = testParty();
    const { proof: _proof, ...current } = bindRequest(
      user,
      device,
      challenge,
      nonce,
      setupCode(code),
    ).message;
    assertOldRefused(
      await post(address, "/v1/bind/request", { ...current, v: 1, pop: randomBytes(32).toString("hex") }),
      1,
    );
    const v2 = v2Request(current as BindRequest, nonce, challenge, device, user, setupCode(code));
    for (let i = 0; i < 6; i++) assertOldRefused(await post(address, "/v1/bind/request", v2), 2);
    // Old commands (telemetry is one too).
    const command = {
      device: handle,
      user: user.handle,
      counter: 1,
      time: Date.now(),
      name: "light",
      args: ["on"],
      signature: randomBytes(64).toString("hex"),
    };
    for (const v of OLD) {
      assertOldRefused(await post(address, "/v1/command", { ...command, v }), v);
      const telemetry = { ...command, v, name: "telemetry", args: [] };
      assertOldRefused(await post(address, "/v1/telemetry", telemetry), v);
    }
    // Not a version at all: a usage error naming the field.
    const junk = await post(address, "/v1/bind/hello", {
      v: String(PROTOCOL),
      nonce: randomBytes(32).toString("hex"),
    });
    assert.equal(junk.body.error?.code, "usage", junk.text);
    assert.match(junk.body.error?.message ?? "", new RegExp(`'v' must be ${PROTOCOL}\\b`));

    // None of it spent a try, closed the window or reached the audit log: the user binds with the code.
    assert.equal(
      (await reidJson<{ records: unknown[] }>(["--store", store, "log"])).records.length,
      before + 1,
    );
    const { store: userStore } = tempDir(t, "reid-version-user-");
    await initStore(userStore);
    const file = secretFile(dir, "code", `${code}\n`);
    const bound = await reid([
      "--store",
      userStore,
      "bind",
      address,
      "--expect-handle",
      handle,
      "--code-file",
      file,
    ]);
    assert.equal(bound.code, 0, bound.stderr);
  });

  test("reid bind refuses a v1 or v2 device, answering or refusing, in one line naming both versions", async (t) => {
    const { store, dir } = tempDir(t);
    await initStore(store);
    const device = testParty();
    // A v1 or v2 device's hello answer: the shape did not change, the version did.
    const answering = (v: number) => ({
      old: v,
      status: 200,
      body: {
        v,
        handle: device.handle,
        ed25519: Buffer.from(device.keys.ed25519.publicKey).toString("hex"),
        x25519: Buffer.from(device.keys.x25519.publicKey).toString("hex"),
        challenge: randomBytes(32).toString("hex"),
        signature: randomBytes(64).toString("hex"),
      },
    });
    const answers: Record<string, { old: number; status: number; body: object }> = {
      "answering v1": answering(1),
      "answering v2": answering(2),
      // A v1 device's refusal of a newer hello, word for word.
      refusing: {
        old: 1,
        status: 400,
        body: {
          error: {
            code: "usage",
            message: "bad hello request: 'v' must be 1 (this device speaks binding protocol v1)",
            exit: 2,
          },
        },
      },
    };
    for (const [kind, answer] of Object.entries(answers)) {
      const server = await oldDevice(answer.status, answer.body);
      t.after(() => server.close());
      const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const file = secretFile(dir, `code-${kind.replace(" ", "-")}`, "AAAAA-AAAAA\n");
      const result = await reid([
        "--store",
        store,
        "bind",
        address,
        "--expect-handle",
        device.handle,
        "--code-file",
        file,
      ]);
      assert.equal(result.code, 2, `${kind}: ${result.stderr}`);
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0] as string,
        new RegExp(`v${answer.old}\\b.*v${PROTOCOL}\\b`),
        `${kind}: ${result.stderr}`,
      );
    }
    // Nothing was stored on the user's side.
    const listed = await reidJson<{ bindings: unknown[] }>(["--store", store, "bindings"]);
    assert.deepEqual(listed.bindings, []);
  });
});

/** A device of binding protocol v1, as far as a hello goes: every request gets `body`. */
async function oldDevice(status: number, body: object): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(`${JSON.stringify(body)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}
