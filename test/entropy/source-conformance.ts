import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openRandomSupply } from "../../src/entropy/open.js";
import type { EntropySource } from "../../src/entropy/source.js";
import { EntropyError, ExitCode } from "../../src/errors.js";

export interface SourceBackend {
  readonly name: string;
  /** A fresh source of this kind; the backend closes what it opened when the test ends. */
  open(t: import("node:test").TestContext): Promise<EntropySource>;
  /** Makes the next fills of `source` fail as this backend fails (a device gone, a TPM unreachable). */
  breakIt?(source: EntropySource): Promise<void>;
}

/** Pearson's chi-square of byte counts against uniform: 255 degrees of freedom. */
function chiSquare(bytes: Uint8Array): number {
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b] = (counts[b] ?? 0) + 1;
  const expected = bytes.length / 256;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}
/** Outside [180, 340] happens to a uniform source far less than once in 10^5 runs. */
const CHI_BOUNDS = [180, 340] as const;

/**
 * The EntropySource contract, run against every source: fills are complete at any length, fresh
 * each time, plausibly uniform, pass the TRNG module's start-up and continuous health tests, and
 * failures are EntropyErrors (exit 5) that never hand out a partial fill as good.
 */
export function describeEntropySource(backend: SourceBackend): void {
  describe(`EntropySource conformance: ${backend.name}`, () => {
    test("claims a min-entropy in (0, 8] and has a name", async (t) => {
      const source = await backend.open(t);
      assert.ok(source.minEntropy > 0 && source.minEntropy <= 8);
      assert.match(source.name, /^[a-z]/);
    });

    test("fills targets of every length completely, with fresh bytes each time", async (t) => {
      const source = await backend.open(t);
      for (const length of [1, 2, 31, 32, 33, 64, 100, 1000, 4097]) {
        const a = new Uint8Array(length);
        const b = new Uint8Array(length);
        await source.fill(a);
        await source.fill(b);
        if (length >= 16) {
          assert.ok(!Buffer.from(a).equals(Buffer.from(b)), `two fills of ${length} bytes are equal`);
          // The last bytes are written too: a source that stops early leaves zeros at the end.
          assert.ok(!a.subarray(-16).every((x) => x === 0), `fill of ${length} left its tail empty`);
        }
      }
    });

    test("64 KiB look uniform (chi-square), and the checker rejects a biased stream", async (t) => {
      const source = await backend.open(t);
      const bytes = new Uint8Array(1 << 16);
      await source.fill(bytes);
      const x2 = chiSquare(bytes);
      assert.ok(
        x2 > CHI_BOUNDS[0] && x2 < CHI_BOUNDS[1],
        `chi-square ${x2.toFixed(1)} outside ${CHI_BOUNDS}`,
      );
      const biased = bytes.map((b) => b % 200);
      assert.ok(chiSquare(biased) > CHI_BOUNDS[1], "the chi-square check accepts a biased stream");
    });

    test("passes the TRNG module's start-up and continuous health tests through the FIFO", async (t) => {
      const source = await backend.open(t);
      const supply = openRandomSupply(source, { capacity: 4096, refill: 64 });
      try {
        const first = await supply.fifo.read(64);
        const second = await supply.fifo.read(64);
        assert.ok(!Buffer.from(first).equals(Buffer.from(second)), "the FIFO served the same bytes twice");
      } finally {
        await supply.close();
      }
    });

    if (backend.breakIt) {
      const breakIt = backend.breakIt;
      test("a failing source rejects with an EntropyError (exit 5)", async (t) => {
        const source = await backend.open(t);
        await source.fill(new Uint8Array(8));
        await breakIt(source);
        const error = await source.fill(new Uint8Array(64)).then(
          () => null,
          (e: unknown) => e,
        );
        assert.ok(error instanceof EntropyError, `expected an EntropyError, got ${String(error)}`);
        assert.equal(error.exitCode, ExitCode.entropy);
        assert.doesNotMatch(error.message, /\n/);
      });
    }
  });
}
