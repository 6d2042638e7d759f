import { createHmac, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { StorageError } from "../../errors.js";
import { password } from "../../tpm/command.js";
import { NV_DefineSpace, NV_Read, NV_ReadPublic } from "../../tpm/commands/nv.js";
import { TPM_ALG, TPM_RH, TPMA_NV } from "../../tpm/constants.js";
import { TpmResponseError } from "../../tpm/errors.js";
import { nvName } from "../../tpm/names.js";
import { hex } from "../../tpm/response-code.js";
import type { Tpm } from "../../tpm/tpm.js";
import { unwrapWith, wrapWith } from "../aead-wrap.js";
import { type AuditKey, type AuditKeyHome, LOCKED } from "../audit-key-home.js";
import { readOptionalFile, replaceFile, syncDirectory } from "../durable-file.js";
import { AREA_SIZE, isZero } from "../record.js";
import { AUDIT_KEY_AREA, TpmOwnerAuth } from "../tpm-owner-auth.js";
import { NvArea, REID_NV_ATTRIBUTES } from "./nv-area.js";
import type { KeyProbe, NvPlaces } from "./nv-places.js";

const MAGIC = Buffer.from("RAUK", "latin1");
const VERSION = 1;
const KEY_LENGTH = 32;

/**
 * The TPM backend's audit key: 32 random bytes in an NV index the store chose when `pin set` first
 * made the key (nv-places.ts, remembered in store.json), defined and authorized as the areas are
 * (nv-area.ts: the same code), under the areas' authValue, the owner PIN's, and read through the
 * encrypted session, so neither crosses the bus in clear and no program without the PIN reads it
 * (the TPM counts its guesses). The index holds `RAUK`, version 1 (u32), the first keyed seq (u64)
 * and the key, then zeros.
 *
 * It moves with the areas at `pin set` and `pin change` (and, from the empty authValue an earlier
 * version gave it, at the first proof: store.json's `auditKeyAuth` says which): its contents are
 * first kept in `audit-key.move` under the new authValue (which only the new PIN gives, and which
 * opens the index anyway), then the index is undefined, defined under the new authValue and
 * written, then the copy goes. A kill anywhere leaves the index under the value owner.json or
 * store.json names, or the copy: the next proof finishes the move.
 * Specified in docs/spec.md §5.7 and §9.7.
 */
export class TpmAuditKeyHome implements AuditKeyHome {
  readonly description = "the TPM's audit key index";
  readonly tails = true;

  constructor(
    private readonly tpm: Tpm,
    private readonly places: NvPlaces,
    private readonly options: {
      readonly ownerAuth?: Uint8Array;
      /** The owner PIN's authValue as the element holds it (absent: the empty one, no PIN). */
      readonly indexAuth?: TpmOwnerAuth;
      /** The store directory, where a move keeps its copy. */
      readonly directory: string;
      readonly write: boolean;
      readonly lockTimeoutMs: number;
    },
  ) {
    // The key's index is listed with the areas while it is under the PIN's authValue, so that a
    // new PIN's owner.json keeps the value it is under until it moves.
    options.indexAuth?.attachKey(async () => {
      const index = await this.places.auditKey();
      if (index === null || !(await this.places.auditKeyBound())) return [];
      return (await this.isDefined(index)) ? [AUDIT_KEY_AREA] : [];
    });
  }

  async load(): Promise<AuditKey | null | typeof LOCKED> {
    const index = await this.places.auditKey();
    if (index === null) return null;
    const auth = this.options.indexAuth;
    const empty = new Uint8Array(0);
    const bound = await this.places.auditKeyBound();
    const copy = readMove(this.options.directory, index);
    // The value in force (null: a PIN is set and no proof held) and the one the index is under.
    const current = auth ? auth.value() : empty;
    const under = bound ? (auth ? auth.known(AUDIT_KEY_AREA) : empty) : empty;
    if (under === null || (copy !== null && current === null)) return LOCKED;
    if (current !== null && (await this.due())) return this.move(index, under, current, copy);
    return this.withIndex(index, { under }, false, async (area) => {
      const key = decode(await area.read(0), where(index));
      if (key || copy === null || current === null) return key;
      // Undefined, or not yet written again, by a move a kill stopped: its copy has the key.
      return decode(unwrap(current, copy, where(index)), where(index));
    });
  }

  /**
   * Whether the key's index is to move to the PIN's authValue and can now: a move a kill stopped
   * (its copy is there), an earlier version's index under the empty authValue, or one a new PIN
   * left under the previous value; and this process holds the PIN's authValue and may write. Until
   * then a key under the empty authValue still keys (as the earlier version did).
   */
  async due(): Promise<boolean> {
    const index = await this.places.auditKey();
    const current = this.options.indexAuth?.value();
    if (index === null || !this.options.write || !current || current.length === 0) return false;
    return (
      readMove(this.options.directory, index) !== null ||
      !(await this.places.auditKeyBound()) ||
      this.options.indexAuth?.movingArea(AUDIT_KEY_AREA) === true
    );
  }

  async create(from: number): Promise<AuditKey> {
    const known = await this.places.auditKey();
    const index =
      known ?? (await this.places.choose("auditKey", (free) => this.define(free), { auditKeyBound: true }));
    const under = (await this.places.auditKeyBound())
      ? this.options.indexAuth?.forArea(AUDIT_KEY_AREA)
      : new Uint8Array(0);
    return this.withIndex(index, { under: under ?? new Uint8Array(0) }, true, async (area) => {
      const existing = decode(await area.read(0), where(index));
      if (existing) return existing;
      const bytes = new Uint8Array(AREA_SIZE);
      const key = randomBytes(KEY_LENGTH);
      try {
        const view = Buffer.from(bytes.buffer);
        MAGIC.copy(view, 0);
        view.writeUInt32BE(VERSION, 4);
        view.writeBigUInt64BE(BigInt(from), 8);
        view.set(key, 16);
        await area.write(0, bytes);
        return keyOf(key, from);
      } finally {
        bytes.fill(0);
        key.fill(0);
      }
    });
  }

  /**
   * Moves the key's index from the authValue `under` to `to` (docs/spec.md §9.7): its contents kept
   * first in the copy (under `to`), the index undefined, recorded as bound (a key an earlier
   * version left under the empty authValue), defined under `to` and written, the copy removed.
   */
  private async move(
    index: number,
    under: Uint8Array,
    to: Uint8Array,
    copy: string | null,
  ): Promise<AuditKey | null> {
    return this.withIndex(index, { under, to }, true, async (area) => {
      const contents = copy ? unwrap(to, copy, where(index)) : await area.read(0);
      try {
        if (!copy && isZero(contents)) {
          // Never written (a kill between its definition and its first write): nothing to keep.
          await area.erase(0);
          this.options.indexAuth?.undefined(AUDIT_KEY_AREA);
          return null;
        }
        const key = decode(Uint8Array.from(contents), where(index));
        if (!copy) writeMove(this.options.directory, index, wrap(to, contents));
        await area.erase(0);
        this.options.indexAuth?.undefined(AUDIT_KEY_AREA);
        if (!(await this.places.auditKeyBound())) await this.places.bindAuditKey();
        await area.write(0, contents);
        removeMove(this.options.directory);
        return key;
      } finally {
        contents.fill(0);
      }
    });
  }

  /**
   * Whether `index` holds a key an earlier version wrote (nv-places.ts): its head read with the
   * empty authValue the key's index has, without the index's place lock (another store's daemon may
   * hold it for good). A refused authorization is another store's index (the TPM counts it, once:
   * the answer is recorded), and so is anything that is not `RAUK`; a lockout or failure cannot
   * tell, and throws.
   */
  async probe(index: number): Promise<KeyProbe> {
    const { nvPublic } = await this.tpm.run(NV_ReadPublic, { nvIndex: index });
    const rest = (nvPublic.attributes & ~TPMA_NV.WRITTEN) >>> 0;
    if (rest !== REID_NV_ATTRIBUTES || nvPublic.dataSize !== AREA_SIZE) return "not-ours";
    if ((nvPublic.attributes & TPMA_NV.WRITTEN) === 0) return "not-ours";
    try {
      const named = { handle: index, name: nvName(nvPublic) };
      const { data } = await this.tpm.run(NV_Read, {
        authHandle: { ...named, password: new Uint8Array(0) },
        nvIndex: named,
        size: MAGIC.length,
        offset: 0,
      });
      return Buffer.from(data).equals(MAGIC) ? "ours" : "not-ours";
    } catch (error) {
      const refused = ["TPM_RC_BAD_AUTH", "TPM_RC_AUTH_FAIL", "TPM_RC_NV_UNINITIALIZED"];
      if (error instanceof TpmResponseError && refused.includes(error.rc)) return "not-ours";
      throw error;
    }
  }

  /**
   * Defines the key's index as NvArea defines one, under the PIN's authValue (TPM_RC_NV_DEFINED:
   * the chooser tries another); the value travels encrypted on the session.
   */
  private async define(index: number): Promise<void> {
    await this.tpm.run(NV_DefineSpace, {
      authHandle: password(TPM_RH.OWNER, this.options.ownerAuth),
      auth: this.options.indexAuth?.forArea(AUDIT_KEY_AREA) ?? new Uint8Array(0),
      publicInfo: {
        nvIndex: index,
        nameAlg: TPM_ALG.SHA256,
        attributes: REID_NV_ATTRIBUTES,
        authPolicy: new Uint8Array(0),
        dataSize: AREA_SIZE,
      },
    });
  }

  /** Whether the key's index is defined (under whichever authValue). */
  private async isDefined(index: number): Promise<boolean> {
    try {
      await this.tpm.run(NV_ReadPublic, { nvIndex: index });
      return true;
    } catch (error) {
      if (error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE") return false;
      throw error;
    }
  }

  /**
   * Runs `task` on the key's index as NvArea's area 0, authorized with `under` (the value it is
   * defined under) and, once undefined, defined again under `to`.
   */
  private async withIndex<T>(
    index: number,
    auth: { readonly under: Uint8Array; readonly to?: Uint8Array },
    write: boolean,
    task: (area: NvArea) => Promise<T>,
  ): Promise<T> {
    const indexAuth = new TpmOwnerAuth(() => false);
    indexAuth.hold(auth.to ?? auth.under, auth.to ? { value: auth.under, areas: [0] } : null);
    const area = await NvArea.open(this.tpm, {
      nvIndex: index,
      write: write && this.options.write,
      lockTimeoutMs: this.options.lockTimeoutMs,
      indexAuth,
      ...(this.options.ownerAuth ? { ownerAuth: this.options.ownerAuth } : {}),
    });
    try {
      return await task(area);
    } finally {
      indexAuth.clear();
      await area.close();
    }
  }
}

/** The copy a move keeps of the key's index, under the authValue it moves to (docs/spec.md §9.7). */
const MOVE_FILE = "audit-key.move";

function readMove(directory: string, index: number): string | null {
  const text = readOptionalFile(join(directory, MOVE_FILE));
  if (text === null) return null;
  const move = parseMove(text);
  if (move?.v !== 1 || move.index !== hex(index) || typeof move.wrapped !== "string")
    throw new StorageError(
      `${join(directory, MOVE_FILE)} is not a move of this store's audit key`,
      "store-corrupt",
    );
  return move.wrapped;
}

/** A torn or foreign file is not a move: null, reported as the store's corruption above. */
function parseMove(text: string): { v?: unknown; index?: unknown; wrapped?: unknown } | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}

function writeMove(directory: string, index: number, wrapped: string): void {
  replaceFile(join(directory, MOVE_FILE), `${JSON.stringify({ v: 1, index: hex(index), wrapped })}\n`);
}

function removeMove(directory: string): void {
  rmSync(join(directory, MOVE_FILE), { force: true });
  syncDirectory(directory);
}

/** The index's contents under AES-256-GCM keyed by HMAC-SHA-256(authValue, `reid/audit-key-move`). */
function wrap(authValue: Uint8Array, contents: Uint8Array): string {
  const key = moveKey(authValue);
  try {
    return wrapWith(key, contents);
  } finally {
    key.fill(0);
  }
}

function unwrap(authValue: Uint8Array, wrapped: string, where: string): Uint8Array {
  const key = moveKey(authValue);
  try {
    const contents = unwrapWith(key, wrapped);
    if (contents) return contents;
    throw new StorageError(`the copy of ${where} a move kept does not open under this PIN`, "store-corrupt");
  } finally {
    key.fill(0);
  }
}

function moveKey(authValue: Uint8Array): Buffer {
  return createHmac("sha256", authValue).update("reid/audit-key-move").digest();
}

function where(index: number): string {
  return `the TPM's NV index ${hex(index)}`;
}

function decode(bytes: Uint8Array, where: string): AuditKey | null {
  try {
    if (bytes.every((byte) => byte === 0)) return null;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const from = view.readBigUInt64BE(8);
    if (
      !view.subarray(0, 4).equals(MAGIC) ||
      view.readUInt32BE(4) !== VERSION ||
      from < 1n ||
      from > BigInt(Number.MAX_SAFE_INTEGER)
    ) {
      throw new StorageError(`${where} does not hold reid's audit key`, "store-foreign");
    }
    return keyOf(view.subarray(16, 16 + KEY_LENGTH), Number(from));
  } finally {
    bytes.fill(0);
  }
}

function keyOf(bytes: Uint8Array, from: number): AuditKey {
  const key = Buffer.from(bytes);
  return { from, mac: (data) => createHmac("sha256", key).update(data).digest() };
}
