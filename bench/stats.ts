/** Small statistics for benches: they report medians and tails, and ratios to a same-run floor. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(3)} ms`;
}

export function ratio(value: number, floor: number): string {
  return `${(value / floor).toFixed(2)}x`;
}

/** Seconds since `start` (from process.hrtime.bigint()). */
export function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}
