// The `owner` flag of every operation the daemon serves, held against a real daemon with a PIN set:
// each owner operation is refused without the PIN (HTTP 403, exit 4, pin-required) and carried past
// the gate with it; every other operation does not ask for it. The expectation comes from the table
// alone, so a flag set wrong fails here, whichever way it is wrong.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { describe, test } from "node:test";
import { DAEMON_API } from "../../src/daemon/routes.js";
import { type Exchange, requestFor } from "../../src/http/call.js";
import { pinHeader } from "../../src/http/credentials.js";
import type { Operation } from "../../src/http/operation.js";
import { reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { secretFile, tempDir } from "../helpers/temp.js";

const PIN = "owner pin 2468";
const HANDLE = "0".repeat(32);
const MESSAGE = Buffer.from("a message");
/** A WebAuthn registration in shape only: no authenticator made it. */
const REGISTRATION = {
  id: "AAAA",
  rawId: "AAAA",
  type: "public-key",
  response: {},
  clientExtensionResults: {},
};
/** Nothing listens on the discard port: a bind past the gate fails fast, unreachable. */
const NO_DEVICE = "127.0.0.1:9";

/**
 * An input each operation accepts as well-formed, so the daemon gets as far as the owner gate.
 * Every operation of DAEMON_API must have one: a new operation is driven here too.
 */
const EXAMPLES: Record<string, Record<string, unknown>> = {
  "element.status": {},
  "element.submit": { type: "reset" },
  "element.initFactory": { factory: "puf-sim" },
  "element.switchMode": { mode: "factory" },
  "element.schedule": { type: "reset", at: "2099-06-01T12:00:00Z" },
  "element.cancelScheduled": { id: "00000000" },
  "element.setSingleType": { singleType: false },
  "element.setPasskeysBypassLockout": { passkeysBypassLockout: false },
  "element.seal": {},
  "element.unseal": {},
  "element.keys": {},
  "element.certificate": { algorithm: "ed25519", days: 30 },
  "element.certificationRequest": { algorithm: "p256", subject: "CN=x" },
  "element.sign": { algorithm: "ed25519", message: MESSAGE },
  "element.verify": { algorithm: "ed25519", message: MESSAGE, signature: new Uint8Array(64) },
  "element.exportWrapped": { wrapKey: new Uint8Array(32).fill(7) },
  // The same PIN again: a change that leaves the rest of the run as it was.
  "element.setPin": { newPin: PIN },
  "element.unlockPin": { recoveryCode: "AAAA-AAAA-AAAA-AAAA" },
  "element.unlock": { seconds: 60 },
  "element.lock": {},
  "element.auditLog": {},
  "element.events": {},
  "element.signIn": {},
  "element.refuseProof": { operation: "reset", reason: "proof-required" },
  "element.listPasskeys": {},
  "element.passkeyUser": {},
  // No challenge: with the PIN, the gate lets it through and the element refuses it (challenge-expired).
  "element.addPasskey": { response: REGISTRATION, origin: "http://localhost:9" },
  "element.removePasskey": { id: "AAAA" },
  "binding.bindings": {},
  "binding.bind": { address: NO_DEVICE, expectHandle: HANDLE, code: "ABCDE-FGHJK" },
  "binding.command": { address: NO_DEVICE, name: "light", args: ["on"] },
  "binding.telemetry": { address: NO_DEVICE, count: 1 },
  "binding.unbind": { handle: HANDLE },
  // This daemon serves no device role: past the gate, refused exit 3 (no-device-role).
  "binding.pair": { seconds: 60 },
  // With the PIN: the CSR reid enroll would send (nothing is sent from here).
  "enrollment.enrollmentRequest": { algorithm: "ed25519", registry: "https://127.0.0.1:9" },
  // This element never enrolled: past the gate, refused exit 3 (not-enrolled), never for a PIN.
  "enrollment.renew": {},
  // This daemon serves no page: past the input checks, refused exit 3 (no-page), never for a PIN.
  "page.pageLink": {},
};

/** Refusals that mean the caller was not authenticated as the owner. */
const NOT_THE_OWNER = ["pin-required", "wrong-pin", "locked"];

interface Reply {
  readonly status: number;
  readonly error?: { readonly code: string; readonly exit: number; readonly message: string };
}

function send(socket: string, exchange: Exchange): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = exchange.body;
    const outgoing = httpRequest(
      {
        socketPath: socket,
        method: exchange.method,
        path: exchange.path,
        headers: { ...exchange.headers, ...(body ? { "content-length": body.length } : {}) },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (String(response.headers["content-type"]).startsWith("text/event-stream")) {
          response.destroy();
          resolve({ status });
          return;
        }
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { error?: Reply["error"] };
          resolve({ status, ...(parsed.error ? { error: parsed.error } : {}) });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

const OPERATIONS: [string, Operation][] = Object.entries(DAEMON_API).flatMap(([table, { operations }]) =>
  Object.entries(operations).map(([name, operation]): [string, Operation] => [`${table}.${name}`, operation]),
);

describe("the owner flag of every daemon operation", () => {
  test("every operation has an example input", () => {
    assert.deepEqual(
      OPERATIONS.map(([name]) => name).filter((name) => !(name in EXAMPLES)),
      [],
      "operations of DAEMON_API without an example in this test",
    );
  });

  test("with a PIN set, owner operations refuse without it (403, exit 4) and pass the gate with it; the others never ask", async (t) => {
    const { dir, store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    await reidOk(["--store", store, "pin", "set", "--new-pin-file", secretFile(dir, "pin", `${PIN}\n`)]);
    const daemon = await serve(t, store);
    const what = (name: string, operation: Operation, reply: Reply) =>
      `${name} (${operation.method} ${operation.path}, owner: ${operation.owner}) -> ${reply.status} ${JSON.stringify(reply.error ?? {})}`;

    // Without the PIN first: nothing passes the gate, so nothing changes before the owner's turn.
    // An owner operation's pin-required also shows its example got past the input checks, which
    // come first; another operation's example must not be refused as input (400).
    for (const [name, operation] of OPERATIONS) {
      const reply = await send(daemon.socket, requestFor(operation, EXAMPLES[name] ?? {}));
      if (operation.owner) {
        assert.equal(reply.status, 403, what(name, operation, reply));
        assert.deepEqual(
          [reply.error?.code, reply.error?.exit],
          ["pin-required", 4],
          what(name, operation, reply),
        );
      } else {
        assert.ok(!NOT_THE_OWNER.includes(reply.error?.code ?? ""), what(name, operation, reply));
        assert.notEqual(
          reply.status,
          400,
          `the example is refused as input: ${what(name, operation, reply)}`,
        );
      }
    }
    // With the PIN (sent by the test itself, whatever the client would send): past the gate, where
    // the element or the device may still refuse for reasons of their own.
    for (const [name, operation] of OPERATIONS.filter(([, operation]) => operation.owner)) {
      const exchange = requestFor(operation, EXAMPLES[name] ?? {});
      const reply = await send(daemon.socket, {
        ...exchange,
        headers: { ...exchange.headers, authorization: pinHeader(PIN) },
      });
      assert.ok(!NOT_THE_OWNER.includes(reply.error?.code ?? ""), what(name, operation, reply));
    }
  });
});
