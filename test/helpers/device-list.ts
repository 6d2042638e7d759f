import { randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { normalizeZ } from "@noble/curves/abstract/curve.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { bytesToNumberBE } from "@noble/curves/utils.js";
import { handleOf } from "../../src/derive/derivation.js";
import { spkiOf } from "../../src/registry/import/listed-key.js";

export interface DeviceListOptions {
  /** Every this-many-th device has a P-256 key (and a handle of its own); 0: none. */
  readonly p256Every?: number;
  /** Every this-many-th device has a label; 0: none. */
  readonly labelEvery?: number;
}

/** Keys are made this many at a time: one field inversion for the batch (normalizeZ). */
const BATCH = 1000;

/**
 * A factory's device list (docs/spec.md §10.6 `registry import`) for the tests and the bench:
 * `count` NDJSON lines `{"handle","publicKey","label"?}`, each a real key: Ed25519 with its handle
 * (§4.2), or every `p256Every`-th a P-256 point with a random handle. The keys are consecutive
 * multiples of each curve's base point from a random start, one point addition each, so that a
 * million cost seconds where key generation would take minutes; their private halves are never
 * known, as a list has none.
 */
export function* deviceListLines(count: number, options: DeviceListOptions = {}): Generator<string> {
  const ed = points(ed25519.Point);
  const nist = points(p256.Point);
  for (let i = 0; i < count; i++) {
    const isP256 = options.p256Every ? i % options.p256Every === options.p256Every - 1 : false;
    const line: { handle: string; publicKey: string; label?: string } = isP256
      ? { handle: randomBytes(16).toString("hex"), publicKey: base64(spkiOf("p256", nist.next().value)) }
      : edLine(ed.next().value);
    if (options.labelEvery && i % options.labelEvery === 0)
      line.label = `pallet ${Math.floor(i / 100)}, unit ${i}`;
    yield JSON.stringify(line);
  }
}

/** Writes `count` devices' lines to `path` (0600); returns the lines' count. */
export function writeDeviceList(path: string, count: number, options: DeviceListOptions = {}): number {
  const fd = openSync(path, "w", 0o600);
  try {
    let chunk: string[] = [];
    for (const line of deviceListLines(count, options)) {
      chunk.push(line);
      if (chunk.length === BATCH) {
        writeSync(fd, `${chunk.join("\n")}\n`);
        chunk = [];
      }
    }
    if (chunk.length > 0) writeSync(fd, `${chunk.join("\n")}\n`);
  } finally {
    closeSync(fd);
  }
  return count;
}

function edLine(bits: Uint8Array): { handle: string; publicKey: string } {
  return { handle: handleOf(bits), publicKey: base64(spkiOf("ed25519", bits)) };
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

interface CurvePoint<P> {
  add(other: P): P;
  toBytes(compressed?: boolean): Uint8Array;
  multiply(scalar: bigint): P;
}

/** A curve's points k·B, (k+1)·B, … from a random k, encoded (P-256's uncompressed), endlessly. */
function* points<P extends CurvePoint<P>>(curve: {
  readonly BASE: P;
  readonly Fn: { readonly ORDER: bigint };
}): Generator<Uint8Array, never> {
  let point = curve.BASE.multiply((bytesToNumberBE(randomBytes(32)) % (curve.Fn.ORDER - 1n)) + 1n);
  for (;;) {
    const batch: P[] = [];
    for (let i = 0; i < BATCH; i++) {
      point = point.add(curve.BASE);
      batch.push(point);
    }
    // biome-ignore lint/suspicious/noExplicitAny: normalizeZ's types want the curve's own constructor.
    for (const normal of normalizeZ(curve as any, batch as any[])) yield (normal as P).toBytes(false);
  }
}
