import { openRandomSupply, openSource, SUPPLY_PROFILES } from "../../entropy/open.js";
import { parseSourceSpec, sourceName } from "../../entropy/source-spec.js";
import { UsageError } from "../../errors.js";
import type { OpenedBackend } from "../../storage/backend.js";
import { checkGenerator, GENERATORS, generatorOf, NAMED_BACKENDS } from "../../storage/backends.js";
import type { StoreSpec } from "../../storage/store-spec.js";
import { parseByteCount } from "../byte-count.js";
import { type CliContext, type Command, printJson, storeSpecOfContext } from "../context.js";
import { secretPrompt } from "../prompt.js";
import { writable } from "../writable.js";

const CHUNK = 1 << 16;
const JSON_LIMIT = 1 << 16;

export const command: Command = {
  usage: `reid [--source SPEC] ${NAMED_BACKENDS.map((entry) => `[--${entry.option} SPEC] `).join("")}[--json] random --bytes N [--hex]`,
  summary: "Writes N bytes from the element's health-tested entropy source (through its FIFO) to stdout.",
  options: { bytes: { type: "string" }, hex: { type: "boolean" } },
  positionals: [0, 0],
  async run(context, values) {
    if (typeof values.bytes !== "string") throw new UsageError("'reid random' needs --bytes N");
    const total = parseByteCount(values.bytes, "--bytes");
    if (context.json && total > JSON_LIMIT) {
      throw new UsageError(
        `'reid random --json' prints at most ${JSON_LIMIT} bytes; drop --json to stream more`,
      );
    }
    const { stream } = SUPPLY_PROFILES;
    const store = await storeSpecOfContext(context);
    const source = context.source ?? parseSourceSpec(store.backend.defaultSource, GENERATORS);
    // The backend opens (and its client loads) only for its own generator.
    const backend =
      source.kind === "backend"
        ? await openGenerator(context, store, sourceName(source), source.backend)
        : null;
    const close = async () => {
      await backend?.area.close();
      await backend?.close();
    };
    let supply: ReturnType<typeof openRandomSupply>;
    try {
      supply = openRandomSupply(openSource(source, backend ? generatorOf(backend) : undefined), {
        capacity: stream.capacity,
        refill: Math.min(stream.refill, total),
      });
    } catch (error) {
      await close();
      throw error;
    }
    try {
      if (context.json) {
        const bytes = await supply.fifo.read(total);
        return printJson(context, { bytes: total, hex: Buffer.from(bytes).toString("hex") });
      }
      await streamOut(context.stdout, total, values.hex === true, (chunk) => supply.fifo.readInto(chunk));
    } finally {
      await supply.close();
      await close();
    }
  },
};

/** The store's backend, opened for its generator (--source tpm, pkcs11+os) and nothing else. */
async function openGenerator(
  context: CliContext,
  store: StoreSpec,
  name: string,
  wanted: string,
): Promise<OpenedBackend> {
  checkGenerator(name, wanted, store.kind);
  const opened = await store.backend.open(context.storeDirectory, store.spec, {
    write: false,
    lockTimeoutMs: context.lockTimeoutMs,
    env: context.env,
    prompt: secretPrompt(context.stderr),
  });
  try {
    checkGenerator(name, wanted, store.kind, opened.randomSource !== undefined);
  } catch (error) {
    await opened.area.close();
    await opened.close();
    throw error;
  }
  return opened;
}

/**
 * Streams with backpressure, and stops once stdout fails: a reader that goes away (EPIPE, as with
 * `| head -c 100`) or a full disk. `run` reports the failure (or, for EPIPE, ends quietly).
 */
async function streamOut(
  out: NodeJS.WritableStream,
  total: number,
  hex: boolean,
  fill: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  let failed = false;
  const onError = () => {
    failed = true;
  };
  out.on("error", onError);
  const gone = () => failed || (out as { destroyed?: boolean }).destroyed === true;
  try {
    for (let sent = 0; sent < total && !gone(); ) {
      const chunk = Buffer.allocUnsafeSlow(Math.min(CHUNK, total - sent));
      await fill(chunk);
      sent += chunk.length;
      const text = hex ? chunk.toString("hex") + (sent === total ? "\n" : "") : chunk;
      if (!out.write(text)) await writable(out, gone);
    }
  } finally {
    out.off("error", onError);
  }
}
