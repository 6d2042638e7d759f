// A software WebAuthn authenticator (ES256, "none" attestation) for tests below the browser: it
// makes registrations and assertions byte for byte as an authenticator does, with whatever
// counter, flags, origin and challenge a test asks for, so the owner gate's checks can each be
// shown to refuse.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";

const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

/** The little of CBOR a registration needs: maps, small and negative integers, bytes and text. */
function cbor(value: unknown): Buffer {
  const head = (major: number, n: number) =>
    n < 24
      ? Buffer.from([(major << 5) | n])
      : n < 256
        ? Buffer.from([(major << 5) | 24, n])
        : Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === "string")
    return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  const entries = value instanceof Map ? [...value] : Object.entries(value as object);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64url");
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest();

export interface AnswerOptions {
  readonly challenge: string;
  readonly origin: string;
  /** The relying party the authenticator signs for; "localhost" unless a test says otherwise. */
  readonly rpId?: string;
  /** User verification done (the UV flag); true unless a test says otherwise. */
  readonly verified?: boolean;
}

export class SoftAuthenticator {
  readonly id = randomBytes(16);
  private readonly key: KeyObject;
  private readonly publicKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.key = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  get credentialId(): string {
    return b64url(this.id);
  }

  /** A RegistrationResponseJSON answering `challenge`, signature counter 0. */
  register(options: AnswerOptions) {
    const jwk = this.publicKey.export({ format: "jwk" });
    const cose = new Map<number, unknown>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x as string, "base64url")],
      [-3, Buffer.from(jwk.y as string, "base64url")],
    ]);
    const length = Buffer.from([this.id.length >> 8, this.id.length & 255]);
    const authData = Buffer.concat([
      this.authData(options, AT, 0),
      Buffer.alloc(16),
      length,
      this.id,
      cbor(cose),
    ]);
    return this.answer({
      clientDataJSON: b64url(this.clientData("webauthn.create", options)),
      attestationObject: b64url(cbor({ fmt: "none", attStmt: {}, authData })),
      transports: ["internal" as const],
    });
  }

  /** An AuthenticationResponseJSON answering `challenge`, with signature counter `counter`. */
  assert(options: AnswerOptions & { readonly counter: number }) {
    const authData = this.authData(options, 0, options.counter);
    const clientData = this.clientData("webauthn.get", options);
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientData)]), this.key);
    return this.answer({
      clientDataJSON: b64url(clientData),
      authenticatorData: b64url(authData),
      signature: b64url(signature),
    });
  }

  /** A credential as the browser hands it to the page. */
  private answer<R>(response: R) {
    const id = this.credentialId;
    return { id, rawId: id, type: "public-key" as const, response, clientExtensionResults: {} };
  }

  private authData(options: AnswerOptions, flags: number, counter: number): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    const user = UP | (options.verified === false ? 0 : UV);
    return Buffer.concat([sha256(options.rpId ?? "localhost"), Buffer.from([user | flags]), count]);
  }

  private clientData(type: string, options: AnswerOptions): Buffer {
    return Buffer.from(
      JSON.stringify({ type, challenge: options.challenge, origin: options.origin, crossOrigin: false }),
    );
  }
}

/** A fresh challenge, as a page issues one. */
export function challenge(): string {
  return b64url(randomBytes(32));
}
