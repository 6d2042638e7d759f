import { openRandomSupply, openSource, SUPPLY_PROFILES } from "../../entropy/open.js";
import { UsageError } from "../../errors.js";
import { parseByteCount } from "../byte-count.js";
import { type Command, printJson } from "../context.js";

const CHUNK = 1 << 16;
const JSON_LIMIT = 1 << 16;

export const command: Command = {
  usage: "reid [--source SPEC] [--tpm SPEC] [--json] random --bytes N [--hex]",
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
    // The TPM client loads only for a TPM source.
    const tpm =
      context.source.kind === "tpm" && context.tpm
        ? await (await import("../../tpm/transport/open.js")).connectTpm(context.tpm.address)
        : undefined;
    let supply: ReturnType<typeof openRandomSupply>;
    try {
      supply = openRandomSupply(openSource(context.source, tpm), {
        capacity: stream.capacity,
        refill: Math.min(stream.refill, total),
      });
    } catch (error) {
      await tpm?.close();
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
      await tpm?.close();
    }
  },
};

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

/** Resolves once `out` takes more data, or never will (closed, failed); removes its listeners. */
function writable(out: NodeJS.WritableStream, gone: () => boolean): Promise<void> {
  if (gone()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off("drain", done);
      out.off("close", done);
      out.off("error", done);
      resolve();
    };
    out.on("drain", done);
    out.on("close", done);
    out.on("error", done);
  });
}
