// The simulated PUF's fuzzy extractor: how often reconstruction fails as the bit-error rate grows
// (never a wrong identifier: any is counted and fails the bench), against the failure rate the
// code's structure predicts from the same rate, and the cost of one reconstruction against the
// floor of one PUF read in the same run, and so the cost of an enrolment (its majority of reads).
// Usage: node --import tsx bench/puf.ts [--reads 2000]
import { randomBytes } from "node:crypto";
import { FactoryError } from "../src/errors.js";
import { enrol, PUF_CODE, RESPONSE_BITS, reproduce } from "../src/factory/puf/fuzzy-extractor.js";
import { ENROLMENT_READS, SimulatedSramPuf } from "../src/factory/puf/sram-puf.js";
import { argument, percentile, ratio, since } from "./stats.js";

const reads = Number(argument("reads", "2000"));
const seed = randomBytes(32);
const { helper, root } = enrol(
  new SimulatedSramPuf(seed, RESPONSE_BITS, { bitErrorRate: 0.05 }).readForEnrolment(),
);

/** P(more than `t` of `n` independent events of probability `p`). */
function tail(n: number, t: number, p: number): number {
  let sum = 0;
  let c = 1;
  for (let k = 0; k <= n; k++) {
    if (k > t) sum += c * p ** k * (1 - p) ** (n - k);
    c = (c * (n - k)) / (k + 1);
  }
  return sum;
}

console.log(
  `code: Golay(24,12) x repetition ${PUF_CODE.repetition}, ${PUF_CODE.blocks} blocks, ${RESPONSE_BITS} cells`,
);
console.log("ber    failed/reads  predicted (uniform noise)  wrong");
let wrongTotal = 0;
for (const ber of [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]) {
  const puf = new SimulatedSramPuf(seed, RESPONSE_BITS, { bitErrorRate: ber });
  let failed = 0;
  let wrong = 0;
  for (let i = 0; i < reads; i++) {
    try {
      if (Buffer.compare(reproduce(puf.read(), helper), root) !== 0) wrong++;
    } catch (error) {
      if (!(error instanceof FactoryError)) throw error;
      failed++;
    }
  }
  wrongTotal += wrong;
  const vote = tail(PUF_CODE.repetition, (PUF_CODE.repetition - 1) / 2, ber);
  const predicted = 1 - (1 - tail(24, 3, vote)) ** PUF_CODE.blocks;
  console.log(
    `${ber.toFixed(2)}   ${String(failed).padStart(5)}/${reads}    ${predicted.toExponential(2).padStart(9)}                  ${wrong}`,
  );
}

const puf = new SimulatedSramPuf(seed, RESPONSE_BITS, { bitErrorRate: 0.1 });
const readTimes: number[] = [];
const fullTimes: number[] = [];
for (let i = 0; i < reads; i++) {
  let start = process.hrtime.bigint();
  const reading = puf.read();
  readTimes.push(since(start));
  start = process.hrtime.bigint();
  reproduce(reading, helper).fill(0);
  fullTimes.push(since(start));
}
const enrolTimes: number[] = [];
for (let i = 0; i < Math.min(reads, 200); i++) {
  const start = process.hrtime.bigint();
  const enrolled = enrol(puf.readForEnrolment());
  enrolTimes.push(since(start));
  enrolled.root.fill(0);
}
const read50 = percentile(readTimes, 50);
const full50 = percentile(fullTimes, 50);
const enrol50 = percentile(enrolTimes, 50);
console.log(
  `reconstruction at 10%: p50 ${(full50 * 1e6).toFixed(0)} µs (${ratio(full50, read50)} one PUF read, p50 ${(read50 * 1e6).toFixed(0)} µs)`,
);
console.log(
  `enrolment (majority of ${ENROLMENT_READS} reads) at 10%: p50 ${(enrol50 * 1e6).toFixed(0)} µs (${ratio(enrol50, read50)} one PUF read)`,
);
if (wrongTotal > 0) {
  console.error(`${wrongTotal} reconstructions gave a wrong root`);
  process.exit(1);
}
