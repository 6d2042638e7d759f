import { createHash, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { logUntrusted } from "./log-errors.js";

/**
 * C2SP signed notes with Ed25519 (signature type 0x01): the text, a blank line, then lines
 * `— NAME base64(key id || signature)`. The key id is the first 4 bytes of
 * SHA-256(NAME || 0x0A || 0x01 || public key); a verifier key is `NAME+HEX(key id)+base64(0x01 ||
 * public key)`, what `reid registry init` prints. docs/spec.md §10.12.
 */
const ED25519 = 0x01;
const SIGNATURE_PREFIX = "\u2014 ";
const KEY_ID_SIZE = 4;
const PUBLIC_KEY_SIZE = 32;
const SIGNATURE_SIZE = 64;
/** The note rules cap signature lines; more is a malformed note, not more trust. */
const MAX_SIGNATURES = 100;

export interface VerifierKey {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A key name: printable, no spaces, no `+` (it separates a verifier key's parts). */
export function validKeyName(name: string): boolean {
  return name.length > 0 && name.length <= 256 && /^[\x21-\x2a\x2c-\x7e]+$/.test(name);
}

export function keyIdOf(name: string, publicKey: Uint8Array): Uint8Array {
  const digest = createHash("sha256")
    .update(name, "utf8")
    .update(Uint8Array.of(0x0a, ED25519))
    .update(publicKey)
    .digest();
  return new Uint8Array(digest.subarray(0, KEY_ID_SIZE));
}

export function verifierKeyText(name: string, publicKey: Uint8Array): string {
  if (!validKeyName(name)) throw new Error("a note key name must be printable, without spaces or '+'");
  const id = Buffer.from(keyIdOf(name, publicKey)).toString("hex");
  return `${name}+${id}+${Buffer.concat([Uint8Array.of(ED25519), publicKey]).toString("base64")}`;
}

export function parseVerifierKey(text: string): VerifierKey {
  const parts = text.split("+");
  // The base64 of the key may itself hold '+': the name and the id are the first two parts.
  const [name, idHex] = parts as [string, string];
  const key = Buffer.from(parts.slice(2).join("+"), "base64");
  const refuse = () => logUntrusted("not a log verifier key: NAME+KEYID+KEY, an Ed25519 key");
  if (parts.length < 3 || !validKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) throw refuse();
  if (key.length !== PUBLIC_KEY_SIZE + 1 || key[0] !== ED25519) throw refuse();
  if (key.toString("base64") !== parts.slice(2).join("+")) throw refuse();
  const publicKey = new Uint8Array(key.subarray(1));
  if (Buffer.from(keyIdOf(name, publicKey)).toString("hex") !== idHex) throw refuse();
  return { name, keyId: keyIdOf(name, publicKey), publicKey };
}

/** Signs `text` (one or more lines, each ending in a newline) with the registry's Ed25519 key. */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  checkText(text, (message) => new Error(message));
  const publicKey = rawPublicKey(privateKey);
  const signature = sign(null, Buffer.from(text, "utf8"), privateKey);
  const blob = Buffer.concat([keyIdOf(name, publicKey), signature]).toString("base64");
  return `${text}\n${SIGNATURE_PREFIX}${name} ${blob}\n`;
}

/**
 * The text of a note, if a signature by `key` verifies; others' signatures are passed over, as the
 * note rules say. Anything malformed, or no valid signature by the key: `log-untrusted`.
 */
export function openNote(note: string, key: VerifierKey): string {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw logUntrusted("not a signed note");
  const text = note.slice(0, split + 1);
  checkText(text, logUntrusted);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw logUntrusted("a signed note with too many signatures");
  const publicKey = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(key.publicKey).toString("base64url") },
    format: "jwk",
  });
  let verified = false;
  for (const line of lines) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
    if (!match) throw logUntrusted("a signed note's signature line is malformed");
    const blob = Buffer.from(match[2] as string, "base64");
    if (match[1] !== key.name || blob.length < KEY_ID_SIZE) continue;
    if (!blob.subarray(0, KEY_ID_SIZE).equals(key.keyId)) continue;
    if (blob.length !== KEY_ID_SIZE + SIGNATURE_SIZE) throw logUntrusted("a signature of the wrong size");
    if (!verify(null, Buffer.from(text, "utf8"), publicKey, blob.subarray(KEY_ID_SIZE))) {
      throw logUntrusted(`the signature of ${key.name} on the note does not verify`);
    }
    verified = true;
  }
  if (!verified) throw logUntrusted(`the note is not signed by ${key.name}`);
  return text;
}

/** Ed25519's public key as its 32 raw bytes. */
export function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  return new Uint8Array(Buffer.from(jwk.x as string, "base64url"));
}

function checkText(text: string, refuse: (message: string) => Error): void {
  if (text.length === 0 || !text.endsWith("\n")) throw refuse("a note's text must end in a newline");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw refuse("a note's text holds control characters");
  if (text.split("\n").some((line) => line.startsWith(SIGNATURE_PREFIX))) {
    throw refuse("a note's text cannot hold a line that looks like a signature");
  }
}
