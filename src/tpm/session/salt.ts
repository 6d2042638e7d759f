import { constants, createECDH, createPublicKey, publicEncrypt, randomBytes } from "node:crypto";
import { TPM_ALG, TPM_ECC_CURVE } from "../constants.js";
import { TpmIntegrityError } from "../errors.js";
import { hashOf } from "../hash.js";
import { TpmWriter } from "../marshal/buffer.js";
import { eccPoint, type PublicArea } from "../structures/public.js";
import { kdfe } from "./kdf.js";

/** The salt, and what StartAuthSession's encryptedSalt carries so only the TPM's key recovers it. */
export interface Salt {
  readonly salt: Uint8Array;
  readonly encryptedSalt: Uint8Array;
}

/** TPM2B_ECC_PARAMETER of P-256: 32 octets. */
const P256_BYTES = 32;
/** Part 1, 24 and 11.4.10.3: the label a session's salt is shared under. */
const LABEL = "SECRET";

/**
 * A fresh salt for a session, encrypted to the TPM's key `key` (Part 1, Annex B and C): for an
 * ECC P-256 key, one-pass ECDH with an ephemeral key, salt = KDFe(nameAlg, Z, "SECRET",
 * ephemeral x, key x, digest bits), encryptedSalt = the ephemeral point; for an RSA key, a random
 * salt of the nameAlg's digest size under RSAES-OAEP with the nameAlg and label "SECRET\0".
 * `ephemeral` fixes the ECDH key for tests against published vectors.
 */
export function makeSalt(key: PublicArea, ephemeral?: Uint8Array): Salt {
  const hash = hashOf(key.nameAlg);
  if (key.type === TPM_ALG.ECC) {
    if (key.parameters.curveID !== TPM_ECC_CURVE.NIST_P256) {
      throw new TpmIntegrityError(
        `the TPM's salt key is on curve 0x${key.parameters.curveID.toString(16)}, not P-256`,
      );
    }
    const ecdh = createECDH("prime256v1");
    if (ephemeral) ecdh.setPrivateKey(ephemeral);
    else ecdh.generateKeys();
    const mine = ecdh.getPublicKey();
    const x = mine.subarray(1, 1 + P256_BYTES);
    const y = mine.subarray(1 + P256_BYTES);
    const theirs = Buffer.concat([Uint8Array.of(4), padded(key.unique.x), padded(key.unique.y)]);
    let z: Buffer;
    try {
      z = ecdh.computeSecret(theirs);
    } catch {
      throw new TpmIntegrityError("the TPM's salt key is not a point of P-256");
    }
    // The TPM hashes its key's x as its public area holds it (Part 1, C.6.1).
    const salt = kdfe(hash, z, LABEL, x, key.unique.x, digestBits(hash));
    z.fill(0);
    const w = new TpmWriter();
    eccPoint.write(w, { x: Uint8Array.from(x), y: Uint8Array.from(y) });
    return { salt, encryptedSalt: w.finish() };
  }
  if (key.type === TPM_ALG.RSA) {
    // Part 1, B.10.3: OAEP with the key's own scheme's hash, or its nameAlg when it has none.
    const scheme = key.parameters.scheme;
    if (scheme.scheme !== TPM_ALG.NULL && scheme.scheme !== TPM_ALG.OAEP) {
      throw new TpmIntegrityError(
        `the TPM's RSA salt key has scheme 0x${scheme.scheme.toString(16)}, not OAEP`,
      );
    }
    const oaepHash = scheme.scheme === TPM_ALG.OAEP ? hashOf(scheme.hashAlg) : hash;
    const exponent = key.parameters.exponent || 65537;
    const publicKey = createPublicKey({
      key: { kty: "RSA", n: base64url(key.unique), e: base64url(bigEndian(exponent)) },
      format: "jwk",
    });
    const salt = randomBytes(digestBits(hash) / 8);
    const encryptedSalt = publicEncrypt(
      {
        key: publicKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash,
        oaepLabel: Buffer.from(`${LABEL}\0`, "latin1"),
      },
      salt,
    );
    return { salt: new Uint8Array(salt), encryptedSalt: new Uint8Array(encryptedSalt) };
  }
  throw new TpmIntegrityError(
    `the TPM's salt key is of type 0x${key.type.toString(16)}, neither ECC nor RSA`,
  );
}

function digestBits(hash: string): number {
  return { sha1: 160, sha256: 256, sha384: 384, sha512: 512 }[hash] as number;
}

/** A coordinate as the curve's full 32 octets (a TPM may drop leading zeros). */
function padded(coordinate: Uint8Array): Uint8Array {
  if (coordinate.length > P256_BYTES)
    throw new TpmIntegrityError("the TPM's salt key has an oversized coordinate");
  const out = new Uint8Array(P256_BYTES);
  out.set(coordinate, P256_BYTES - coordinate.length);
  return out;
}

function bigEndian(value: number): Uint8Array {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  let start = 0;
  while (start < 3 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}
