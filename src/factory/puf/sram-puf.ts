import { randomFillSync } from "node:crypto";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

/**
 * A simulated SRAM PUF. Each cell of a real SRAM powers up to a value fixed by its transistors'
 * random mismatch (the device's fingerprint), except that thermal noise sometimes tips it the
 * other way, more often when the temperature differs from the enrolment's and as the chip ages.
 *
 * Here a device seed stands for the silicon: it fixes every cell's preferred value and how
 * noise-prone the cell is (a weight from 0.5 to 1.5, so the average cell flips at the configured
 * bit-error rate). Each read draws fresh noise from the OS CSPRNG: cell i reads the wrong way with
 * probability min(0.5, ber·wᵢ + drift), drift = 0.0004/°C away from 25 °C + 0.004 a year of age.
 */
export interface PufConditions {
  /** Average probability that a cell reads opposite to its preferred value at 25 °C, new. */
  readonly bitErrorRate: number;
  /** Operating temperature, °C (enrolment at 25 °C). */
  readonly temperatureC?: number;
  /** Years since enrolment. */
  readonly ageYears?: number;
}

export const TEMPERATURE_DRIFT_PER_C = 0.0004;
export const AGING_DRIFT_PER_YEAR = 0.004;
/**
 * Power-ups an enrolment takes a majority over. One cell enrolled against its preferred value
 * makes the enrolled response, hence the root, differ between two enrolments of one chip: with 15
 * reads one enrolment in 500 at the default 5% (2,904 cells, each missed with probability 7e-7 on
 * average). With 99, a cell that reads wrong 7.5% of the time (the worst at 5%) is missed with
 * probability 7e-30, one at 15% (the worst at 10%) with 1.4e-16: two enrolments of a chip differ
 * with probability below 1e-25 at 5% and 1e-12 at 10% (docs/spec.md §2.4).
 */
// Odd, so every cell has a majority.
export const ENROLMENT_READS = 99;
/** Reads whose noise is drawn in one call (99 reads of 2,904 cells: 16 reads, 93 KB at a time). */
const NOISE_BATCH = 16;
const SEED_BYTES = 32;
const SILICON_SALT = new TextEncoder().encode("reid/puf-sim/silicon");

export class SimulatedSramPuf {
  private readonly preferred: Uint8Array;
  /** Per cell: read wrong when a uniform 16-bit sample is below this. */
  private readonly thresholds: Uint32Array;
  private readonly noise: Uint16Array;

  constructor(deviceSeed: Uint8Array, cells: number, conditions: PufConditions) {
    if (deviceSeed.length !== SEED_BYTES) throw new RangeError(`a device seed has ${SEED_BYTES} bytes`);
    const { bitErrorRate: ber, temperatureC = 25, ageYears = 0 } = conditions;
    if (!(ber >= 0 && ber <= 0.5)) throw new RangeError("the bit-error rate must be in 0..0.5");
    if (!Number.isFinite(temperatureC) || !(ageYears >= 0)) throw new RangeError("bad operating conditions");
    const drift = TEMPERATURE_DRIFT_PER_C * Math.abs(temperatureC - 25) + AGING_DRIFT_PER_YEAR * ageYears;
    const silicon = expand(deviceSeed, cells * 3);
    this.preferred = new Uint8Array(cells);
    this.thresholds = new Uint32Array(cells);
    for (let i = 0; i < cells; i++) {
      this.preferred[i] = (silicon[3 * i] as number) & 1;
      const weight = 0.5 + ((silicon[3 * i + 1] as number) * 256 + (silicon[3 * i + 2] as number)) / 65536;
      this.thresholds[i] = Math.round(Math.min(0.5, ber * weight + drift) * 65536);
    }
    silicon.fill(0);
    this.noise = new Uint16Array(cells);
  }

  get cells(): number {
    return this.preferred.length;
  }

  /** One power-up read: a bit a cell (0/1 bytes), fresh noise each time. The caller zeroes it. */
  read(): Uint8Array {
    randomFillSync(this.noise);
    const out = new Uint8Array(this.preferred.length);
    for (let i = 0; i < out.length; i++) {
      out[i] =
        (this.preferred[i] as number) ^ ((this.noise[i] as number) < (this.thresholds[i] as number) ? 1 : 0);
    }
    return out;
  }

  /**
   * The enrolment read: each cell's majority over ENROLMENT_READS power-ups (fresh noise each,
   * drawn a batch of reads at a time), so the enrolled response is the cells' preferred values
   * themselves (docs/spec.md §2.4) and enrolling the chip again gives the same root.
   */
  readForEnrolment(): Uint8Array {
    const cells = this.preferred.length;
    const wrong = new Uint16Array(cells);
    const noise = new Uint16Array(cells * NOISE_BATCH);
    for (let done = 0; done < ENROLMENT_READS; ) {
      const batch = Math.min(ENROLMENT_READS - done, NOISE_BATCH);
      const draw = noise.subarray(0, batch * cells);
      randomFillSync(draw);
      for (let at = 0; at < draw.length; at += cells) {
        for (let i = 0; i < cells; i++) {
          if ((draw[at + i] as number) < (this.thresholds[i] as number)) wrong[i] = (wrong[i] as number) + 1;
        }
      }
      done += batch;
    }
    noise.fill(0);
    const out = new Uint8Array(cells);
    for (let i = 0; i < cells; i++) {
      out[i] = (this.preferred[i] as number) ^ (2 * (wrong[i] as number) > ENROLMENT_READS ? 1 : 0);
    }
    wrong.fill(0);
    return out;
  }

  /** Forgets the silicon (the PUF is shut down). */
  close(): void {
    this.preferred.fill(0);
    this.thresholds.fill(0);
    this.noise.fill(0);
  }
}

/** Deterministic bytes from the device seed (HKDF-SHA-256 in 8160-byte chunks). */
function expand(seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const chunk = 255 * 32;
  for (let at = 0, n = 0; at < length; at += chunk, n++) {
    const info = new TextEncoder().encode(`cells ${n}`);
    const part = hkdf(sha256, seed, SILICON_SALT, info, Math.min(chunk, length - at));
    out.set(part, at);
    part.fill(0);
  }
  return out;
}
