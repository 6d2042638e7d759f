/**
 * The extended binary Golay code G24 = (24, 12, 8): 12 message bits, 12 parity bits, minimum
 * distance 8. It corrects every pattern of up to 3 bit errors in a block and detects every
 * pattern of 4; 5 or more may decode to another codeword (the fuzzy extractor's check value
 * catches that). A codeword is a 24-bit integer: message in bits 23..12, parity in bits 11..0.
 *
 * Systematic generator [I | B] with the self-dual B below (B = Bᵀ, B·B = I), so the parity-check
 * matrix is [B | I] and a word's syndrome is message·B ⊕ parity.
 */
const B: readonly number[] = [
  0b110111000101, 0b101110001011, 0b011100010111, 0b111000101101, 0b110001011011, 0b100010110111,
  0b000101101111, 0b001011011101, 0b010110111001, 0b101101110001, 0b011011100011, 0b111111111110,
];

export const GOLAY_N = 24;
export const GOLAY_K = 12;
/** Bit errors per block that decoding always corrects. */
export const GOLAY_T = 3;

/** message (12 bits, bit 11 first row) times B. */
function timesB(message: number): number {
  let out = 0;
  for (let row = 0; row < GOLAY_K; row++) {
    if ((message >> (GOLAY_K - 1 - row)) & 1) out ^= B[row] as number;
  }
  return out;
}

export function golayEncode(message: number): number {
  if (!Number.isInteger(message) || message < 0 || message >= 1 << GOLAY_K) {
    throw new RangeError("a Golay message is 12 bits");
  }
  return (message << GOLAY_K) | timesB(message);
}

export function golaySyndrome(word: number): number {
  return timesB(word >>> GOLAY_K) ^ (word & 0xfff);
}

/** Syndrome -> the unique error pattern of weight <= 3 that has it (the coset leaders). */
const LEADERS: ReadonlyMap<number, number> = (() => {
  const table = new Map<number, number>([[0, 0]]);
  for (let a = 0; a < GOLAY_N; a++) {
    const ea = 1 << a;
    table.set(golaySyndrome(ea), ea);
    for (let b = a + 1; b < GOLAY_N; b++) {
      const eb = ea | (1 << b);
      table.set(golaySyndrome(eb), eb);
      for (let c = b + 1; c < GOLAY_N; c++) table.set(golaySyndrome(eb | (1 << c)), eb | (1 << c));
    }
  }
  return table;
})();

/** The codeword nearest `word` within distance 3, or null when more errors than that are detected. */
export function golayDecode(word: number): number | null {
  if (!Number.isInteger(word) || word < 0 || word >= 1 << GOLAY_N) {
    throw new RangeError("a Golay word is 24 bits");
  }
  const error = LEADERS.get(golaySyndrome(word));
  return error === undefined ? null : (word ^ error) >>> 0;
}

/** The number of coset leaders of weight <= 3 (1 + 24 + 276 + 2024), for the tests. */
export const CORRECTABLE_PATTERNS = LEADERS.size;
