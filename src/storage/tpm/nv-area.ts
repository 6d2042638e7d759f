import { StorageError } from "../../errors.js";
import { type Named, password } from "../../tpm/command.js";
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

/**
 * What reid's indices are: ordinary indices, read and written with the owner's authorization only,
 * outside dictionary-attack counting (owner auth never counts), and not ORDERLY, so an NV_Write
 * is in NV when the TPM answers. An index with anything else (or WRITTEN aside) is not reid's.
 * Specified in docs/spec.md §5.7.
 */
export const REID_NV_ATTRIBUTES = (TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA) >>> 0;

export interface NvAreaOptions {
  /** The first of the two indices; area 1 is the next one. */
  readonly nvIndex: number;
  /** The owner hierarchy's password (empty on a TPM whose owner set none). */
  readonly ownerAuth?: Uint8Array;
  readonly write: boolean;
  readonly lockTimeoutMs: number;
}

type IndexState = "undefined" | "defined" | "written";

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
  private readonly owner: Uint8Array;
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
          authHandle: password(TPM_RH.OWNER, this.owner),
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
        this.state[area] = "undefined";
        return new Uint8Array(AREA_SIZE);
      }
      if (error instanceof TpmResponseError && error.rc === "TPM_RC_NV_UNINITIALIZED") {
        this.state[area] = "defined";
        return new Uint8Array(AREA_SIZE);
      }
      throw this.explain(error);
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
      if (!(error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE")) throw this.explain(error);
      this.state[area] = "undefined";
      await this.define(area);
      await this.writeChunks(area, data).catch((again: unknown) => {
        throw this.explain(again);
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
    this.state[area] = "undefined";
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
      await this.tpm.run(NV_Write, {
        authHandle: password(TPM_RH.OWNER, this.owner),
        nvIndex: this.named(area, this.state[area] === "written"),
        data: data.subarray(offset, Math.min(offset + size, AREA_SIZE)),
        offset,
      });
      // The first write sets TPMA_NV_WRITTEN, and with it the index's name.
      this.state[area] = "written";
    }
  }

  /**
   * The index with its name, which a session's cpHash binds: reid's public area, with WRITTEN as
   * the index is (the state this area tracks under its lock).
   */
  private named(area: AreaIndex, written: boolean): Named {
    return { handle: this.indices[area], name: nvName(this.publicArea(area, written)) };
  }

  /** What reid defines its indices as (docs/spec.md §5.7). */
  private publicArea(area: AreaIndex, written: boolean): NvPublic {
    return {
      nvIndex: this.indices[area],
      nameAlg: TPM_ALG.SHA256,
      attributes: (REID_NV_ATTRIBUTES | (written ? TPMA_NV.WRITTEN : 0)) >>> 0,
      authPolicy: new Uint8Array(0),
      dataSize: AREA_SIZE,
    };
  }

  private async define(area: AreaIndex): Promise<void> {
    try {
      await this.tpm.run(NV_DefineSpace, {
        authHandle: password(TPM_RH.OWNER, this.owner),
        auth: new Uint8Array(0),
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
        this.state[area] = "undefined";
        return "undefined";
      }
      throw this.explain(error);
    }
    const written = (attributes & TPMA_NV.WRITTEN) !== 0;
    const rest = (attributes & ~TPMA_NV.WRITTEN) >>> 0;
    if (dataSize !== AREA_SIZE || rest !== REID_NV_ATTRIBUTES) {
      const why =
        dataSize !== AREA_SIZE
          ? `it holds ${dataSize} bytes, not ${AREA_SIZE}`
          : `its attributes are ${hex(rest)}, not ${hex(REID_NV_ATTRIBUTES)} (ownerread|ownerwrite|no_da)`;
      throw new StorageError(
        `NV index ${hex(index)} on ${this.tpm.description} is not one of reid's: ${why}; undefine it (tpm2_nvundefine ${hex(index)}) or choose another index with nv-index=`,
        "store-foreign",
      );
    }
    const state: IndexState = written ? "written" : "defined";
    this.state[area] = state;
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

  private explain(error: unknown): unknown {
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
