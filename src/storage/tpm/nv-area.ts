import { AuthError, StorageError } from "../../errors.js";
import { type Authorized, type Named, password } from "../../tpm/command.js";
import { NV_DefineSpace, NV_Read, NV_ReadPublic, NV_UndefineSpace, NV_Write } from "../../tpm/commands/nv.js";
import { TPM_ALG, TPM_PT, TPM_RH, TPMA_NV } from "../../tpm/constants.js";
import { TpmResponseError } from "../../tpm/errors.js";
import { nvName } from "../../tpm/names.js";
import { readProperties } from "../../tpm/properties.js";
import { hex } from "../../tpm/response-code.js";
import type { NvPublic } from "../../tpm/structures/nv.js";
import type { Tpm } from "../../tpm/tpm.js";
import { acquirePlaceLock, type ProcessLock } from "../process-lock.js";
import { AREA_SIZE, isZero } from "../record.js";
import type { AreaIndex, StorageArea } from "../storage-area.js";
import { TpmOwnerAuth } from "../tpm-owner-auth.js";

/**
 * What reid's indices are: ordinary indices read and written only with their own authValue (the
 * owner PIN's, owner-secret.ts; empty before a PIN is set), never with the owner hierarchy's, and
 * subject to the TPM's dictionary-attack lockout, so the TPM counts wrong authorizations in
 * hardware; not ORDERLY, so an NV_Write is in NV when the TPM answers. Undefining one still takes
 * the owner hierarchy. An index with anything else (or WRITTEN aside) is not reid's.
 * Specified in docs/spec.md §5.7.
 */
export const REID_NV_ATTRIBUTES = (TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD) >>> 0;

/**
 * What earlier versions defined: read and written with the owner hierarchy's authorization, outside
 * dictionary-attack counting. Still read and written as they are; the next commit defines the
 * other index as REID_NV_ATTRIBUTES says and undefines this one.
 */
export const LEGACY_NV_ATTRIBUTES = (TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA) >>> 0;

export interface NvAreaOptions {
  /** The first of the two indices; area 1 is the next one. */
  readonly nvIndex: number;
  /** The owner hierarchy's password (empty on a TPM whose owner set none). */
  readonly ownerAuth?: Uint8Array;
  /** The indices' own authValue, held in memory by the owner gate; absent: empty (no PIN). */
  readonly indexAuth?: TpmOwnerAuth;
  readonly write: boolean;
  readonly lockTimeoutMs: number;
}

type IndexState = "undefined" | "defined" | "written";
/** How an index is authorized: by its own authValue (reid's), or by the owner (an earlier version's). */
type IndexKind = "auth" | "legacy";

/**
 * The TPM backend's storage area: two NV indices of AREA_SIZE bytes. An erased area is an
 * undefined index (NV_UndefineSpace): the TPM drops the bytes and the name together, so erase
 * leaves nothing behind that a later owner could read. A write defines the index if it must, then
 * writes it whole; until then a defined index reads as zeros (TPM_RC_NV_UNINITIALIZED), which is
 * what an interrupted write leaves, so the other area's record stays in force.
 *
 * The store holds the TPM connection it is given, not its own: the element shares one connection
 * between the store and the entropy source, as swtpm serves one client at a time.
 */
export class NvArea implements StorageArea {
  readonly areaSize = AREA_SIZE;
  readonly writable: boolean;
  private readonly indices: readonly [number, number];
  private readonly state: [IndexState | null, IndexState | null] = [null, null];
  private readonly kind: [IndexKind, IndexKind] = ["auth", "auth"];
  private readonly owner: Uint8Array;
  private readonly auth: TpmOwnerAuth;
  private chunk: number | null = null;
  private closed = false;

  private constructor(
    private readonly tpm: Tpm,
    options: NvAreaOptions,
    private readonly lock: ProcessLock,
  ) {
    this.writable = options.write;
    this.indices = [options.nvIndex, options.nvIndex + 1];
    this.owner = Uint8Array.from(options.ownerAuth ?? []);
    this.auth = options.indexAuth ?? new TpmOwnerAuth(() => false);
    this.auth.attach(async () => {
      const defined: number[] = [];
      for (const area of [0, 1] as const) {
        if ((await this.stateOf(area)) !== "undefined") defined.push(area);
      }
      return defined;
    });
  }

  static async open(tpm: Tpm, options: NvAreaOptions): Promise<NvArea> {
    // One writer per index pair however the TPM is reached; a second one waits or gives up here,
    // before it sends anything. The store directory's lock cannot do it: another store directory
    // may name the same indices, and its record's store id refuses it only once it has read them,
    // so two new stores could otherwise both find the pair free and both provision it
    // (docs/spec.md §5.5).
    const lock = await acquirePlaceLock(`tpm-nv ${tpm.description} ${hex(options.nvIndex)}`, {
      timeoutMs: options.lockTimeoutMs,
      what: `NV index ${hex(options.nvIndex)} on ${tpm.description}`,
    });
    return new NvArea(tpm, options, lock);
  }

  async provisioned(): Promise<boolean> {
    // Neither index written: never committed, or the first commit died between define and write.
    return (await this.stateOf(0)) === "written" || (await this.stateOf(1)) === "written";
  }

  async provision(contents: readonly [Uint8Array, Uint8Array]): Promise<void> {
    // Area 1 first, as for files: until area 0 is written the store counts as never provisioned.
    await this.write(1, contents[1]);
    await this.write(0, contents[0]);
  }

  async read(area: AreaIndex): Promise<Uint8Array> {
    const bytes = new Uint8Array(AREA_SIZE);
    if ((await this.stateOf(area)) !== "written") return bytes;
    try {
      const size = await this.chunkSize();
      for (let offset = 0; offset < AREA_SIZE; offset += size) {
        const length = Math.min(size, AREA_SIZE - offset);
        const { data } = await this.tpm.run(NV_Read, {
          authHandle: this.authorizing(area, true),
          nvIndex: this.named(area, true),
          size: length,
          offset,
        });
        if (data.length !== length)
          throw this.failure(area, `NV_Read returned ${data.length} bytes, not ${length}`);
        bytes.set(data, offset);
        data.fill(0);
      }
      return bytes;
    } catch (error) {
      bytes.fill(0);
      if (error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE") {
        this.gone(area);
        return new Uint8Array(AREA_SIZE);
      }
      if (error instanceof TpmResponseError && error.rc === "TPM_RC_NV_UNINITIALIZED") {
        this.state[area] = "defined";
        return new Uint8Array(AREA_SIZE);
      }
      throw this.explain(error, area);
    }
  }

  async write(area: AreaIndex, data: Uint8Array): Promise<void> {
    this.assertWritable();
    if (data.length !== AREA_SIZE) throw new RangeError(`an area takes exactly ${AREA_SIZE} bytes`);
    if (isZero(data)) return this.erase(area);
    if ((await this.stateOf(area)) === "undefined") await this.define(area);
    try {
      await this.writeChunks(area, data);
    } catch (error) {
      // Undefined behind our back (tpm2_nvundefine, TPM2_Clear): define it again, once.
      if (!(error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE"))
        throw this.explain(error, area);
      this.gone(area);
      await this.define(area);
      await this.writeChunks(area, data).catch((again: unknown) => {
        throw this.explain(again, area);
      });
    }
    this.state[area] = "written";
  }

  async erase(area: AreaIndex): Promise<void> {
    this.assertWritable();
    const state = await this.stateOf(area);
    if (state === "undefined") return;
    try {
      await this.tpm.run(NV_UndefineSpace, {
        authHandle: password(TPM_RH.OWNER, this.owner),
        nvIndex: this.named(area, state === "written"),
      });
    } catch (error) {
      if (!(error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE")) throw this.explain(error);
    }
    this.gone(area);
  }

  /**
   * What keeps the identifier from other programs: the indices' authValue from the owner PIN
   * (`tpm-pin`), an empty one before a PIN is set (`tpm-none`), or, for indices an earlier
   * version defined, the owner hierarchy's authorization (`tpm-owner`).
   */
  async protectedBy(): Promise<"tpm-pin" | "tpm-none" | "tpm-owner"> {
    let empty = this.auth.value()?.length === 0;
    for (const area of [0, 1] as const) {
      if ((await this.stateOf(area)) === "undefined") continue;
      if (this.kind[area] === "legacy") return "tpm-owner";
      // Mid-move, an index may still carry the empty authValue of before the PIN.
      empty ||= this.auth.known(area)?.length === 0;
    }
    return empty ? "tpm-none" : "tpm-pin";
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owner.fill(0);
    await this.lock.release();
  }

  private async writeChunks(area: AreaIndex, data: Uint8Array): Promise<void> {
    const size = await this.chunkSize();
    for (let offset = 0; offset < AREA_SIZE; offset += size) {
      const written = this.state[area] === "written";
      await this.tpm.run(NV_Write, {
        authHandle: this.authorizing(area, written),
        nvIndex: this.named(area, written),
        data: data.subarray(offset, Math.min(offset + size, AREA_SIZE)),
        offset,
      });
      // The first write sets TPMA_NV_WRITTEN, and with it the index's name.
      this.state[area] = "written";
    }
  }

  /**
   * Who authorizes reading or writing the index: the index itself with its authValue (the session's
   * HMAC is keyed with it, Part 1, 19.6), or the owner for an earlier version's index.
   */
  private authorizing(area: AreaIndex, written: boolean): Authorized {
    if (this.kind[area] === "legacy") return password(TPM_RH.OWNER, this.owner);
    const { handle, name } = this.named(area, written);
    return { handle, name, password: this.auth.forArea(area) };
  }

  /** The index is undefined: whatever authValue it carried is gone with it. */
  private gone(area: AreaIndex): void {
    this.state[area] = "undefined";
    this.kind[area] = "auth";
    this.auth.undefined(area);
  }

  /**
   * The index with its name, which a session's cpHash binds: reid's public area, with WRITTEN as
   * the index is (the state this area tracks under its lock).
   */
  private named(area: AreaIndex, written: boolean): Named {
    return { handle: this.indices[area], name: nvName(this.publicArea(area, written)) };
  }

  /** What reid defines its indices as (docs/spec.md §5.7), or what an earlier version did. */
  private publicArea(area: AreaIndex, written: boolean): NvPublic {
    const attributes = this.kind[area] === "legacy" ? LEGACY_NV_ATTRIBUTES : REID_NV_ATTRIBUTES;
    return {
      nvIndex: this.indices[area],
      nameAlg: TPM_ALG.SHA256,
      attributes: (attributes | (written ? TPMA_NV.WRITTEN : 0)) >>> 0,
      authPolicy: new Uint8Array(0),
      dataSize: AREA_SIZE,
    };
  }

  private async define(area: AreaIndex): Promise<void> {
    // Undefined now, whatever authValue it had: it is defined under the one in force.
    this.auth.undefined(area);
    this.kind[area] = "auth";
    try {
      // The authValue travels as NV_DefineSpace's first parameter: encrypted on the session.
      await this.tpm.run(NV_DefineSpace, {
        authHandle: password(TPM_RH.OWNER, this.owner),
        auth: this.auth.forArea(area),
        publicInfo: this.publicArea(area, false),
      });
      this.state[area] = "defined";
    } catch (error) {
      // Defined meanwhile by someone else: take it only if it is shaped like ours.
      if (!(error instanceof TpmResponseError && error.rc === "TPM_RC_NV_DEFINED")) throw this.explain(error);
      this.state[area] = null;
      await this.stateOf(area);
    }
  }

  /** Whether the index is there and written, asked once and then tracked, since we hold the lock. */
  private async stateOf(area: AreaIndex): Promise<IndexState> {
    const known = this.state[area];
    if (known) return known;
    const index = this.indices[area];
    let attributes: number;
    let dataSize: number;
    try {
      const { nvPublic } = await this.tpm.run(NV_ReadPublic, { nvIndex: index });
      if (nvPublic.nvIndex !== index)
        throw this.failure(area, `NV_ReadPublic answered for ${hex(nvPublic.nvIndex)}`);
      attributes = nvPublic.attributes;
      dataSize = nvPublic.dataSize;
    } catch (error) {
      if (error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE") {
        this.gone(area);
        return "undefined";
      }
      throw this.explain(error);
    }
    const written = (attributes & TPMA_NV.WRITTEN) !== 0;
    const rest = (attributes & ~TPMA_NV.WRITTEN) >>> 0;
    const reid = rest === REID_NV_ATTRIBUTES || rest === LEGACY_NV_ATTRIBUTES;
    if (dataSize !== AREA_SIZE || !reid) {
      const why =
        dataSize !== AREA_SIZE
          ? `it holds ${dataSize} bytes, not ${AREA_SIZE}`
          : `its attributes are ${hex(rest)}, not ${hex(REID_NV_ATTRIBUTES)} (authread|authwrite)`;
      throw new StorageError(
        `NV index ${hex(index)} on ${this.tpm.description} is not one of reid's: ${why}; undefine it (tpm2_nvundefine ${hex(index)}) or choose another index with nv-index=`,
        "store-foreign",
      );
    }
    const state: IndexState = written ? "written" : "defined";
    this.state[area] = state;
    this.kind[area] = rest === LEGACY_NV_ATTRIBUTES ? "legacy" : "auth";
    return state;
  }

  /** TPM_PT_NV_BUFFER_MAX: the most one NV_Read or NV_Write may carry (1024 on swtpm, less on some chips). */
  private async chunkSize(): Promise<number> {
    if (this.chunk !== null) return this.chunk;
    const max = (await readProperties(this.tpm, TPM_PT.NV_BUFFER_MAX, 1)).get(TPM_PT.NV_BUFFER_MAX);
    this.chunk = max && max > 0 ? Math.min(max, AREA_SIZE) : 128;
    return this.chunk;
  }

  private assertWritable(): void {
    if (!this.writable) throw new Error("store was opened read-only");
  }

  private failure(area: AreaIndex, why: string): StorageError {
    return new StorageError(`NV index ${hex(this.indices[area])} on ${this.tpm.description}: ${why}`);
  }

  /**
   * A refused authorization says what to fix: the TPM's lockout, an index's authValue (`area`: the
   * command was authorized by reid's index), or the owner's.
   */
  private explain(error: unknown, area?: AreaIndex): unknown {
    if (!(error instanceof TpmResponseError)) return error;
    if (error.rc === "TPM_RC_LOCKOUT") {
      return new AuthError(
        "tpm-lockout",
        `${this.tpm.description} is in dictionary-attack lockout after too many wrong authorizations, and refuses reid's NV index until it recovers by itself (its recovery time) or is cleared with the lockout authorization (tpm2_dictionarylockout --clear-lockout)`,
      );
    }
    const refused = error.rc === "TPM_RC_BAD_AUTH" || error.rc === "TPM_RC_AUTH_FAIL";
    if (refused && area !== undefined && this.kind[area] === "auth") {
      return new AuthError(
        "tpm-auth",
        `${this.tpm.description} refused the authorization of NV index ${hex(this.indices[area])}: it is not under this owner PIN's authValue (owner.json is not the one its PIN was set with); the TPM counted it towards its lockout (${error.message})`,
      );
    }
    return explainOwnerAuth(error, this.tpm);
  }
}

/** A refused owner authorization says what to fix (the areas' and the counter's commands). */
export function explainOwnerAuth(error: unknown, tpm: Tpm): unknown {
  if (
    error instanceof TpmResponseError &&
    (error.rc === "TPM_RC_BAD_AUTH" || error.rc === "TPM_RC_AUTH_FAIL")
  ) {
    return new StorageError(
      `${tpm.description} refused the owner authorization: give the owner password with owner-auth-file= (${error.message})`,
      "tpm-owner-auth",
    );
  }
  return error;
}
