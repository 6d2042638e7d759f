// A stranger with a page session (a leaked link, a stolen cookie) hammering the owner's page, and
// a local client hammering the daemon's socket (docs/spec.md §2.8): once a source's refusals have
// emptied its bucket, every owner operation from it is refused at once with 429 rate-limited and a
// Retry-After, before the gate: no PIN try is counted, no record written, and the owner's own
// PIN (the terminal's, another session's) still works.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { pinHeader } from "../../src/http/credentials.js";
import { PAGE_RATE, SOCKET_RATE } from "../../src/http/rate-limit.js";
import { reidOk } from "../helpers/cli.js";
import { auditLog, PageClient, PIN, type Reply, type ServedPage, servedPage, status } from "./helpers.js";

const WRONG = "not the pin 0";

/** Sends `send` up to `most` times, until the answer is a 429: all the answers. */
async function hammer(send: () => Promise<Reply>, most: number): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < most; i++) {
    const reply = await send();
    replies.push(reply);
    if (reply.status === 429) break;
  }
  return replies;
}

function assertRateLimited(reply: Reply | undefined, what: RegExp): void {
  assert.equal(reply?.status, 429, `no 429 after the burst: ${reply?.status} ${reply?.text}`);
  assert.deepEqual([reply?.json.error.code, reply?.json.error.exit], ["rate-limited", 4]);
  assert.match(reply?.json.error.message, what);
  assert.match(String(reply?.headers["retry-after"]), /^[1-9][0-9]*$/);
}

/** One request on the daemon's socket, as any local client of the owner's account can send it. */
function onSocket(socket: string, method: string, path: string, body: unknown, pin?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const outgoing = httpRequest(
      {
        socketPath: socket,
        method,
        path,
        headers: {
          ...(text ? { "content-type": "application/json", "content-length": Buffer.byteLength(text) } : {}),
          ...(pin ? { authorization: pinHeader(pin) } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const all = Buffer.concat(chunks).toString("utf8");
          let json: unknown = null;
          try {
            json = JSON.parse(all);
          } catch {}
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text: all, json });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(text);
  });
}

describe("rate limits on the owner's page and the daemon's socket", () => {
  let served: ServedPage;

  before(async () => {
    served = await servedPage("reid-web-ratelimit-");
  });

  after(() => served?.close());

  test("the owner's proved operations give their tokens back: more of them than a bucket holds all pass", async () => {
    const owner = new PageClient(served.daemon);
    await owner.signInWithPin(PIN);
    const before = (await status(served.store)).generation;
    for (let i = 0; i < PAGE_RATE.burst + 3; i++) {
      const reply = await owner.post("/api/requests", { type: "reset", proof: { pin: PIN } });
      assert.equal(reply.status, 200, reply.text);
    }
    assert.equal((await status(served.store)).generation, before + PAGE_RATE.burst + 3);
  });

  test("a signed-in session hammering an operation with wrong proofs: 429 once its bucket is empty, nothing recorded", async () => {
    const guesser = new PageClient(served.daemon);
    guesser.localAddress = "127.0.0.2";
    await guesser.signInWithPin(PIN);
    const replies = await hammer(
      () => guesser.post("/api/requests", { type: "reset", proof: { pin: WRONG } }),
      PAGE_RATE.burst * 2,
    );
    assert.ok(replies.length <= PAGE_RATE.burst + 3, `${replies.length} answers before a 429`);
    assert.ok(
      replies.slice(0, -1).every((r) => r.status === 403),
      "the burst was answered by the gate",
    );
    assertRateLimited(replies.at(-1), /too many owner operations from this page's session or address/);
    const records = (await auditLog(served.store)).length;
    assertRateLimited(
      await guesser.post("/api/requests", { type: "erase", proof: { pin: PIN } }),
      /try again/,
    );
    assert.equal((await auditLog(served.store)).length, records, "a rate-limited request was recorded");
    assert.equal((await status(served.store)).state, "set");
  });

  test("a stranger hammering the page's sign-in: 429, per session and per address; no PIN try counted, the terminal unslowed", async () => {
    const stranger = new PageClient(served.daemon);
    stranger.localAddress = "127.0.0.3";
    await stranger.open();
    const replies = await hammer(
      () => stranger.post("/api/sign-in/pin", { pin: WRONG }),
      PAGE_RATE.burst * 2,
    );
    assert.ok(replies.length <= PAGE_RATE.burst + 3, `${replies.length} answers before a 429`);
    assertRateLimited(
      replies.at(-1),
      /too many owner operations from this page's session or address: try again in \d+ s/,
    );
    // A fresh session from the same address waits too (the address's bucket), and its right PIN
    // is not even tried; another address's session signs in at once.
    const again = new PageClient(served.daemon);
    again.localAddress = "127.0.0.3";
    await again.open();
    assertRateLimited(await again.post("/api/sign-in/pin", { pin: PIN }), /try again/);
    const { owner } = await status(served.store);
    assert.deepEqual([owner.failures, owner.locked], [0, false], "the page's hammering reached the element");
    const elsewhere = new PageClient(served.daemon);
    elsewhere.localAddress = "127.0.0.4";
    await elsewhere.open();
    // Answered by the gate (the page's own back-off may still hold after the wrong PINs), not the bucket.
    const answered = await elsewhere.post("/api/sign-in/pin", { pin: PIN });
    assert.notEqual(answered.status, 429, answered.text);
    await reidOk(["--store", served.store, "--pin-file", served.pinFile, "reset"]);
  });

  test("a local client hammering the socket without the PIN: 429 after the burst; the owner's PIN still works", async () => {
    const socket = `${served.store}/reid.sock`;
    const replies = await hammer(
      () => onSocket(socket, "POST", "/v1/requests", { type: "erase" }, WRONG),
      SOCKET_RATE.burst * 4,
    );
    assertRateLimited(replies.at(-1), /too many owner operations from this socket: try again in \d+ s/);
    // While the bucket is empty the right PIN is not even tried, nor recorded.
    const records = (await auditLog(served.store)).length;
    assertRateLimited(await onSocket(socket, "POST", "/v1/requests", { type: "erase" }, PIN), /try again/);
    assert.equal((await auditLog(served.store)).length, records, "a rate-limited request was recorded");
    const { owner, state } = await status(served.store);
    assert.equal(state, "set", "an erase went through");
    assert.equal(owner.locked, false);
    // Reads are never limited: status answered above; the bucket refills by itself.
    const wait = Number(replies.at(-1)?.headers["retry-after"]);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 100));
    await reidOk(["--store", served.store, "--pin-file", served.pinFile, "reset"]);
  });
});
