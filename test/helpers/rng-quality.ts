import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { Readable } from "node:stream";

/**
 * Statistical quality of a byte stream, judged by two Debian tools run on the same bytes:
 * rngtest (rng-tools5: the FIPS 140-2 tests over 20000-bit blocks) and `ent -t` (ent: entropy,
 * chi-square, serial correlation). The thresholds are sized for 4 MiB (1677 rngtest blocks).
 */
export const CRITERIA = {
  /** FIPS 140-2 failures an ideal source still shows now and then (about 0.08 % of blocks). */
  maxFailedBlocks: 8,
  maxContinuousRunFailures: 0,
  minEntropy: 7.9995,
  /** 255 degrees of freedom: the 0.01 % and 99.99 % quantiles. */
  chiSquare: [179.4, 347.7] as const,
  maxAbsSerialCorrelation: 0.002,
} as const;

export const TOOLS = [
  { command: "rngtest", debianPackage: "rng-tools5" },
  { command: "ent", debianPackage: "ent" },
] as const;

export interface RngtestFigures {
  readonly bits: number;
  readonly blocks: number;
  readonly successes: number;
  readonly failures: number;
  readonly monobit: number;
  readonly poker: number;
  readonly runs: number;
  readonly longRun: number;
  readonly continuousRun: number;
}

export interface EntFigures {
  readonly bytes: number;
  readonly entropy: number;
  readonly chiSquare: number;
  readonly mean: number;
  readonly monteCarloPi: number;
  readonly serialCorrelation: number;
}

export interface Verdict {
  readonly pass: boolean;
  /** One line per criterion the stream failed, with the figure; empty when it passed. */
  readonly failures: readonly string[];
  readonly bytes: number;
  readonly rngtest: RngtestFigures;
  readonly ent: EntFigures;
}

/**
 * Fails with a message naming the Debian packages when rngtest or ent is not on PATH. The quality
 * tests never skip: a machine without the tools cannot vouch for the generator.
 */
export function requireTools(env: NodeJS.ProcessEnv = process.env): void {
  const missing = TOOLS.filter(({ command }) => !onPath(command, env.PATH ?? ""));
  if (missing.length > 0) {
    const names = missing.map(({ command, debianPackage }) => `${command} (Debian package ${debianPackage})`);
    const packages = missing.map(({ debianPackage }) => debianPackage).join(" ");
    throw new Error(
      `the RNG quality harness needs ${names.join(" and ")}, not found on PATH; install with: apt-get install ${packages}`,
    );
  }
}

/**
 * Runs the bytes of `input` (a readable such as a child's stdout, or chunks) through rngtest and
 * `ent -t` at the same time and judges the figures against CRITERIA. Throws (rather than returning
 * a verdict) when a tool fails to run or its output cannot be read, or when the tools did not see
 * every byte: a harness problem must never look like a pass.
 */
export async function assessStream(input: Readable | Iterable<Uint8Array>): Promise<Verdict> {
  requireTools();
  const rngtest = runTool("rngtest", [], "stderr");
  const ent = runTool("ent", ["-t"], "stdout");
  let bytes = 0;
  const sinks = [rngtest.stdin, ent.stdin];
  for await (const chunk of input as AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    bytes += chunk.length;
    const writes = sinks.map((sink) => (sink.write(chunk) ? null : waitForDrain(sink)));
    await Promise.all(writes);
  }
  for (const sink of sinks) sink.end();
  const [rngtestRun, entRun] = await Promise.all([rngtest.done, ent.done]);
  // rngtest exits 1 whenever any block failed, which good data does too; 0 and 1 are results.
  if (rngtestRun.code !== 0 && rngtestRun.code !== 1) {
    throw new Error(`rngtest exited ${rngtestRun.code ?? rngtestRun.signal}: ${rngtestRun.output.trim()}`);
  }
  if (entRun.code !== 0)
    throw new Error(`ent -t exited ${entRun.code ?? entRun.signal}: ${entRun.errors.trim()}`);
  const rngtestFigures = parseRngtest(rngtestRun.output);
  const entFigures = parseEnt(entRun.output);
  if (rngtestFigures.bits !== bytes * 8) {
    throw new Error(`rngtest received ${rngtestFigures.bits} bits of the ${bytes * 8} sent`);
  }
  if (entFigures.bytes !== bytes)
    throw new Error(`ent received ${entFigures.bytes} bytes of the ${bytes} sent`);
  // rngtest takes the first 32 bits to seed its continuous-run test, then tests whole blocks.
  const blocks = Math.max(0, Math.floor((bytes * 8 - 32) / 20_000));
  if (rngtestFigures.blocks !== blocks) {
    throw new Error(`rngtest tested ${rngtestFigures.blocks} blocks of ${bytes} bytes, expected ${blocks}`);
  }
  return judge(bytes, rngtestFigures, entFigures);
}

/** The verdict on a set of figures; every criterion of CRITERIA that is not met is listed. */
export function judge(bytes: number, rngtest: RngtestFigures, ent: EntFigures): Verdict {
  const failures: string[] = [];
  if (rngtest.blocks === 0) failures.push("rngtest: no complete 20000-bit block to test");
  if (!(rngtest.failures <= CRITERIA.maxFailedBlocks)) {
    failures.push(
      `rngtest: ${rngtest.failures} of ${rngtest.blocks} blocks failed (at most ${CRITERIA.maxFailedBlocks}; ` +
        `monobit ${rngtest.monobit}, poker ${rngtest.poker}, runs ${rngtest.runs}, long run ${rngtest.longRun})`,
    );
  }
  if (!(rngtest.continuousRun <= CRITERIA.maxContinuousRunFailures)) {
    failures.push(
      `rngtest: ${rngtest.continuousRun} continuous-run failures (at most ${CRITERIA.maxContinuousRunFailures})`,
    );
  }
  if (!(ent.entropy >= CRITERIA.minEntropy)) {
    failures.push(`ent: entropy ${ent.entropy} bits per byte (at least ${CRITERIA.minEntropy})`);
  }
  const [low, high] = CRITERIA.chiSquare;
  if (!(ent.chiSquare >= low && ent.chiSquare <= high)) {
    failures.push(`ent: chi-square ${ent.chiSquare} (within [${low}, ${high}])`);
  }
  if (!(Math.abs(ent.serialCorrelation) <= CRITERIA.maxAbsSerialCorrelation)) {
    failures.push(
      `ent: serial correlation ${ent.serialCorrelation} (|x| at most ${CRITERIA.maxAbsSerialCorrelation})`,
    );
  }
  return { pass: failures.length === 0, failures, bytes, rngtest, ent };
}

/** Reads rngtest's report (it writes it to stderr); throws if a figure is missing. */
export function parseRngtest(report: string): RngtestFigures {
  const figure = (label: string): number => {
    const match = new RegExp(`^rngtest: ${label}: (\\d+)$`, "m").exec(report);
    if (!match) throw new Error(`rngtest's report has no '${label}' line:\n${report}`);
    return Number(match[1]);
  };
  const successes = figure("FIPS 140-2 successes");
  const failures = figure("FIPS 140-2 failures");
  return {
    bits: figure("bits received from input"),
    blocks: successes + failures,
    successes,
    failures,
    monobit: figure("FIPS 140-2\\(2001-10-10\\) Monobit"),
    poker: figure("FIPS 140-2\\(2001-10-10\\) Poker"),
    runs: figure("FIPS 140-2\\(2001-10-10\\) Runs"),
    longRun: figure("FIPS 140-2\\(2001-10-10\\) Long run"),
    continuousRun: figure("FIPS 140-2\\(2001-10-10\\) Continuous run"),
  };
}

/** Reads `ent -t` output: a CSV header and one row of figures; throws if it is not that. */
export function parseEnt(csv: string): EntFigures {
  const [header, row, ...rest] = csv.trim().split("\n");
  const expected = "0,File-bytes,Entropy,Chi-square,Mean,Monte-Carlo-Pi,Serial-Correlation";
  if (header !== expected || row === undefined || rest.length > 0) {
    throw new Error(`unexpected 'ent -t' output:\n${csv}`);
  }
  const fields = row.split(",").map(Number);
  if (fields.length !== 7 || fields[0] !== 1 || fields.some((value) => Number.isNaN(value))) {
    throw new Error(`unexpected 'ent -t' row: ${row}`);
  }
  const [, bytes = 0, entropy = 0, chiSquare = 0, mean = 0, monteCarloPi = 0, serialCorrelation = 0] = fields;
  return { bytes, entropy, chiSquare, mean, monteCarloPi, serialCorrelation };
}

interface ToolRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The stream the tool reports on (rngtest: stderr; ent: stdout). */
  readonly output: string;
  readonly errors: string;
}

function runTool(command: string, args: readonly string[], report: "stdout" | "stderr") {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const done = new Promise<ToolRun>((resolve, reject) => {
    child.on("error", (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
    // A tool that stops reading early must fail the assessment, not the write.
    child.stdin.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") reject(error);
    });
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      resolve({
        code,
        signal,
        output: report === "stdout" ? stdout : stderr,
        errors: report === "stdout" ? stderr : stdout,
      });
    });
  });
  return { stdin: child.stdin, done };
}

function waitForDrain(sink: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      sink.off("drain", finish);
      sink.off("close", finish);
      resolve();
    };
    sink.on("drain", finish);
    sink.on("close", finish);
  });
}

function onPath(command: string, path: string): boolean {
  return path
    .split(delimiter)
    .filter((dir) => dir !== "")
    .some((dir) => {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}
