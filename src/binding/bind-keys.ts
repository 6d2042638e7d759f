import { createHmac, timingSafeEqual } from "node:crypto";
import { hkdf } from "../derive/hkdf.js";
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
 * The two MAC keys of a bind (docs/spec.md §7.3, §7.9), from one HKDF-SHA256 of the X25519 secret
 * of the user's and the device's keys and the owner's setup code, salted with the challenge: the
 * user's proof (the code, and with it possession of its X25519 key) and the device's result. The
 * secret is only theirs, so an eavesdropper holds MACs it cannot test a guessed code against.
 */
export class BindKeys {
  private constructor(
    private readonly proofKey: Buffer,
    private readonly resultKey: Buffer,
    private readonly transcript: Transcript,
  ) {}

  static derive(shared: Uint8Array, code: string, transcript: Transcript): BindKeys {
    const secret = Buffer.concat([shared, Buffer.from(code, "utf8")]);
    const keys = hkdf(secret, transcript.challenge, "reid/v1/bind/code", 64);
    secret.fill(0);
    return new BindKeys(keys.subarray(0, 32), keys.subarray(32), transcript);
  }

  /** The user's proof: HMAC over the transcript. */
  proof(): Buffer {
    const { nonce, challenge, device, user } = this.transcript;
    return mac(
      this.proofKey,
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
      this.resultKey,
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

  /** Zeroes both keys once the bind is done. */
  wipe(): void {
    this.proofKey.fill(0);
    this.resultKey.fill(0);
  }
}

function mac(key: Uint8Array, bytes: Uint8Array): Buffer {
  return createHmac("sha256", key).update(bytes).digest();
}
