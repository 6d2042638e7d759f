// Clients that hold a connection and say nothing, or say it a byte at a time (docs/spec.md §6.1,
// §7.1): the daemon's socket and the device endpoint cut each of them within the limits the spec
// names, while a prompt client is still served. A real `reid serve --device`, real connections.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, test } from "node:test";
import { deviceAddress } from "../helpers/binding.js";
import { reidJson, reidOk } from "../helpers/cli.js";
import { type ServedDaemon, serve } from "../helpers/daemon.js";
import { tempDir } from "../helpers/temp.js";

/** The longest a misbehaving connection may live: the spec's longest limit (20 s) and a margin. */
const CUT_WITHIN_MS = 25_000;

type Open = () => Socket;
type Behaviour = (socket: Socket) => () => void;

/** Nothing at all after connecting. */
const silent: Behaviour = () => () => {};

/** A request line, then one header byte a second, never ending the headers. */
const slowHeaders: Behaviour = (socket) => {
  socket.write("GET /v1/status HTTP/1.1\r\nhost: x\r\nx-slow: ");
  const timer = setInterval(() => socket.write("a"), 1000);
  return () => clearInterval(timer);
};

/** Whole headers, then a promised body one byte a second. */
const slowBody: Behaviour = (socket) => {
  socket.write(
    "POST /v1/csr HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n{",
  );
  const timer = setInterval(() => socket.write(" "), 1000);
  return () => clearInterval(timer);
};

/** One complete request on a kept-alive connection, then silence. */
const idleAfterRequest: Behaviour = (socket) => {
  socket.write("GET /v1/nothing HTTP/1.1\r\nhost: x\r\n\r\n");
  return () => {};
};

/** Milliseconds until the server ends the connection, or null if it is still open after CUT_WITHIN_MS. */
function cutAfter(open: Open, behaviour: Behaviour): Promise<number | null> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = open();
    socket.on("error", () => {});
    socket.resume();
    let stop = () => {};
    socket.once("connect", () => {
      stop = behaviour(socket);
    });
    const limit = setTimeout(() => {
      stop();
      socket.destroy();
      resolve(null);
    }, CUT_WITHIN_MS);
    socket.once("close", () => {
      clearTimeout(limit);
      stop();
      resolve(Date.now() - started);
    });
  });
}

async function assertCutsAll(daemon: ServedDaemon, store: string, open: Open): Promise<void> {
  const cases = { silent, slowHeaders, slowBody, idleAfterRequest };
  const ends = await Promise.all(
    Object.entries(cases).map(async ([name, behaviour]) => [name, await cutAfter(open, behaviour)] as const),
  );
  const kept = ends.filter(([, ms]) => ms === null).map(([name]) => name);
  assert.deepEqual(kept, [], `connections still open after ${CUT_WITHIN_MS / 1000} s`);
  // Nothing of that stopped the daemon or anyone else's request.
  assert.equal(daemon.child.exitCode, null);
  assert.equal((await reidJson(["--store", store, "status"])).state, "set");
}

/** Everything the server says to `bytes` until it closes the connection. */
function exchange(open: Open, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = open();
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.once("error", reject);
    socket.once("connect", () => socket.write(bytes));
    socket.once("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

/**
 * What Node itself refuses, before any route sees the request, answers as every refusal does: a
 * status, one line of JSON naming the error, and the connection closed.
 */
async function assertRefusedInJson(open: Open): Promise<void> {
  const cases = [
    [
      "oversized headers",
      `GET /v1/status HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(9000)}\r\n\r\n`,
      400,
      "too-large",
    ],
    ["bytes that are not HTTP", "HELLO THERE\r\n\r\n", 400, "bad-http"],
  ] as const;
  for (const [what, bytes, status, code] of cases) {
    const reply = await exchange(open, bytes);
    const [head = "", body = ""] = reply.split("\r\n\r\n");
    assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), what);
    assert.match(head, /\r\ncontent-type: application\/json\r\n/i, what);
    assert.doesNotMatch(body, /\n/, `${what}: one line`);
    assert.equal(JSON.parse(body).error.code, code, what);
  }
}

describe("slow and idle connections", () => {
  test("the daemon's socket cuts a silent, a slow and an idle connection", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const daemon = await serve(t, store);
    await assertCutsAll(daemon, store, () => connect(daemon.socket));
  });

  test("the device endpoint cuts a silent, a slow and an idle connection", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const daemon = await serve(t, store, { serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"] });
    const port = Number(new URL(`http://${(await deviceAddress(daemon)).address}`).port);
    await assertCutsAll(daemon, store, () => connect(port, "127.0.0.1"));
  });

  test("what Node refuses before the routes is a one-line JSON error, on the socket and the device endpoint", async (t) => {
    const { store } = tempDir(t);
    await reidOk(["--store", store, "init"]);
    const daemon = await serve(t, store, { serveArgs: ["--device", "--listen", "127.0.0.1:0", "--no-mdns"] });
    const port = Number(new URL(`http://${(await deviceAddress(daemon)).address}`).port);
    await assertRefusedInJson(() => connect(daemon.socket));
    await assertRefusedInJson(() => connect(port, "127.0.0.1"));
    assert.equal((await reidJson(["--store", store, "status"])).state, "set");
  });
});
