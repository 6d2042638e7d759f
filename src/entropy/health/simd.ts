import type { Cutoffs } from "./cutoffs.js";
import type { HealthState, HealthTestName, HealthTests } from "./health-tests.js";
import { simdWasm } from "./simd.wasm.js";

interface SimdExports {
  configure(rct: number, apt: number, window: number): void;
  check(offset: number, length: number): number;
  last(): number;
  run(): number;
  reference(): number;
  count(): number;
  seen(): number;
}

const PAGE = 65536;
/** Samples from outside our memory are checked through this many bytes at a time. */
const SCRATCH = PAGE;
const VERDICTS: readonly (HealthTestName | null)[] = [null, "repetition-count", "adaptive-proportion"];

let compiled: WebAssembly.Module | undefined;

/** Whether this runtime has WebAssembly SIMD (Node 20 on x86-64 and arm64 does). */
export function simdAvailable(): boolean {
  try {
    compiled ??= new WebAssembly.Module(Buffer.from(simdWasm, "base64"));
    return true;
  } catch {
    return false;
  }
}

/**
 * The same tests as ReferenceHealthTests at 16 samples per step: the only way to test every
 * sample and still stream faster than the OS generator alone would be read twice.
 */
export class SimdHealthTests implements HealthTests {
  private readonly memory: WebAssembly.Memory;
  private readonly wasm: SimdExports;
  private next = SCRATCH;

  /** `arena` bytes are reserved for allocate(), e.g. the FIFO's ring, checked in place. */
  constructor(
    readonly cutoffs: Cutoffs,
    arena = 0,
  ) {
    if (!simdAvailable() || !compiled) throw new Error("WebAssembly SIMD is not available");
    const pages = Math.ceil((SCRATCH + arena) / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(compiled, { env: { memory: this.memory } });
    this.wasm = instance.exports as unknown as SimdExports;
    // The standard compares the count with C only after a match raised it, so a window's first
    // sample alone never fails it, even when C = 1 (a huge alpha): then a count of 2 is the first
    // that can fail. The wasm compares after each stretch of samples, so it gets max(C, 2).
    this.wasm.configure(cutoffs.rct, Math.max(cutoffs.apt, 2), cutoffs.window);
  }

  check(samples: Uint8Array): HealthTestName | null {
    if (samples.buffer === this.memory.buffer) return this.verdict(samples.byteOffset, samples.length);
    const scratch = new Uint8Array(this.memory.buffer, 0, SCRATCH);
    try {
      // An APT trip in one part does not end the check: the RCT, which the verdict names first,
      // may still trip in a later part. The wasm runs the RCT over a whole part before the APT,
      // so its RCT state stays exact after an APT trip.
      let proportion = false;
      for (let offset = 0; offset < samples.length; offset += SCRATCH) {
        const part = samples.subarray(offset, offset + SCRATCH);
        scratch.set(part);
        const verdict = this.verdict(0, part.length);
        if (verdict === "repetition-count") return verdict;
        if (verdict) proportion = true;
      }
      return proportion ? "adaptive-proportion" : null;
    } finally {
      scratch.fill(0);
    }
  }

  state(): HealthState {
    const w = this.wasm;
    return { last: w.last(), run: w.run(), reference: w.reference(), count: w.count(), seen: w.seen() };
  }

  allocate(length: number): Uint8Array {
    const start = this.next;
    if (start + length > this.memory.buffer.byteLength) return new Uint8Array(length);
    this.next = start + Math.ceil(length / 16) * 16;
    return new Uint8Array(this.memory.buffer, start, length);
  }

  private verdict(offset: number, length: number): HealthTestName | null {
    return VERDICTS[this.wasm.check(offset, length)] ?? null;
  }
}
