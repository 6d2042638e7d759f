import {
  closeSync,
  constants,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { describeOsError } from "../../errors.js";
import { makeDirectories, readOptionalFile, replaceFile } from "../../storage/durable-file.js";
import { DEVICE_STATUSES } from "../store/store.js";
import type { AuditedLog } from "./audit.js";
import { HASH_SIZE } from "./hash.js";
import { auditStateError } from "./log-errors.js";
import type { VerifierKey } from "./note.js";
import { DeviceTable, type ReplayedDevice } from "./replay.js";
import { MerkleTree } from "./tree.js";
import { openCheckpoint } from "./witness.js";

/**
 * What `reid registry audit --state DIR` keeps between runs (docs/spec.md §10.12), in a 0700
 * directory: `audit.json` (the verifier key, the last checkpoint verified, the last event's
 * sequence and the replayed device table), replaced whole and durably, and `leaves` (the hash of
 * every leaf verified, 32 bytes each, in order), to which a run appends before it replaces
 * `audit.json`. Only as many hashes as that checkpoint's size count: what a run that stopped
 * half-way appended beyond them is cut off by the next.
 */
const STATE_FILE = "audit.json";
const LEAVES_FILE = "leaves";

export interface SavedAudit {
  readonly key: string;
  readonly log: AuditedLog;
}

interface StateFile {
  readonly format: "reid-log-audit";
  readonly version: 1;
  readonly registry: string;
  readonly key: string;
  readonly checkpoint: string;
  readonly lastSequence: number;
  readonly devices: readonly ReplayedDevice[];
}

/** Makes DIR (0700) if it is missing; refuses one that others can open. */
export function openStateDirectory(directory: string): void {
  try {
    makeDirectories(directory);
    const stat = statSync(directory);
    if (!stat.isDirectory()) throw auditStateError(`--state ${directory} is not a directory`);
    if ((stat.mode & 0o077) !== 0) {
      throw auditStateError(`--state ${directory} is open to other users: chmod 700 ${directory}`);
    }
  } catch (error) {
    if ((error as { code?: unknown }).code === "audit-state") throw error;
    throw auditStateError(`cannot use --state ${directory}: ${describeOsError(error)}`);
  }
}

/** The saved audit, opened with `key` (the state's own key when none is given), or null for a new DIR. */
export function loadAudit(directory: string, key: (saved: string) => VerifierKey): SavedAudit | null {
  const path = join(directory, STATE_FILE);
  let text: string | null;
  let hashes: Buffer;
  try {
    text = readOptionalFile(path);
    if (text === null) return null;
    hashes = readFileSync(join(directory, LEAVES_FILE));
  } catch (error) {
    throw auditStateError(`cannot read the audit state in ${directory}: ${describeOsError(error)}`);
  }
  const corrupt = (why: string) => auditStateError(`${path} is not an audit's state: ${why}`);
  let state: StateFile;
  try {
    state = JSON.parse(text);
  } catch {
    throw corrupt("not JSON");
  }
  if (state?.format !== "reid-log-audit" || state.version !== 1 || typeof state.key !== "string") {
    throw corrupt("another format");
  }
  if (typeof state.checkpoint !== "string" || !Number.isSafeInteger(state.lastSequence)) {
    throw corrupt("no checkpoint");
  }
  if (!Array.isArray(state.devices) || !state.devices.every(isDevice)) throw corrupt("no device table");
  const verifier = key(state.key);
  const checkpoint = openCheckpoint(state.checkpoint, verifier);
  if (hashes.length < checkpoint.size * HASH_SIZE)
    throw corrupt(`fewer leaf hashes than its ${checkpoint.size}`);
  const tree = new MerkleTree();
  for (let index = 0; index < checkpoint.size; index++) {
    tree.append(hashes.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE));
  }
  if (!Buffer.from(tree.root()).equals(checkpoint.root))
    throw corrupt("its leaf hashes do not make its root");
  return {
    key: state.key,
    log: {
      note: state.checkpoint,
      checkpoint,
      tree,
      table: new DeviceTable(state.devices, state.lastSequence),
    },
  };
}

/** Keeps `log` (verified) in DIR: the new leaf hashes after the `savedSize` kept, then the state. */
export function saveAudit(
  directory: string,
  registry: string,
  key: string,
  log: AuditedLog,
  savedSize: number,
): void {
  if (log.note === null || log.checkpoint === null) return;
  try {
    const fd = openSync(join(directory, LEAVES_FILE), constants.O_WRONLY | constants.O_CREAT, 0o600);
    try {
      ftruncateSync(fd, savedSize * HASH_SIZE);
      const added = Buffer.alloc((log.checkpoint.size - savedSize) * HASH_SIZE);
      for (let index = savedSize; index < log.checkpoint.size; index++) {
        added.set(log.tree.leafHash(index), (index - savedSize) * HASH_SIZE);
      }
      writeSync(fd, added, 0, added.length, savedSize * HASH_SIZE);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const state: StateFile = {
      format: "reid-log-audit",
      version: 1,
      registry,
      key,
      checkpoint: log.note,
      lastSequence: log.table.lastSequence,
      devices: log.table.list(),
    };
    replaceFile(join(directory, STATE_FILE), `${JSON.stringify(state)}\n`);
  } catch (error) {
    throw auditStateError(`cannot write the audit state in ${directory}: ${describeOsError(error)}`);
  }
}

function isDevice(value: unknown): value is ReplayedDevice {
  const device = value as Partial<ReplayedDevice> | null;
  return (
    typeof device?.handle === "string" &&
    DEVICE_STATUSES.includes(device.status as never) &&
    (typeof device.certificateSerial === "string" ||
      (device.certificateSerial === null && (device.status === "listed" || device.status === "revoked")))
  );
}
