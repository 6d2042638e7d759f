import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { type IdentifierFormat, processRandom } from "../format/format.js";

const SALT = new TextEncoder().encode("reid/factory/identifier/v1");
/** HKDF-Expand gives at most 255 hash lengths per info. */
const CHUNK = 255 * 32;

/**
 * The factory identifier of `format` from a factory root: the format's sampling (the same code as
 * the TRNG path) fed by an HKDF-SHA-256 stream of the root instead of the FIFO, so the same root
 * and format always give the same identifier. The caller zeroes the result.
 */
export function factoryIdentifier(root: Uint8Array, format: IdentifierFormat): Promise<Uint8Array> {
  let chunk = 0;
  let buffer = new Uint8Array(0);
  return processRandom(format, async (length) => {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (buffer.length === 0) {
        buffer = hkdf(sha256, root, SALT, new TextEncoder().encode(`stream ${chunk++}`), CHUNK);
      }
      const take = Math.min(length - filled, buffer.length);
      out.set(buffer.subarray(0, take), filled);
      buffer.fill(0, 0, take);
      buffer = buffer.subarray(take);
      filled += take;
    }
    return out;
  });
}
