import assert from "node:assert/strict";
import { test } from "node:test";
import { BatchedRead } from "../../src/registry/store/batched-read.js";

/** A table of squares read through BatchedRead, recording every query it is asked. */
function squares(fail = false) {
  const queries: number[][] = [];
  const reader = new BatchedRead<number, number>(
    async (keys) => {
      queries.push([...keys]);
      if (fail) throw new Error("the database went away");
      return new Map(keys.filter((key) => key >= 0).map((key) => [String(key), key * key]));
    },
    (key) => String(key),
  );
  return { reader, queries };
}

test("reads asked in one turn are one query, padded to a power of two, each asker answered with its own row", async () => {
  const { reader, queries } = squares();
  const answers = await Promise.all([3, -1, 5, 3, 7].map((key) => reader.get(key)));
  assert.deepEqual(answers, [9, null, 25, 9, 49]);
  assert.deepEqual(queries, [[3, -1, 5, 3, 7, 7, 7, 7]]);
  // A later turn is another query.
  assert.equal(await reader.get(2), 4);
  assert.deepEqual(queries[1], [2]);
});

test("more than a batch holds goes in several queries of at most 64 keys", async () => {
  const { reader, queries } = squares();
  const keys = Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual(
    await Promise.all(keys.map((key) => reader.get(key))),
    keys.map((key) => key * key),
  );
  assert.deepEqual(
    queries.map((query) => query.length),
    [64, 64],
  );
});

test("a query that fails refuses every asker of its batch", async () => {
  const { reader } = squares(true);
  const answers = await Promise.allSettled([1, 2].map((key) => reader.get(key)));
  assert.deepEqual(
    answers.map((answer) => (answer.status === "rejected" ? (answer.reason as Error).message : "answered")),
    ["the database went away", "the database went away"],
  );
});
