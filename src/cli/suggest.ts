/**
 * The known word a mistyped one most likely meant (`statu` → `status`, `--jsno` → `--json`), or
 * null when none is close: at most one edit in a short word, two in a longer one (an insertion,
 * deletion, substitution, or two neighbours swapped), or the one known word it starts.
 */
export function closest(typed: string, known: readonly string[]): string | null {
  const limit = typed.length <= 4 ? 1 : 2;
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const word of known) {
    const distance = editDistance(typed, word);
    if (distance < bestDistance) {
      best = word;
      bestDistance = distance;
    }
  }
  if (best !== null) return best;
  const extended = typed.length >= 2 ? known.filter((word) => word.startsWith(typed)) : [];
  return extended.length === 1 ? (extended[0] ?? null) : null;
}

/** `, did you mean 'X'?`-style advice for a message, or the fallback when nothing is close. */
export function didYouMean(typed: string, known: readonly string[], fallback: string): string {
  const match = closest(typed, known);
  return match === null ? fallback : `: did you mean '${match}'?`;
}

/** Optimal string alignment distance: Levenshtein's edits plus a swap of two neighbours. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  const at = (i: number, j: number) => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = value;
    }
  }
  return at(a.length, b.length);
}
