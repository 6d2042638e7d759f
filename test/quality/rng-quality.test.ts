// Issue: 4 MiB of `reid random` piped through the Debian tools rngtest (at most 8 failed blocks of
// 1677, no continuous-run failure) and `ent -t` (entropy >= 7.9995, chi-square within
// [179.4, 347.7], |serial correlation| <= 0.002) passes; the same harness rejects known-bad streams.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { existsSync } from "node:fs";
import { type TestContext, test } from "node:test";
import { REID, reidOk } from "../helpers/cli.js";
import {
  assessStream,
  CRITERIA,
  type EntFigures,
  judge,
  parseEnt,
  parseRngtest,
  type RngtestFigures,
  requireTools,
  type Verdict,
} from "../helpers/rng-quality.js";

const BYTES = 4 * 1024 * 1024;
/** rngtest seeds its continuous-run test with 32 bits, then tests 20000-bit blocks. */
const BLOCKS = Math.floor((BYTES * 8 - 32) / 20_000);

function* chunksOf(bytes: Uint8Array, size = 1 << 16): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** A broken generator: every bit is 1 with probability `p` (independently), not 1/2. */
function* biasedGenerator(total: number, p: number, chunk = 1 << 16): Generator<Uint8Array> {
  const threshold = Math.round(p * 65536);
  const noise = new Uint16Array(chunk * 8);
  for (let made = 0; made < total; made += chunk) {
    const out = new Uint8Array(Math.min(chunk, total - made));
    randomFillSync(noise);
    for (let i = 0; i < out.length; i++) {
      let byte = 0;
      for (let bit = 0; bit < 8; bit++) if ((noise[i * 8 + bit] ?? 65535) < threshold) byte |= 1 << bit;
      out[i] = byte;
    }
    yield out;
  }
}

function describe(verdict: Verdict): string {
  const { rngtest, ent } = verdict;
  return (
    `${verdict.bytes} bytes: rngtest ${rngtest.failures}/${rngtest.blocks} blocks failed, ` +
    `${rngtest.continuousRun} continuous-run; ent entropy ${ent.entropy}, chi-square ${ent.chiSquare}, ` +
    `serial correlation ${ent.serialCorrelation}` +
    (verdict.pass ? "" : `; rejected: ${verdict.failures.join("; ")}`)
  );
}

test("4 MiB of `reid random --bytes 4M`, piped from the CLI into rngtest and ent -t, passes", async (t: TestContext) => {
  requireTools();
  assert.ok(existsSync(REID), `${REID} is missing: run 'npm run build' (npm test does it)`);
  const child = spawn(process.execPath, [REID, "random", "--bytes", "4M"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code));
  });
  const verdict = await assessStream(child.stdout);
  assert.equal(await exited, 0, `reid random failed: ${stderr.trim()}`);
  assert.equal(stderr, "");
  t.diagnostic(describe(verdict));
  assert.equal(verdict.bytes, BYTES, "the CLI did not write exactly 4 MiB");
  assert.equal(verdict.rngtest.blocks, BLOCKS);
  assert.ok(verdict.pass, describe(verdict));
});

test("the same random data with every 16th byte zeroed is rejected", async (t: TestContext) => {
  requireTools();
  const data = new Uint8Array((await reidOk(["random", "--bytes", "4M"])).stdoutBytes);
  assert.equal(data.length, BYTES);
  // The control: these very bytes pass before they are damaged.
  const control = await assessStream(chunksOf(data));
  assert.ok(control.pass, `the undamaged data should pass: ${describe(control)}`);
  for (let i = 15; i < data.length; i += 16) data[i] = 0;
  const verdict = await assessStream(chunksOf(data));
  t.diagnostic(describe(verdict));
  assert.equal(verdict.pass, false, `every-16th-byte-zero passed: ${describe(verdict)}`);
  assert.ok(verdict.ent.entropy < CRITERIA.minEntropy, describe(verdict));
  assert.ok(verdict.ent.chiSquare > CRITERIA.chiSquare[1], describe(verdict));
  assert.ok(verdict.failures.some((line) => line.startsWith("ent: entropy")));
  assert.ok(verdict.failures.some((line) => line.startsWith("ent: chi-square")));
});

test("a biased generator (each bit 1 with probability 0.51) is rejected", async (t: TestContext) => {
  requireTools();
  const verdict = await assessStream(biasedGenerator(BYTES, 0.51));
  t.diagnostic(describe(verdict));
  assert.equal(verdict.bytes, BYTES);
  assert.equal(verdict.pass, false, `the biased stream passed: ${describe(verdict)}`);
  // A 1 % bit bias fails FIPS 140-2 monobit in many blocks and shows in the byte statistics.
  assert.ok(verdict.rngtest.failures > CRITERIA.maxFailedBlocks, describe(verdict));
  assert.ok(verdict.rngtest.monobit > 0, describe(verdict));
  assert.ok(verdict.ent.entropy < CRITERIA.minEntropy, describe(verdict));
  assert.ok(verdict.ent.mean > 127.5 + 1, describe(verdict));
});

test("the verdict names each criterion that fails, one at a time, and passes at the limits", () => {
  const rngtest: RngtestFigures = {
    bits: BYTES * 8,
    blocks: BLOCKS,
    successes: BLOCKS - CRITERIA.maxFailedBlocks,
    failures: CRITERIA.maxFailedBlocks,
    monobit: 2,
    poker: 2,
    runs: 4,
    longRun: 0,
    continuousRun: 0,
  };
  const ent: EntFigures = {
    bytes: BYTES,
    entropy: CRITERIA.minEntropy,
    chiSquare: CRITERIA.chiSquare[0],
    mean: 127.5,
    monteCarloPi: Math.PI,
    serialCorrelation: -CRITERIA.maxAbsSerialCorrelation,
  };
  assert.deepEqual(judge(BYTES, rngtest, ent).failures, []);
  assert.equal(judge(BYTES, rngtest, { ...ent, chiSquare: CRITERIA.chiSquare[1] }).pass, true);

  const cases: [string, RngtestFigures, EntFigures, RegExp][] = [
    [
      "failed blocks",
      { ...rngtest, failures: 9, successes: BLOCKS - 9 },
      ent,
      /^rngtest: 9 of 1677 blocks failed/,
    ],
    ["continuous run", { ...rngtest, continuousRun: 1 }, ent, /^rngtest: 1 continuous-run failures/],
    ["entropy", rngtest, { ...ent, entropy: 7.9994 }, /^ent: entropy 7\.9994/],
    ["chi-square low", rngtest, { ...ent, chiSquare: 179.3 }, /^ent: chi-square 179\.3/],
    ["chi-square high", rngtest, { ...ent, chiSquare: 347.8 }, /^ent: chi-square 347\.8/],
    [
      "serial correlation",
      rngtest,
      { ...ent, serialCorrelation: 0.0021 },
      /^ent: serial correlation 0\.0021/,
    ],
    [
      "undefined serial correlation",
      rngtest,
      { ...ent, serialCorrelation: Number.NaN },
      /^ent: serial correlation NaN/,
    ],
    ["no block", { ...rngtest, blocks: 0, successes: 0, failures: 0 }, ent, /^rngtest: no complete/],
  ];
  for (const [what, r, e, expected] of cases) {
    const verdict = judge(BYTES, r, e);
    assert.equal(verdict.pass, false, `${what} passed`);
    assert.equal(verdict.failures.length, 1, `${what}: ${verdict.failures.join("; ")}`);
    assert.match(verdict.failures[0] ?? "", expected);
  }
});

test("the harness refuses tool output it cannot read instead of passing it", () => {
  assert.throws(() => parseRngtest("rngtest: starting FIPS tests...\n"), /no 'FIPS 140-2 successes' line/);
  assert.throws(() => parseEnt("Entropy = 7.999958 bits per byte.\n"), /unexpected 'ent -t' output/);
  assert.throws(
    () =>
      parseEnt("0,File-bytes,Entropy,Chi-square,Mean,Monte-Carlo-Pi,Serial-Correlation\n1,10,x,1,1,1,1\n"),
    /unexpected 'ent -t' row/,
  );
  const figures = parseEnt(
    "0,File-bytes,Entropy,Chi-square,Mean,Monte-Carlo-Pi,Serial-Correlation\n1,4194304,7.999958,246.477783,127.502633,3.141383,0.000351\n",
  );
  assert.deepEqual(figures, {
    bytes: 4194304,
    entropy: 7.999958,
    chiSquare: 246.477783,
    mean: 127.502633,
    monteCarloPi: 3.141383,
    serialCorrelation: 0.000351,
  });
});

test("without rngtest or ent the harness fails, naming the Debian packages", () => {
  assert.throws(
    () => requireTools({ PATH: "/nonexistent" }),
    (error: Error) =>
      /rngtest \(Debian package rng-tools5\)/.test(error.message) &&
      /ent \(Debian package ent\)/.test(error.message) &&
      /apt-get install rng-tools5 ent/.test(error.message),
  );
  assert.doesNotThrow(() => requireTools());
});
