// The operation engine on a small table of its own, in process (hono's app.request as the
// transport): each field travels where the table puts it, the implementation gets the arguments it
// names, answers come back as the API's values, and bad input never reaches the implementation.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Hono } from "hono";
import { ReidError } from "../../src/errors.js";
import { answerErrors } from "../../src/http/answer.js";
import { clientOf, type Exchange, requestFor, type Transport } from "../../src/http/call.js";
import { defineOperations, describeOperations, inPath, inQuery, rawBody } from "../../src/http/operation.js";
import { bytes, flag, hex, list, oneOf, optional, pin, text, whole } from "../../src/http/schema.js";
import { serveOperations } from "../../src/http/serve.js";
import { type EventFeed, eventStream } from "../../src/http/sse.js";
import { fromWire } from "../../src/http/wire.js";

interface Shelf {
  item(id: string, verbose: boolean | undefined): Promise<{ id: string; verbose: boolean }>;
  put(kind: "box" | "bag", count: number): Promise<{ kind: string; count: number }>;
  putLabelled(label: string, count: number): Promise<{ label: string; count: number }>;
  digest(key: Uint8Array, data: Uint8Array): Promise<{ digest: Uint8Array; size: number }>;
  name(): Promise<string>;
  lock(): Promise<{ locked: true }>;
  feed(): EventFeed<{ n: number }>;
}

const SHELF = defineOperations<Shelf>()({
  limit: 1024,
  operations: {
    item: {
      summary: "One item.",
      method: "GET",
      path: "/items/:id",
      owner: false,
      input: { id: inPath(text({ max: 8 })), verbose: inQuery(optional(oneOf(["yes", "no"]))) },
      args: ["id", "verbose"],
    },
    put: {
      summary: "Puts things.",
      method: "POST",
      path: "/items",
      owner: false,
      input: { kind: oneOf(["box", "bag"]), count: whole({ max: 9 }) },
      args: ["kind", "count"],
    },
    putLabelled: {
      summary: "Puts labelled things.",
      method: "POST",
      path: "/items",
      owner: false,
      when: "label",
      input: { kind: oneOf(["box"]), label: text({ max: 5 }), count: whole({ max: 9 }) },
      fixed: { kind: "box" },
      args: ["label", "count"],
    },
    digest: {
      summary: "A keyed digest of the body.",
      method: "POST",
      path: "/digest",
      owner: true,
      input: { key: inQuery(bytes({ length: 4 })), data: rawBody },
      args: ["key", "data"],
      output: { hex: ["digest"] },
      limit: 64,
    },
    name: {
      summary: "The shelf's name.",
      method: "GET",
      path: "/name",
      owner: false,
      output: { field: "name" },
    },
    lock: { summary: "Locks.", method: "POST", path: "/lock", owner: true, what: "lock" },
    feed: { summary: "Events.", method: "GET", path: "/feed", owner: false, output: { events: ["n"] } },
  },
});

/** The shelf as served: it records every call and the keys it was given. */
function served() {
  const calls: unknown[][] = [];
  const keys: Uint8Array[] = [];
  const record = <T>(call: unknown[], value: T): T => {
    calls.push(call);
    return value;
  };
  const shelf: Shelf = {
    item: async (id, verbose) => record(["item", id, verbose], { id, verbose: verbose === undefined }),
    put: async (kind, count) => record(["put", kind, count], { kind, count }),
    putLabelled: async (label, count) => record(["putLabelled", label, count], { label, count }),
    digest: async (key, data) => {
      calls.push(["digest", Buffer.from(key).toString("hex"), Buffer.from(data).toString()]);
      keys.push(key);
      return { digest: new Uint8Array([key[0] ?? 0, data.length]), size: data.length };
    },
    name: async () => record(["name"], "top"),
    lock: async () => record(["lock"], { locked: true as const }),
    feed: () => ({
      subscribe: (listener) => {
        listener({ n: 1 });
        return () => {};
      },
      name: () => "n",
    }),
  };
  const app = new Hono();
  answerErrors(app);
  serveOperations(app, SHELF, () => shelf);
  const sent: Exchange[] = [];
  const transport: Transport = async (exchange) => {
    sent.push(exchange);
    const response = await app.request(exchange.path, {
      method: exchange.method,
      headers: exchange.headers,
      ...(exchange.body ? { body: exchange.body } : {}),
    });
    const body = await response.json();
    if (!response.ok) throw fromWire(body, response.status);
    return body;
  };
  return { app, calls, keys, sent, transport };
}

const Client = clientOf<Shelf>()(SHELF);

describe("the operation engine", () => {
  test("each field travels where the table says; the implementation gets the arguments it names", async () => {
    const { calls, sent, transport } = served();
    const client = new Client({ transport, credentials: { pin: "123456" } });
    assert.deepEqual(await client.item("a/b", undefined), { id: "a/b", verbose: true });
    assert.deepEqual(await client.put("bag", 3), { kind: "bag", count: 3 });
    assert.deepEqual(await client.putLabelled("red", 2), { label: "red", count: 2 });
    const digest = await client.digest(new Uint8Array([1, 2, 3, 4]), Buffer.from("hello"));
    assert.deepEqual([Buffer.from(digest.digest), digest.size], [Buffer.from([1, 5]), 5]);
    assert.equal(await client.name(), "top");
    assert.deepEqual(calls, [
      ["item", "a/b", undefined],
      ["put", "bag", 3],
      ["putLabelled", "red", 2],
      ["digest", "01020304", "hello"],
      ["name"],
    ]);
    assert.deepEqual(
      sent.map((e) => [e.method, e.path, e.headers["content-type"], e.body?.toString()]),
      [
        ["GET", "/items/a%2Fb", undefined, undefined],
        ["POST", "/items", "application/json", '{"kind":"bag","count":3}'],
        ["POST", "/items", "application/json", '{"kind":"box","label":"red","count":2}'],
        ["POST", "/digest?key=01020304", "application/octet-stream", "hello"],
        ["GET", "/name", undefined, undefined],
      ],
    );
    // The caller's PIN goes with every operation (a TPM store's reads prove the owner with it,
    // docs/spec.md §6.2); operations that need none ignore it.
    assert.deepEqual(
      sent.map((e) => e.headers.authorization),
      Array(5).fill("Pin MTIzNDU2"),
    );
  });

  test("bytes decoded from the request are wiped once the call is over", async () => {
    const { keys, transport } = served();
    await new Client({ transport }).digest(new Uint8Array([9, 9, 9, 9]), Buffer.from("x"));
    assert.deepEqual([...(keys[0] as Uint8Array)], [0, 0, 0, 0]);
  });

  test("bad input is a 400 naming the field, and never reaches the implementation", async () => {
    const { app, calls } = served();
    const post = (path: string, body: string, type = "application/json") =>
      app.request(path, { method: "POST", headers: { "content-type": type }, body });
    const refusals: [Response, string][] = [
      [await post("/items", '{"kind":"crate","count":1}'), "'kind' must be one of box, bag"],
      [await post("/items", '{"kind":"box","count":10}'), "'count' must be a whole number"],
      [await post("/items", '{"kind":"box"}'), "'count' must be a whole number"],
      [await post("/items", '{"kind":"box","count":1,"colour":1}'), "unknown field 'colour'"],
      [await post("/items", '{"kind":"bag","label":"red","count":1}'), "'kind' must be one of box"],
      [await post("/items", '{"kind":"box","label":"toolong","count":1}'), "'label' must be a string"],
      [await post("/items", "[]"), "the request body must be a JSON object"],
      [await post("/items", '{"kind":"box","count":1}', "text/plain"), "the request body must be JSON"],
      [
        await post("/items", `{"kind":"box","count":1,"pad":"${"x".repeat(2000)}"}`),
        "larger than 1024 bytes",
      ],
      [await post("/digest?key=0102", "hello"), "'key' must be 4 bytes in hex"],
      [await app.request("/items/123456789"), "'id' must be a string of at most 8 characters"],
      [await app.request("/items/a?verbose=maybe"), "'verbose' must be one of yes, no"],
    ];
    for (const [response, message] of refusals) {
      const { error } = (await response.json()) as { error: { message: string; code: string; exit: number } };
      assert.equal(response.status, 400, message);
      assert.ok(error.message.includes(message), `${error.message} (expected ${message})`);
      assert.equal(error.exit, 2);
    }
    // Wrong method, unknown path: the 404 of every surface.
    const missing = await app.request("/name", { method: "DELETE" });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "not-found");
    assert.deepEqual(calls, []);
  });

  test("an event operation answers a stream: ready, then the feed's events", async () => {
    const { app } = served();
    const response = await app.request("/feed");
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("event: n")) text += Buffer.from((await reader.read()).value ?? []).toString();
    await reader.cancel();
    assert.match(text, /^event: ready\ndata: \{\}\n\n/);
    assert.match(text, /event: n\ndata: \{"n":1\}\n\n/);
    assert.equal((await app.request("/feed", { method: "HEAD" })).status, 200);
  });

  test("a feed with ids writes each event's id after its data; one without (the daemon's, the page's) writes none", async () => {
    const written = async (id?: (item: { n: number }) => string) => {
      const app = new Hono();
      app.get("/s", (c) =>
        eventStream(c, {
          subscribe: (listener) => {
            listener({ n: 1 });
            listener({ n: 2 });
            return () => {};
          },
          name: () => "n",
          ...(id ? { id } : {}),
        }),
      );
      const reader = ((await app.request("/s")).body as ReadableStream<Uint8Array>).getReader();
      let text = "";
      // Up to the end of the second event, whether or not an id line ends it.
      while (!/"n":2\}\n(?:id: .*\n)?\n$/.test(text)) {
        text += Buffer.from((await reader.read()).value ?? []).toString();
      }
      await reader.cancel();
      return text;
    };
    assert.equal(
      await written((item) => String(item.n * 10)),
      'event: ready\ndata: {}\n\nevent: n\ndata: {"n":1}\nid: 10\n\nevent: n\ndata: {"n":2}\nid: 20\n\n',
    );
    assert.equal(
      await written(),
      'event: ready\ndata: {}\n\nevent: n\ndata: {"n":1}\n\nevent: n\ndata: {"n":2}\n\n',
    );
  });

  test("a refusal of the server comes back to the client as the error it raised", async () => {
    const { transport } = served();
    await assert.rejects(
      new Client({ transport }).put("box", 99),
      (error: unknown) => error instanceof ReidError && error.exitCode === 2 && /'count'/.test(error.message),
    );
  });

  test("the spec's rows name every operation, its fields and where they travel", () => {
    const rows = describeOperations(SHELF);
    assert.deepEqual(
      rows.map((row) => [row.name, row.method, row.path, row.owner, row.limit, row.output]),
      [
        ["item", "GET", "/items/:id", false, null, "JSON"],
        ["put", "POST", "/items", false, 1024, "JSON"],
        ["putLabelled", "POST", "/items", false, 1024, "JSON"],
        ["digest", "POST", "/digest", true, 64, "JSON, bytes in hex: digest"],
        ["name", "GET", "/name", false, null, 'JSON {"name": ...}'],
        ["lock", "POST", "/lock", true, null, "JSON"],
        ["feed", "GET", "/feed", false, null, "text/event-stream: n"],
      ],
    );
    assert.deepEqual(
      rows[3]?.input.map((field) => [field.name, field.from, field.optional]),
      [
        ["key", "query", false],
        ["data", "raw", false],
      ],
    );
    assert.deepEqual(rows[2]?.fixed, { kind: "box" });
  });

  test("requestFor sends the PIN the caller gave with any operation, and none without one", () => {
    const { operations } = SHELF;
    assert.equal(requestFor(operations.lock, {}, { pin: "123456" }).headers.authorization, "Pin MTIzNDU2");
    assert.equal(requestFor(operations.lock, {}).headers.authorization, undefined);
    assert.equal(requestFor(operations.name, {}, { pin: "123456" }).headers.authorization, "Pin MTIzNDU2");
    assert.equal(requestFor(operations.name, {}).headers.authorization, undefined);
  });
});

describe("the validators", () => {
  const refuses = (read: () => unknown, message: RegExp) =>
    assert.throws(
      read,
      (error: unknown) => error instanceof ReidError && error.code === "usage" && message.test(error.message),
    );

  test("each accepts what it describes and refuses the rest, naming the field", () => {
    assert.equal(text({ max: 3 }).read("abc", "f"), "abc");
    refuses(() => text({ max: 3 }).read("abcd", "f"), /^'f' must be a string of at most 3 characters$/);
    refuses(() => text({ max: 3 }).read(3, "f"), /'f'/);
    refuses(() => text({ max: 9, pattern: /^[a-z]+$/ }).read("ABC", "f"), /'f'/);
    assert.equal(oneOf(["a", "b"]).read("b", "f"), "b");
    refuses(() => oneOf(["a", "b"]).read("c", "f"), /^'f' must be one of a, b$/);
    assert.equal(flag.read(false, "f"), false);
    refuses(() => flag.read("false", "f"), /true or false/);
    assert.equal(whole({ max: 5 }).read(5, "f"), 5);
    for (const bad of [-1, 6, 1.5, "1", Number.MAX_SAFE_INTEGER + 1])
      refuses(() => whole({ max: 5 }).read(bad, "f"), /'f'/);
    refuses(() => whole().read(2 ** 53, "f"), /whole number/);
    assert.equal(hex(2).read("aBcD", "f"), "aBcD");
    for (const bad of ["abc", "abcdef", "zzzz", 1234])
      refuses(() => hex(2).read(bad, "f"), /'f' must be 2 bytes in hex/);
    assert.deepEqual([...bytes({ max: 2 }).read("0aff", "f")], [10, 255]);
    for (const bad of ["", "0", "0aff00", "0g"]) refuses(() => bytes({ max: 2 }).read(bad, "f"), /'f'/);
    assert.equal(bytes({ length: 2 }).write(new Uint8Array([1, 2])), "0102");
    assert.deepEqual(list(text({ max: 2 }), { max: 2, message: () => "bad list" }).read(["a"], "f"), ["a"]);
    for (const bad of [["abc"], ["a", "b", "c"], "a", [1]]) {
      refuses(
        () => list(text({ max: 2 }), { max: 2, message: () => "bad list" }).read(bad, "f"),
        /^bad list$/,
      );
    }
    assert.equal(optional(flag).read(undefined, "f"), undefined);
  });

  test("a PIN is 1 to 128 characters, counted as the owner gate counts them", () => {
    assert.equal(pin.read("é".repeat(128), "pin"), "é".repeat(128));
    assert.equal(pin.read("😀".repeat(128), "pin"), "😀".repeat(128));
    for (const bad of ["", "x".repeat(129), "😀".repeat(129), 123456, null]) {
      refuses(() => pin.read(bad, "pin"), /^'pin' must be a PIN: a string of 1 to 128 characters$/);
    }
  });
});
