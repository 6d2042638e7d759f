import { ExitCode, ReidError } from "../../errors.js";
import type { LogAnswer, LogGet } from "../../http/log-witness.js";
import { HASH_SIZE } from "./hash.js";
import { logUntrusted } from "./log-errors.js";
import { parseVerifierKey, type VerifierKey } from "./note.js";

/**
 * The reading side of the identity log's API (docs/spec.md §10.12): the key, the newest
 * checkpoint, leaves a page at a time and the two proofs, each answer parsed strictly (its shape,
 * its base64, its sizes) before anything of it is believed. What the registry answers that is not
 * the API's is `log-untrusted`: a verifier cannot tell a broken registry from a lying one. The
 * requests go through `get`, which the caller makes over its pinned TLS (the element's enrollment,
 * the operator's `--url`), so a registry out of reach keeps that error.
 */

/** The API answers at most this many leaves at a time. */
export const LEAF_PAGE = 1000;
/** A leaf is one event: a succession's, the largest, is a few KiB. */
const MAX_LEAF = 64 * 1024;
const MAX_HASHES = 64;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class LogClient {
  constructor(
    private readonly get: LogGet,
    /** HOST:PORT, for messages. */
    readonly where: string,
  ) {}

  /** GET /v1/log/key: the verifier key, one line. */
  async key(): Promise<{ readonly text: string; readonly key: VerifierKey }> {
    const text = (await this.text("/v1/log/key", "text/plain")).replace(/\n$/, "");
    if (text.includes("\n")) throw logUntrusted(`the registry at ${this.where} answered no single log key`);
    return { text, key: parseVerifierKey(text) };
  }

  /** GET /v1/log/checkpoint: the newest signed checkpoint, a note not yet opened. */
  checkpoint(): Promise<string> {
    return this.text("/v1/log/checkpoint", "text/plain");
  }

  /** Leaves `start` to `end` − 1, in pages of at most 1,000 as the registry answers them. */
  async *leaves(start: number, end: number): AsyncGenerator<Uint8Array[]> {
    for (let next = start; next < end; ) {
      const asked = Math.min(end, next + LEAF_PAGE);
      const answer = await this.json(`/v1/log/leaves?start=${next}&end=${asked}`, ["start", "leaves"]);
      const leaves = answer.leaves;
      if (answer.start !== next || !Array.isArray(leaves) || leaves.length === 0) {
        throw this.malformed(`leaves from ${next}`);
      }
      if (leaves.length > asked - next) throw this.malformed(`more leaves than the ${asked - next} asked`);
      const page = leaves.map((leaf) => {
        const bytes = base64Of(leaf);
        if (bytes === null || bytes.length === 0 || bytes.length > MAX_LEAF) {
          throw this.malformed(`a leaf from ${next} that is not base64 of 1 byte to 64 KiB`);
        }
        return bytes;
      });
      yield page;
      next += page.length;
    }
  }

  /** The inclusion proof of leaf `index` in the tree of the first `size` leaves. */
  inclusion(index: number, size: number): Promise<Uint8Array[]> {
    return this.proof("inclusion", { index, size });
  }

  /** The consistency proof of the tree of `from` leaves with the tree of `to`. */
  consistency(from: number, to: number): Promise<Uint8Array[]> {
    return this.proof("consistency", { from, to });
  }

  /** A proof's hashes, once the answer names the very sizes asked. */
  private async proof(kind: string, asked: Readonly<Record<string, number>>): Promise<Uint8Array[]> {
    const query = Object.entries(asked).map(([name, value]) => `${name}=${value}`);
    const answer = await this.json(`/v1/log/proof/${kind}?${query.join("&")}`, [
      ...Object.keys(asked),
      "hashes",
    ]);
    if (Object.entries(asked).some(([name, value]) => answer[name] !== value)) {
      throw this.malformed(`the ${kind} proof asked`);
    }
    return this.hashes(answer.hashes, `${kind} proof`);
  }

  private hashes(value: unknown, what: string): Uint8Array[] {
    if (!Array.isArray(value) || value.length > MAX_HASHES) throw this.malformed(`a ${what}`);
    return value.map((hash) => {
      const bytes = base64Of(hash);
      if (bytes === null || bytes.length !== HASH_SIZE) throw this.malformed(`a ${what} hash`);
      return bytes;
    });
  }

  private async text(path: string, type: string): Promise<string> {
    const answer = await this.ok(path);
    if (!answer.type.toLowerCase().startsWith(type)) {
      throw logUntrusted(`the registry at ${this.where} answered ${path} as '${answer.type}', not ${type}`);
    }
    const text = Buffer.from(answer.body).toString("utf8");
    if (!Buffer.from(text, "utf8").equals(answer.body)) {
      throw logUntrusted(`the registry at ${this.where} answered ${path} that is not UTF-8`);
    }
    return text;
  }

  /** The answer's JSON object, of exactly `members`. */
  private async json(path: string, members: readonly string[]): Promise<Record<string, unknown>> {
    const answer = await this.ok(path);
    let value: unknown = null;
    try {
      value = JSON.parse(Buffer.from(answer.body).toString("utf8"));
    } catch {
      // Below: not the API's answer.
    }
    const keys =
      value !== null && typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
    if (keys.length !== members.length || !members.every((member) => keys.includes(member))) {
      throw logUntrusted(
        `the registry at ${this.where} answered ${path} with no ${members.join(", ")} object`,
      );
    }
    return value as Record<string, unknown>;
  }

  private async ok(path: string): Promise<LogAnswer> {
    const answer = await this.get(path);
    if (answer.status === 200) return answer;
    const said = Buffer.from(answer.body).toString("utf8").split("\n")[0]?.slice(0, 200).trim();
    const because = `HTTP ${answer.status}${said ? `: ${said}` : ""}`;
    // A registry starting or failing on its side is out of reach, as it is for the other requests.
    if (answer.status >= 500) {
      throw new ReidError(
        "registry-unreachable",
        ExitCode.unreachable,
        `the registry at ${this.where} answered ${because}`,
      );
    }
    throw logUntrusted(`the registry at ${this.where} refused GET ${path}: ${because}`);
  }

  private malformed(what: string): ReidError {
    return logUntrusted(`the registry at ${this.where} answered ${what} malformed`);
  }
}

/** Standard base64 in its one canonical spelling, or null. */
function base64Of(value: unknown): Uint8Array | null {
  if (typeof value !== "string" || !BASE64.test(value) || value.length % 4 !== 0) return null;
  const bytes = Buffer.from(value, "base64");
  return bytes.toString("base64") === value ? new Uint8Array(bytes) : null;
}
