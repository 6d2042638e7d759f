import { randomBytes, timingSafeEqual } from "node:crypto";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { FactoryError } from "../../errors.js";
import { ConcatenatedCode, packBits, unpackBits } from "./concatenated-code.js";

/**
 * A fuzzy extractor (code-offset construction, Dodis et al.) over the concatenated
 * Golay (24,12) x repetition code: enrolment reads the PUF once, picks a random codeword c and
 * publishes the offset w ⊕ c as helper data; reproduction XORs a fresh noisy read with the offset,
 * decodes to c and so recovers w exactly. The identifier root is HKDF-SHA-256 of w (privacy
 * amplification of the min-entropy the offset leaves), never w itself; a second HKDF output is
 * the check value that tells a failed reconstruction from a good one.
 */
export const PUF_CODE = new ConcatenatedCode(11, 11);
/** Cells a response needs. */
export const RESPONSE_BITS = PUF_CODE.length;
const SALT = new TextEncoder().encode("reid/factory/puf/v1");
const ROOT_INFO = new TextEncoder().encode("root");
const CHECK_INFO = new TextEncoder().encode("check");

/** Public data kept in the store: the code offset and the check value. Alone it gives no identifier. */
export interface HelperData {
  /** w ⊕ c, packed (RESPONSE_BITS bits). */
  readonly offset: Uint8Array;
  /** HKDF(w, "check"), 32 bytes. */
  readonly check: Uint8Array;
}

/** Enrols one response: returns the helper data to keep and the identifier root (the caller zeroes it). */
export function enrol(
  response: Uint8Array,
  random: (bytes: number) => Uint8Array = randomBytes,
): { helper: HelperData; root: Uint8Array } {
  checkLength(response);
  const messageBytes = random(Math.ceil(PUF_CODE.messageBits / 8));
  const message = unpackBits(messageBytes, PUF_CODE.messageBits + ((8 - (PUF_CODE.messageBits % 8)) % 8));
  messageBytes.fill(0);
  const codeword = PUF_CODE.encode(message.subarray(0, PUF_CODE.messageBits));
  message.fill(0);
  const offset = packBits(xor(response, codeword));
  codeword.fill(0);
  const { root, check } = extract(response);
  return { helper: { offset, check }, root };
}

/**
 * The enrolled response recovered from a noisy `reading` and the helper data, or null when the
 * code detected too many errors. Unchecked: beyond the code's capacity a block may decode to the
 * wrong codeword, so callers use reproduce(), which checks.
 */
export function recoverResponse(reading: Uint8Array, helper: HelperData): Uint8Array | null {
  checkLength(reading);
  const offset = unpackBits(helper.offset, RESPONSE_BITS);
  const noisyCodeword = xor(reading, offset);
  const message = PUF_CODE.decode(noisyCodeword);
  noisyCodeword.fill(0);
  if (message === null) return null;
  const codeword = PUF_CODE.encode(message);
  message.fill(0);
  const response = xor(codeword, offset);
  codeword.fill(0);
  return response;
}

/**
 * The identifier root from a noisy reading: exactly the enrolled one, or a FactoryError, never
 * a different root (the check value must match).
 */
export function reproduce(reading: Uint8Array, helper: HelperData): Uint8Array {
  const response = recoverResponse(reading, helper);
  if (response === null) throw tooNoisy("more bit errors than the code corrects");
  const { root, check } = extract(response);
  response.fill(0);
  if (check.length !== helper.check.length || !timingSafeEqual(check, helper.check)) {
    root.fill(0);
    throw tooNoisy("the corrected response does not match its check value");
  }
  return root;
}

function tooNoisy(why: string): FactoryError {
  return new FactoryError(
    `the PUF response could not be reconstructed (${why}); no identifier was derived`,
    "puf-reconstruction-failed",
  );
}

function extract(response: Uint8Array): { root: Uint8Array; check: Uint8Array } {
  const packed = packBits(response);
  try {
    return {
      root: hkdf(sha256, packed, SALT, ROOT_INFO, 32),
      check: hkdf(sha256, packed, SALT, CHECK_INFO, 32),
    };
  } finally {
    packed.fill(0);
  }
}

function checkLength(bits: Uint8Array): void {
  if (bits.length !== RESPONSE_BITS) throw new RangeError(`a PUF response has ${RESPONSE_BITS} bits`);
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}
