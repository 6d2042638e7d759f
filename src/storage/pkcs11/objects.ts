import { StorageError } from "../../errors.js";
import { CKA, CKO, className } from "../../pkcs11/constants.js";
import type { Attribute, ObjectHandle, Pkcs11Session } from "../../pkcs11/session.js";
import type { AreaIndex } from "../storage-area.js";

/**
 * The template of a secret key made inside the token that never leaves it (the sealing key, the
 * audit key): on the token, private, sensitive and not extractable, so the token uses it for the
 * operations `uses` names (CKA_ENCRYPT, CKA_SIGN...) and shows its value to no one (docs/spec.md §5.9).
 */
export function keptSecretKey(
  keyType: number,
  length: number,
  uses: readonly number[],
  label: string,
  id: Buffer,
): Attribute[] {
  return [
    { type: CKA.CLASS, value: CKO.SECRET_KEY },
    { type: CKA.KEY_TYPE, value: keyType },
    { type: CKA.VALUE_LEN, value: length },
    { type: CKA.TOKEN, value: true },
    { type: CKA.PRIVATE, value: true },
    { type: CKA.SENSITIVE, value: true },
    { type: CKA.EXTRACTABLE, value: false },
    ...uses.map((type) => ({ type, value: true })),
    { type: CKA.LABEL, value: label },
    { type: CKA.ID, value: id },
  ];
}

/** The labels of reid's two objects; one token holds one store. */
export const AREA_LABELS: readonly [string, string] = ["reid-area-0", "reid-area-1"];
/** CKA_APPLICATION of reid's objects. */
export const REID_APPLICATION = "reid";

/** What carries an area's label on the token. */
export type AreaObject =
  | { readonly kind: "free" }
  /** reid's object; `value` is its CKA_VALUE (area size bytes), which the caller zeroes. */
  | { readonly kind: "reid"; readonly handle: ObjectHandle; readonly value: Uint8Array }
  | { readonly kind: "foreign"; readonly why: string };

/**
 * The object reid creates for an area: a private token data object of reid's application. Private
 * means the token keeps it encrypted and shows it only to a session logged in as the user.
 */
export function areaTemplate(area: AreaIndex, value: Buffer): Attribute[] {
  return [
    { type: CKA.CLASS, value: CKO.DATA },
    { type: CKA.TOKEN, value: true },
    { type: CKA.PRIVATE, value: true },
    { type: CKA.LABEL, value: AREA_LABELS[area] },
    { type: CKA.APPLICATION, value: REID_APPLICATION },
    { type: CKA.VALUE, value },
  ];
}

/**
 * Finds what carries the area's label, and whether reid made it: exactly one object, of class
 * CKO_DATA, a token object, private, of application "reid", holding `areaSize` bytes. Anything
 * else is someone else's (or a copy someone made), which reid reports and never touches.
 */
export function lookUpArea(session: Pkcs11Session, area: AreaIndex, areaSize: number): AreaObject {
  const found = session.find([{ type: CKA.LABEL, value: AREA_LABELS[area] }]);
  if (found.length === 0) return { kind: "free" };
  if (found.length > 1) return { kind: "foreign", why: `${found.length} objects carry this label` };
  const handle = found[0] as ObjectHandle;
  const [klass = Buffer.alloc(0)] = session.attributes(handle, [CKA.CLASS]);
  const objectClass = ulong(klass);
  // Other classes may hold sensitive values: their value is never asked for.
  if (objectClass !== CKO.DATA) {
    return { kind: "foreign", why: `it is a ${className(objectClass)} object, not a data object` };
  }
  const [token, priv, application, value] = session.attributes(handle, [
    CKA.TOKEN,
    CKA.PRIVATE,
    CKA.APPLICATION,
    CKA.VALUE,
  ]) as [Buffer, Buffer, Buffer, Buffer];
  const why = !isTrue(token)
    ? "it is a session object, not a token object"
    : !isTrue(priv)
      ? "it is not private (CKA_PRIVATE is false): it is readable without the user PIN"
      : application.toString("utf8") !== REID_APPLICATION
        ? `its application is '${printable(application)}', not '${REID_APPLICATION}'`
        : value.length !== areaSize
          ? `it holds ${value.length} bytes, not ${areaSize}`
          : null;
  if (why !== null) {
    value.fill(0);
    return { kind: "foreign", why };
  }
  const copy = Uint8Array.from(value);
  value.fill(0);
  return { kind: "reid", handle, value: copy };
}

/** The refusal of a foreign object, with what the user can do about it. */
export function foreignObject(area: AreaIndex, where: string, why: string): StorageError {
  return new StorageError(
    `the object '${AREA_LABELS[area]}' on ${where} is not one of reid's: ${why}; reid leaves it alone: remove or relabel it with the token's tools (pkcs11-tool --login --delete-object), or use another token`,
    "store-foreign",
  );
}

/** CK_ULONG as the module returns it (native size and byte order: little-endian on reid's hosts). */
function ulong(bytes: Buffer): number {
  if (bytes.length === 8) return Number(bytes.readBigUInt64LE(0));
  if (bytes.length === 4) return bytes.readUInt32LE(0);
  return -1;
}

function isTrue(bytes: Buffer): boolean {
  return bytes.length === 1 && bytes[0] !== 0;
}

/** A foreign value shown in a message: printable ASCII only, and not much of it. */
function printable(bytes: Buffer): string {
  return bytes
    .subarray(0, 32)
    .toString("latin1")
    .replace(/[^\x20-\x7e]/g, "?");
}
