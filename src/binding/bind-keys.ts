import { createHmac, timingSafeEqual } from "node:crypto";
import { hkdfExtract } from "../derive/hkdf.js";
import type { Peer } from "./parties.js";
import { signedBytes } from "./wire.js";

type Keys = Pick<Peer, "handle" | "ed25519" | "x25519">;

/** What a bind's MACs cover: the hello's nonce, the device's challenge, both parties' handles and keys. */
export interface Transcript {
  readonly nonce: Uint8Array;
  readonly challenge: Uint8Array;
  readonly device: Keys;
  readonly user: Keys;
}

/**
 * The MAC key of a bind (docs/spec.md §7.3, §7.9): HKDF-SHA256's extract of the X25519 secret of
 * the user's and the device's keys and the owner's setup code, salted with the challenge. It keys
 * both the user's proof (the code, and with it possession of its X25519 key) and the device's
 * result, whose labels keep one from passing as the other: the extract's output is already a
 * uniform key, and an expand into two keys (binding protocol v2) cost each side two more HMACs.
 * The secret is only theirs, so an eavesdropper holds MACs it cannot test a guessed code against.
 */
export class BindKeys {
  private constructor(
    private readonly key: Buffer,
    private readonly transcript: Transcript,
  ) {}

  static derive(shared: Uint8Array, code: string, transcript: Transcript): BindKeys {
    const secret = Buffer.concat([shared, Buffer.from(code, "utf8")]);
    const key = hkdfExtract(transcript.challenge, secret);
    secret.fill(0);
    return new BindKeys(key, transcript);
  }

  /** The user's proof: HMAC over the transcript. */
  proof(): Buffer {
    const { nonce, challenge, device, user } = this.transcript;
    return mac(
      this.key,
      signedBytes(
        "reid/v1/bind/code",
        nonce,
        challenge,
        device.handle,
        device.ed25519,
        device.x25519,
        user.handle,
        user.ed25519,
        user.x25519,
      ),
    );
  }

  provesCode(proof: Uint8Array): boolean {
    return proof.length === 32 && timingSafeEqual(this.proof(), proof);
  }

  /** The device's result: HMAC over the transcript's challenge and parties, the counter and the time. */
  result(counter: number, bound: string): Buffer {
    const { challenge, device, user } = this.transcript;
    return mac(
      this.key,
      signedBytes(
        "reid/v1/bind/result",
        challenge,
        device.handle,
        user.handle,
        user.ed25519,
        user.x25519,
        String(counter),
        bound,
      ),
    );
  }

  confirmsResult(counter: number, bound: string, tag: Uint8Array): boolean {
    return tag.length === 32 && timingSafeEqual(this.result(counter, bound), tag);
  }

  /** Zeroes the key once the bind is done. */
  wipe(): void {
    this.key.fill(0);
  }
}

function mac(key: Uint8Array, bytes: Uint8Array): Buffer {
  return createHmac("sha256", key).update(bytes).digest();
}
