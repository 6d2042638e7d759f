// A `reid registry serve` killed with SIGKILL at a random moment of a stream of enrollments loses
// nothing it answered (docs/spec.md §10.3, §10.7): every certificate a client received is in the
// database when it comes back, and each device has exactly its one valid certificate.
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteRegistry } from "../../src/registry/store/sqlite/open.js";
import { issueEnrollmentToken } from "../../src/registry/tokens.js";
import {
  csrBase64,
  curl,
  makeRegistry,
  newKey,
  pkcs7Certificates,
  serveRegistry,
} from "../helpers/registry.js";

const DEVICES = 16;

test("a SIGKILLed registry serve keeps every certificate it answered", async (t) => {
  const { root, dir, remove } = await makeRegistry();
  t.after(remove);
  const ca = join(dir, "ca.pem");
  const path = join(dir, "registry.db");
  const setup = await openSqliteRegistry(path);
  const tokens: string[] = [];
  for (let i = 0; i < DEVICES + 1; i++) {
    const issued = await issueEnrollmentToken(setup, {
      ttlSeconds: 3600,
      label: `crash ${i}`,
      now: new Date(),
    });
    tokens.push(issued.token);
  }
  await setup.close();
  const key = newKey(join(root, "device.key"), "p256");

  const server = await serveRegistry(dir);
  const received: { handle: string; der: Buffer }[] = [];
  let killing: Promise<unknown> | null = null;
  for (let i = 0; i < DEVICES && !killing; i++) {
    const handle = `${i.toString(16).padStart(2, "0")}${"c".repeat(30)}`;
    const answer = await curl(root, `${server.base}/.well-known/est/simpleenroll`, {
      ca,
      body: csrBase64(key, handle),
      args: ["-H", "Content-Type: application/pkcs10", "-u", `device:${tokens[i]}`],
      mayFail: true,
    });
    if (answer.status === 200) {
      const pem = pkcs7Certificates(answer.body);
      const base64 = pem.slice(pem.indexOf("-----BEGIN")).replace(/-----[^-]+-----|\s/g, "");
      received.push({ handle, der: Buffer.from(base64, "base64") });
    } else assert.equal(answer.status, 0, answer.body.toString());
    // Once the first answer is in, the kill comes at a random moment of the ones that follow.
    if (i === 0) setTimeout(() => (killing = server.kill()), randomInt(10, 400)).unref();
  }
  const gone = await (killing ?? server.kill());
  assert.equal((gone as { signal: string | null }).signal, "SIGKILL");
  assert.ok(received.length >= 1);

  const again = await serveRegistry(dir);
  t.after(() => again.stop());
  const store = await openSqliteRegistry(path);
  t.after(() => store.close());
  for (const { handle, der } of received) {
    const device = await store.device(handle);
    assert.equal(device?.status, "active", `device ${handle} answered but lost`);
    const certificate = await store.certificate(device.certificateSerial ?? "");
    assert.deepEqual(Buffer.from(certificate?.der ?? []), der, `the certificate of ${handle} differs`);
  }
  for (const device of await store.devices()) {
    assert.equal((await store.certificate(device.certificateSerial ?? ""))?.status, "valid");
  }
  const last = await curl(root, `${again.base}/.well-known/est/simpleenroll`, {
    ca,
    body: csrBase64(key, "ffffffffffffffffffffffffffffffff"),
    args: ["-H", "Content-Type: application/pkcs10", "-u", `device:${tokens[DEVICES]}`],
  });
  assert.equal(last.status, 200, last.body.toString());
});
