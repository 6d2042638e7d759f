import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describeOsError } from "../../errors.js";
import { REGISTRY_FILES } from "../directory.js";
import { registryCorrupt, registryFailure } from "../registry-errors.js";
import { rawPublicKey, verifierKeyText } from "./note.js";

/**
 * The key the registry signs its log's checkpoints with: the statement key (`statements.key`,
 * Ed25519), under the log's name, `reid-registry/` and the first 16 hex digits of the CA's
 * fingerprint, so a checkpoint names this registry and no other (docs/spec.md §10.12).
 */
export interface LogKey {
  /** The checkpoints' origin line and the notes' key name. */
  readonly origin: string;
  readonly privateKey: KeyObject;
  /** `NAME+KEYID+KEY`: what `registry init` prints and `GET /v1/log/key` answers. */
  readonly verifierKey: string;
}

/** `caFingerprint` as registry.json holds it: `sha256:` and 64 lowercase hex digits. */
export function logOrigin(caFingerprint: string): string {
  const hex = /^sha256:([0-9a-f]{64})$/.exec(caFingerprint)?.[1];
  if (hex === undefined) throw registryCorrupt(`the CA fingerprint '${caFingerprint}' is not sha256:HEX`);
  return `reid-registry/${hex.slice(0, 16)}`;
}

export function logKeyOf(privateKey: KeyObject, caFingerprint: string): LogKey {
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw registryCorrupt(`${REGISTRY_FILES.statementKey} is not an Ed25519 key`);
  }
  const origin = logOrigin(caFingerprint);
  return { origin, privateKey, verifierKey: verifierKeyText(origin, rawPublicKey(privateKey)) };
}

/** The log's key from a registry's directory. */
export function loadLogKey(directory: string, caFingerprint: string): LogKey {
  const path = join(directory, REGISTRY_FILES.statementKey);
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    throw registryFailure(`cannot read ${path}: ${describeOsError(error)}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw registryCorrupt(`${path} is not a private key in PEM`);
  }
  return logKeyOf(key, caFingerprint);
}
