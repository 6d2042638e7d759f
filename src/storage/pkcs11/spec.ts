import { isAbsolute, resolve } from "node:path";
import { UsageError } from "../../errors.js";

/** What `--pkcs11` / REID_PKCS11 names: the module to load, the token in it, and where its user PIN is. */
export interface Pkcs11Spec {
  /** The module's absolute path: a module is code reid loads, never looked up on a search path. */
  readonly module: string;
  /** The token's label (CK_TOKEN_INFO.label, at most 32 bytes). */
  readonly token: string;
  /** A file (mode 0600) holding the user PIN; absolute once parsed. */
  readonly pinFile?: string;
}

/** What --pkcs11 takes, for help and messages. */
export const PKCS11_SYNTAX = "module=PATH,token=LABEL[,pin-file=FILE]";
const SYNTAX = `expected ${PKCS11_SYNTAX}`;
const MAX_LABEL_BYTES = 32;

export function parsePkcs11Spec(text: string): Pkcs11Spec {
  const bad = (why: string) => new UsageError(`bad --pkcs11 '${text}': ${why}`);
  const params = new Map<string, string>();
  for (const word of text.split(",")) {
    const eq = word.indexOf("=");
    if (eq <= 0) throw bad(SYNTAX);
    const key = word.slice(0, eq);
    if (params.has(key)) throw bad(`'${key}' is given twice`);
    params.set(key, word.slice(eq + 1));
  }
  const unknown = [...params.keys()].find((key) => !["module", "token", "pin-file"].includes(key));
  if (unknown !== undefined) throw bad(`unknown parameter '${unknown}' (${SYNTAX})`);
  const module = params.get("module");
  const token = params.get("token");
  const pinFile = params.get("pin-file");
  if (!module) throw bad(`module= is missing (${SYNTAX})`);
  if (!isAbsolute(module)) {
    throw bad("module= must be an absolute path, such as /usr/lib/softhsm/libsofthsm2.so");
  }
  if (!token) throw bad(`token= is missing (${SYNTAX})`);
  if (Buffer.byteLength(token, "utf8") > MAX_LABEL_BYTES || /[\p{Cc}]/u.test(token)) {
    throw bad(`token= must be a label of at most ${MAX_LABEL_BYTES} bytes without control characters`);
  }
  if (pinFile === "") throw bad("pin-file= needs a path");
  return { module, token, ...(pinFile === undefined ? {} : { pinFile: resolve(pinFile) }) };
}

/** The spec as `--pkcs11` takes it, with every parameter spelled out (what a store remembers). */
export function formatPkcs11Spec(spec: Pkcs11Spec): string {
  const pin = spec.pinFile === undefined ? "" : `,pin-file=${spec.pinFile}`;
  return `module=${spec.module},token=${spec.token}${pin}`;
}

/** One module and one token hold one pair of reid's objects; where the PIN comes from does not matter. */
export function samePkcs11Place(a: Pkcs11Spec, b: Pkcs11Spec): boolean {
  return a.module === b.module && a.token === b.token;
}
