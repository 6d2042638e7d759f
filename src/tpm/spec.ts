import { UsageError } from "../errors.js";
import type { SessionMode } from "./tpm.js";

export type TpmAddress =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "device"; readonly path: string };

/** What `--tpm` / REID_TPM names: where the TPM is, and where in it reid keeps its areas. */
export interface TpmSpec {
  readonly address: TpmAddress;
  /** The first of the two NV indices that hold reid's storage areas. */
  readonly nvIndex: number;
  /** A file holding the owner hierarchy's password (empty when not given). */
  readonly ownerAuthFile?: string;
  /** encrypted (the default): salted HMAC sessions with parameter encryption; password: TPM_RS_PW. */
  readonly sessions: SessionMode;
}

/** Owner-range NV indices (TCG handle registry: 0x01400000..0x017fffff); "RE" for reid. */
export const DEFAULT_NV_INDEX = 0x01524500;
/**
 * The owner range reid's indices are in: the index named and the next are a store's two areas; its
 * counter and audit key are chosen in the same range (storage/tpm/nv-places.ts).
 */
export const OWNER_NV_RANGE = [0x01400000, 0x017ffffe] as const;

const SYNTAX =
  "expected swtpm:host=H,port=P | swtpm:path=SOCKET | device:PATH, optionally followed by ,nv-index=0x..., ,sessions=encrypted|password and ,owner-auth-file=FILE";

export function parseTpmSpec(text: string): TpmSpec {
  const bad = (why: string) => new UsageError(`bad --tpm '${text}': ${why}`);
  const colon = text.indexOf(":");
  const kind = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? "" : text.slice(colon + 1);
  const words = rest.split(",");
  const params = new Map<string, string>();
  let devicePath: string | undefined;
  for (const [i, word] of words.entries()) {
    if (kind === "device" && i === 0) {
      devicePath = word;
      continue;
    }
    const eq = word.indexOf("=");
    if (eq <= 0) throw bad(SYNTAX);
    const key = word.slice(0, eq);
    if (params.has(key)) throw bad(`'${key}' is given twice`);
    params.set(key, word.slice(eq + 1));
  }
  const take = (key: string) => {
    const value = params.get(key);
    params.delete(key);
    return value;
  };
  const nvIndex = parseNvIndex(take("nv-index"), bad);
  const ownerAuthFile = take("owner-auth-file");
  if (ownerAuthFile === "") throw bad("owner-auth-file needs a path");
  const sessions = take("sessions") ?? "encrypted";
  if (sessions !== "encrypted" && sessions !== "password") {
    throw bad("sessions= must be encrypted (the default) or password (for a TPM that cannot)");
  }
  let address: TpmAddress;
  if (kind === "device") {
    if (!devicePath) throw bad("the device path is missing");
    address = { kind: "device", path: devicePath };
  } else if (kind === "swtpm") {
    const path = take("path");
    const host = take("host");
    const port = take("port");
    if (path !== undefined) {
      if (host !== undefined || port !== undefined) throw bad("give either path= or host= and port=");
      if (path === "") throw bad("path= needs the socket's path");
      address = { kind: "unix", path };
    } else {
      const number = Number(port);
      if (port === undefined || !/^\d+$/.test(port) || number < 1 || number > 65535) {
        throw bad("port= must be a number from 1 to 65535");
      }
      address = { kind: "tcp", host: host || "127.0.0.1", port: number };
    }
  } else {
    throw bad(SYNTAX);
  }
  const unknown = [...params.keys()];
  if (unknown.length > 0) throw bad(`unknown parameter '${unknown[0]}' (${SYNTAX})`);
  return { address, nvIndex, sessions, ...(ownerAuthFile ? { ownerAuthFile } : {}) };
}

function parseNvIndex(text: string | undefined, bad: (why: string) => UsageError): number {
  if (text === undefined) return DEFAULT_NV_INDEX;
  const value = /^0x[0-9a-f]{1,8}$/i.test(text) ? Number.parseInt(text.slice(2), 16) : Number.NaN;
  if (!(value >= OWNER_NV_RANGE[0] && value <= OWNER_NV_RANGE[1])) {
    throw bad(
      "nv-index= must be an owner NV index from 0x01400000 to 0x017ffffe (reid uses it and the next)",
    );
  }
  return value;
}

/** How messages and status name the TPM: where it is, nothing else. */
export function tpmName(address: TpmAddress): string {
  switch (address.kind) {
    case "device":
      return `device:${address.path}`;
    case "unix":
      return `swtpm:path=${address.path}`;
    case "tcp":
      return `swtpm:host=${address.host},port=${address.port}`;
  }
}

/**
 * The spec as `--tpm` takes it, with every parameter spelled out (what a store remembers); a
 * remembered spec from before sessions= reads as the default, encrypted.
 */
export function formatTpmSpec(spec: TpmSpec): string {
  const auth = spec.ownerAuthFile ? `,owner-auth-file=${spec.ownerAuthFile}` : "";
  return `${tpmName(spec.address)},nv-index=0x${spec.nvIndex.toString(16).padStart(8, "0")},sessions=${spec.sessions}${auth}`;
}
