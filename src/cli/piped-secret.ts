import { UsageError } from "../errors.js";

/** As a secret file is capped (src/storage/secret-file.ts): a PIN is far shorter. */
const MAX_PIPED = 1024;

/**
 * A secret piped on stdin (`printf '%s\n' "$PIN" | reid pin set`): read once, whole, to the end,
 * one trailing line break dropped, as a secret file is read. Null when stdin is a terminal (the
 * prompt asks there) or gives nothing (`< /dev/null`, a closed stdin): the caller says how else to
 * give it.
 */
export async function pipedSecret(what: string): Promise<string | null> {
  const input = process.stdin;
  if (input.isTTY) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      size += chunk.length;
      chunks.push(chunk);
      if (size > MAX_PIPED) throw new UsageError(`the ${what} on stdin has over ${MAX_PIPED} bytes`);
    }
  } catch (error) {
    for (const chunk of chunks) chunk.fill(0);
    if (error instanceof UsageError) throw error;
    return null;
  }
  const bytes = Buffer.concat(chunks);
  for (const chunk of chunks) chunk.fill(0);
  const text = bytes.toString("utf8").replace(/\r?\n$/, "");
  bytes.fill(0);
  return text === "" ? null : text;
}
