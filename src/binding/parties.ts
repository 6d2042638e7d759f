import { diffieHellman, type KeyObject, sign, verify } from "node:crypto";
import { type DerivedKeys, handleOf } from "../derive/derivation.js";
import { publicKeyObject } from "../derive/public-key.js";
import { privateKeyObject } from "../derive/signature.js";
import { AuthError } from "../errors.js";

/** This element in a binding: its handle, public keys, and its private keys as OpenSSL objects. */
export interface Party {
  readonly handle: string;
  readonly ed25519: Uint8Array;
  readonly x25519: Uint8Array;
  readonly signer: KeyObject;
  readonly agreement: KeyObject;
}

/** The other side: its handle (always computed from its Ed25519 key, never taken on trust) and keys. */
export interface Peer {
  readonly handle: string;
  readonly ed25519: Uint8Array;
  readonly x25519: Uint8Array;
  readonly verifier: KeyObject;
}

export type BindingKeys = Pick<DerivedKeys, "handle" | "ed25519" | "x25519">;

export function partyOf(keys: BindingKeys): Party {
  return {
    handle: keys.handle,
    ed25519: keys.ed25519.publicKey,
    x25519: keys.x25519.publicKey,
    signer: privateKeyObject(keys, "ed25519"),
    agreement: privateKeyObject(keys, "x25519"),
  };
}

/** A peer from its public keys (32 bytes each); a key OpenSSL will not take is refused (exit 4). */
export function peerOf(ed25519: Uint8Array, x25519: Uint8Array): Peer {
  try {
    return { handle: handleOf(ed25519), ed25519, x25519, verifier: publicKeyObject("ed25519", ed25519) };
  } catch {
    throw new AuthError("bad-key", "the peer's public key is not a valid Ed25519 key");
  }
}

/** Ed25519 (RFC 8032) through OpenSSL: ten times noble's verification rate. */
export function signWith(party: Party, message: Uint8Array): Uint8Array {
  return sign(null, message, party.signer);
}

export function verifies(verifier: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify(null, message, verifier, signature);
  } catch {
    return false;
  }
}

/**
 * X25519 between this party and a peer's public key. A low-order point (all-zero result) or a key
 * OpenSSL refuses is an authentication failure: such a key proves nothing.
 */
export function agree(party: Party, peerX25519: Uint8Array): Uint8Array {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: party.agreement, publicKey: publicKeyObject("x25519", peerX25519) });
  } catch {
    throw new AuthError("bad-key", "the peer's X25519 key is not usable");
  }
  if (shared.every((byte) => byte === 0))
    throw new AuthError("bad-key", "the peer's X25519 key is not usable");
  return shared;
}
