import { type Context, Hono } from "hono";
import { ExitCode, ReidError, UsageError } from "../../errors.js";
import { shorten } from "../../http/schema.js";
import { answerOperatorErrors } from "../api/answers.js";
import type { StoredCheckpoint } from "../store/store.js";
import type { IdentityLog } from "./identity-log.js";

/** The most leaves one answer holds: a client asking for more gets the first ones and asks again. */
const LEAVES_PER_ANSWER = 1000;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/**
 * The identity log's API (docs/spec.md §10.12), public as a Certificate Transparency log is: the
 * verifier key, the newest checkpoint, leaves, and inclusion and consistency proofs for any size up
 * to the newest checkpoint's. Queries are read strictly (the names asked for, each once, decimal
 * without leading zeros); refusals are one line of JSON as the other /v1/ routes answer them.
 */
export function logRoutes(log: IdentityLog, report?: (message: string) => void): Hono {
  const app = new Hono();
  answerOperatorErrors(app, { report, bearer: false });

  app.get("/v1/log/key", (c) => {
    numbers(c, []);
    return c.body(`${log.key.verifierKey}\n`, 200, { "content-type": "text/plain" });
  });

  app.get("/v1/log/checkpoint", async (c) => {
    numbers(c, []);
    return c.body((await log.latest()).note, 200, { "content-type": "text/plain; charset=utf-8" });
  });

  app.get("/v1/log/leaves", async (c) => {
    const [start, end] = numbers(c, ["start", "end"]) as [number, number];
    if (start >= end) throw new UsageError(`'start' (${start}) must be below 'end' (${end})`);
    within(await log.covering(end), end, "end");
    const leaves = await log.leaves(start, Math.min(end, start + LEAVES_PER_ANSWER));
    return c.json({ start, leaves: leaves.map(base64) });
  });

  app.get("/v1/log/proof/inclusion", async (c) => {
    const [index, size] = numbers(c, ["index", "size"]) as [number, number];
    if (index >= size) throw new UsageError(`'index' (${index}) must be below 'size' (${size})`);
    within(await log.covering(size), size, "size");
    return c.json({ index, size, hashes: log.inclusionProof(index, size).map(base64) });
  });

  app.get("/v1/log/proof/consistency", async (c) => {
    const [from, to] = numbers(c, ["from", "to"]) as [number, number];
    if (from < 1 || from > to) throw new UsageError(`'from' (${from}) must be from 1 to 'to' (${to})`);
    within(await log.covering(to), to, "to");
    return c.json({ from, to, hashes: log.consistencyProof(from, to).map(base64) });
  });

  // Another method on one of these paths is refused as the API refuses, in JSON.
  app.all("/v1/log/*", (c) => {
    throw new ReidError(
      "not-found",
      ExitCode.usage,
      `no such endpoint: ${c.req.method.slice(0, 16)} ${shorten(c.req.path, 128)}`,
    );
  });
  return app;
}

/** The query's numbers, in the order named: each name exactly once, nothing else, decimal without leading zeros. */
function numbers(c: Context, names: readonly string[]): number[] {
  const query = c.req.queries();
  for (const name of Object.keys(query)) {
    if (!names.includes(name)) {
      throw new UsageError(
        names.length === 0
          ? `this endpoint takes no query, not '${shorten(name, 32)}'`
          : `unknown query parameter '${shorten(name, 32)}': expected ${names.join(" and ")}`,
      );
    }
  }
  return names.map((name) => {
    const values = query[name] ?? [];
    const value = values.length === 1 ? (values[0] as string) : "";
    const number = DECIMAL.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number)) {
      throw new UsageError(`'${name}' must be given once, a whole number in decimal without leading zeros`);
    }
    return number;
  });
}

function within(checkpoint: StoredCheckpoint, size: number, name: string): void {
  if (size > checkpoint.size) {
    throw new UsageError(
      `'${name}' (${size}) is beyond the log: its newest checkpoint has ${checkpoint.size} leaves`,
      "beyond-log",
    );
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}
