import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  type webcrypto,
} from "node:crypto";
import { Dhkem, type KdfInterface, KEM_USAGES, KemId, LABEL_DKP_PRK, LABEL_SK } from "@hpke/common";
import { arrayBufferOf, type Bytes, bytesOf } from "./bytes.js";
import { NodeHkdfSha256 } from "./hkdf-sha256.js";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type JsonWebKey = webcrypto.JsonWebKey;

const KEY_SIZE = 32;
/** PKCS#8 for an X25519 private key, up to the 32 key bytes (RFC 8410). */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/**
 * A key as @hpke/core hands it around: CryptoKey's fields, holding a node:crypto KeyObject, so each
 * agreement is one synchronous X25519 in OpenSSL instead of an async WebCrypto call.
 */
class NodeX25519Key {
  readonly algorithm = { name: "X25519" };
  readonly extractable = false;
  readonly usages: webcrypto.KeyUsage[];

  constructor(
    readonly type: "public" | "private",
    readonly keyObject: KeyObject,
  ) {
    this.usages = type === "private" ? (KEM_USAGES as webcrypto.KeyUsage[]) : [];
  }
}

const asCryptoKey = (key: NodeX25519Key) => key as unknown as CryptoKey;
const keyObjectOf = (key: CryptoKey) => {
  if (!(key instanceof NodeX25519Key)) throw new TypeError("not a key of this X25519 implementation");
  return key.keyObject;
};
const publicKey = (object: KeyObject) => asCryptoKey(new NodeX25519Key("public", object));
const privateKey = (object: KeyObject) => asCryptoKey(new NodeX25519Key("private", object));

function sized(raw: Uint8Array): Uint8Array {
  if (raw.length !== KEY_SIZE) throw new RangeError(`an X25519 key is ${KEY_SIZE} bytes`);
  return raw;
}

function rawPublic(raw: Uint8Array): KeyObject {
  const x = Buffer.from(sized(raw)).toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x }, format: "jwk" });
}

/** From the 32 secret bytes alone: PKCS#8 (JWK would need the public key too). */
function rawPrivate(raw: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_PREFIX, sized(raw)]);
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } finally {
    der.fill(0);
  }
}

function jwkPart(object: KeyObject, part: "x" | "d"): ArrayBuffer {
  const value = object.export({ format: "jwk" })[part];
  if (typeof value !== "string") throw new Error(`the key has no '${part}'`);
  return arrayBufferOf(Buffer.from(value, "base64url"));
}

/**
 * DHKEM's X25519 primitives (RFC 9180 section 7.1) on node:crypto, given to @hpke/core's own DHKEM
 * (as its pure-JS X25519 add-on is): encapsulation, the KEM context and the shared secret stay the
 * library's. OpenSSL refuses an all-zero agreement (a low-order peer key), which RFC 9180 requires.
 */
class NodeX25519Primitives {
  constructor(private readonly kdf: KdfInterface) {}

  async serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    return jwkPart(keyObjectOf(key), "x");
  }

  async deserializePublicKey(key: Bytes): Promise<CryptoKey> {
    return publicKey(rawPublic(bytesOf(key)));
  }

  async serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    return jwkPart(keyObjectOf(key), "d");
  }

  async deserializePrivateKey(key: Bytes): Promise<CryptoKey> {
    return privateKey(rawPrivate(bytesOf(key)));
  }

  /** "jwk" with both d and x is the fast way in for a private key whose public key is known. */
  async importKey(
    format: "raw" | "jwk",
    key: ArrayBuffer | JsonWebKey,
    isPublic: boolean,
  ): Promise<CryptoKey> {
    if (format === "raw") {
      const raw = bytesOf(key as ArrayBuffer);
      return isPublic ? publicKey(rawPublic(raw)) : privateKey(rawPrivate(raw));
    }
    const jwk = key as JsonWebKey;
    if (jwk.kty !== "OKP" || jwk.crv !== "X25519") throw new Error("not an X25519 JWK");
    if (isPublic !== (jwk.d === undefined)) throw new Error("the JWK is not the kind of key asked for");
    const input = { key: jwk as import("node:crypto").JsonWebKey, format: "jwk" as const };
    return isPublic ? publicKey(createPublicKey(input)) : privateKey(createPrivateKey(input));
  }

  async generateKeyPair(): Promise<CryptoKeyPair> {
    const pair = generateKeyPairSync("x25519");
    return { privateKey: privateKey(pair.privateKey), publicKey: publicKey(pair.publicKey) };
  }

  /** RFC 9180 section 7.1.3: the secret key is the labeled expansion of the input, unclamped. */
  async deriveKeyPair(ikm: Bytes): Promise<CryptoKeyPair> {
    const prk = await this.kdf.labeledExtract(new ArrayBuffer(0), LABEL_DKP_PRK, bytesOf(ikm));
    const secret = new Uint8Array(await this.kdf.labeledExpand(prk, LABEL_SK, new Uint8Array(0), KEY_SIZE));
    try {
      const object = rawPrivate(secret);
      return { privateKey: privateKey(object), publicKey: publicKey(createPublicKey(object)) };
    } finally {
      secret.fill(0);
    }
  }

  async derivePublicKey(key: CryptoKey): Promise<CryptoKey> {
    return publicKey(createPublicKey(keyObjectOf(key)));
  }

  async dh(sk: CryptoKey, pk: CryptoKey): Promise<ArrayBuffer> {
    return arrayBufferOf(diffieHellman({ privateKey: keyObjectOf(sk), publicKey: keyObjectOf(pk) }));
  }
}

/** DHKEM(X25519, HKDF-SHA256), 0x0020, with @hpke/core's DHKEM over node:crypto primitives. */
export class NodeDhkemX25519HkdfSha256 extends Dhkem {
  override readonly id = KemId.DhkemX25519HkdfSha256;
  override readonly secretSize = KEY_SIZE;
  override readonly encSize = KEY_SIZE;
  override readonly publicKeySize = KEY_SIZE;
  override readonly privateKeySize = KEY_SIZE;

  constructor() {
    const kdf = new NodeHkdfSha256();
    super(KemId.DhkemX25519HkdfSha256, new NodeX25519Primitives(kdf), kdf);
  }
}
