// Binding protocol v2 against peers of v1, as an old reid on either side would speak to a new one:
// hand-made v1 messages to a real `reid serve --device` (its bind request still carrying v1's `pop`
// and no setup-code proof), and a v1 device, answering or refusing, to a real `reid bind`. Each is
// refused with one line that names both versions, before anything else of the message is looked
// at, and at no cost to the owner's pairing window.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { bindRequest, checkHello } from "../../src/binding/handshake.js";
import { setupCode } from "../../src/binding/pairing.js";
import { PROTOCOL } from "../../src/binding/wire.js";
import { initStore } from "../cli/store.js";
import { deviceAddress, openPairing, testParty } from "../helpers/binding.js";
import { reid, reidJson } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { secretFile, tempDir } from "../helpers/temp.js";

const OLD = 1;

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

/** Refused as a peer of binding protocol v1: 400, exit 2, one line naming v1 and v2. */
function assertOldRefused(answer: Answer): void {
  assert.equal(answer.status, 400, answer.text);
  assert.ok(!answer.text.trimEnd().includes("\n"), "one line");
  assert.equal(answer.body.error?.code, "protocol-version", answer.text);
  assert.equal(answer.body.error?.exit, 2);
  assert.match(answer.body.error?.message ?? "", new RegExp(`v${OLD}\\b.*v${PROTOCOL}\\b`));
}

describe("binding protocol versions", () => {
  test("the protocol is v2: a bind needs the setup code's proof and answers a MAC", () => {
    assert.equal(PROTOCOL, 2);
  });

  test("a device refuses v1 hellos, bind requests and commands naming both versions, and its window is untouched", async (t) => {
    const { store, dir } = tempDir(t);
    await initStore(store);
    const daemon = await serve(t, store, {
      serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"],
    });
    const { address, handle } = await deviceAddress(daemon);
    const before = (await reidJson<{ records: unknown[] }>(["--store", store, "log"])).records.length;

    // Outside a window and inside one, a v1 hello is told the versions, not "not pairing".
    assertOldRefused(
      await post(address, "/v1/bind/hello", { v: OLD, nonce: randomBytes(32).toString("hex") }),
    );
    const { code } = await openPairing(store);
    assertOldRefused(
      await post(address, "/v1/bind/hello", { v: OLD, nonce: randomBytes(32).toString("hex") }),
    );

    // A v1 bind request as an old reid made it: `pop` where v2 has `proof`. Refused for its version,
    // not for the field v1 had and v2 dropped.
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
      await post(address, "/v1/bind/request", { ...current, v: OLD, pop: randomBytes(32).toString("hex") }),
    );
    // A v1 command (telemetry is one too).
    const command = {
      v: OLD,
      device: handle,
      user: user.handle,
      counter: 1,
      time: Date.now(),
      name: "light",
      args: ["on"],
      signature: randomBytes(64).toString("hex"),
    };
    assertOldRefused(await post(address, "/v1/command", command));
    assertOldRefused(await post(address, "/v1/telemetry", { ...command, name: "telemetry", args: [] }));
    // Not a version at all: a usage error naming the field.
    const junk = await post(address, "/v1/bind/hello", { v: "2", nonce: randomBytes(32).toString("hex") });
    assert.equal(junk.body.error?.code, "usage", junk.text);
    assert.match(junk.body.error?.message ?? "", /'v' must be 2/);

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

  test("reid bind refuses a v1 device, answering or refusing, in one line naming both versions", async (t) => {
    const { store, dir } = tempDir(t);
    await initStore(store);
    const device = testParty();
    const answers: Record<string, { status: number; body: object }> = {
      // A v1 device's hello answer: the shape did not change, the version did.
      answering: {
        status: 200,
        body: {
          v: OLD,
          handle: device.handle,
          ed25519: Buffer.from(device.keys.ed25519.publicKey).toString("hex"),
          x25519: Buffer.from(device.keys.x25519.publicKey).toString("hex"),
          challenge: randomBytes(32).toString("hex"),
          signature: randomBytes(64).toString("hex"),
        },
      },
      // A v1 device's refusal of a v2 hello, word for word.
      refusing: {
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
      const file = secretFile(dir, `code-${kind}`, "AAAAA-AAAAA\n");
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
        new RegExp(`v${OLD}\\b.*v${PROTOCOL}\\b`),
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
