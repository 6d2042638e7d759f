import { StorageError } from "../../errors.js";
import { type Named, password } from "../../tpm/command.js";
import { NV_DefineSpace, NV_Increment, NV_Read, NV_ReadPublic } from "../../tpm/commands/nv.js";
import { TPM_ALG, TPM_RH, TPMA_NV } from "../../tpm/constants.js";
import { TpmResponseError } from "../../tpm/errors.js";
import { nvName } from "../../tpm/names.js";
import { hex } from "../../tpm/response-code.js";
import type { NvPublic } from "../../tpm/structures/nv.js";
import type { Tpm } from "../../tpm/tpm.js";
import { readCounterBase, writeCounterBase } from "../counter-base.js";
import { counterGone, type RollbackCounter } from "../rollback-counter.js";
import { explainOwnerAuth } from "./nv-area.js";
import type { NvPlaces } from "./nv-places.js";

/**
 * The counter index: a TPM_NT_COUNTER authorized like the areas (owner read and write, no DA, not
 * ORDERLY, so an increment is in NV when the TPM answers). Its authorization is this file's alone.
 */
export const REID_COUNTER_ATTRIBUTES =
  (TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA | TPMA_NV.TPM_NT_COUNTER) >>> 0;
const COUNTER_SIZE = 8;

/**
 * The TPM backend's rollback counter: a TPM_NT_COUNTER index the store chose when it first needed
 * one (nv-places.ts, remembered in store.json). Nothing can lower it (NV_Increment only adds one;
 * undefined and defined again, it starts at least where every counter of the TPM ever was), so an
 * old record written back into an area index with the owner's authorization is older than what it
 * says. Its value less the base the store directory keeps (counter-base.ts) is the highest
 * committed epoch. Specified in docs/spec.md §5.7 and §5.10.
 */
export class NvCounter implements RollbackCounter {
  /** The index once known (null: none made yet), and whether it was incremented. */
  private index: number | null | undefined;
  private written: boolean | null = null;
  private readonly owner: Uint8Array;

  constructor(
    private readonly tpm: Tpm,
    private readonly places: NvPlaces,
    private readonly directory: string,
    ownerAuth: Uint8Array | undefined,
  ) {
    this.owner = Uint8Array.from(ownerAuth ?? []);
  }

  /** For messages: the counter, with its index once known. */
  get description(): string {
    return typeof this.index === "number"
      ? `the TPM's NV counter ${hex(this.index)}`
      : "the TPM's NV counter";
  }

  async highest(): Promise<number | null> {
    const base = readCounterBase(this.directory);
    if (base === null) return null;
    const value = await this.value();
    if (value === null) throw counterGone(this.directory, this.description);
    const highest = value - base;
    return highest < 0n
      ? 0
      : Number(highest > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : highest);
  }

  async advance(epoch: number): Promise<void> {
    const base = readCounterBase(this.directory);
    if (base === null) return this.restart(epoch);
    let value = await this.value();
    if (value === null) throw counterGone(this.directory, this.description);
    // One increment per commit; more only where a crash left the counter behind the record.
    while (value - base < BigInt(epoch)) {
      await this.increment(await this.at());
      value += 1n;
    }
  }

  async restart(epoch: number): Promise<void> {
    let index = await this.at();
    // None yet, or gone (undefined outside reid): a new one where it is free, not at the old
    // place, which another store may have taken since.
    if (index === null || (await this.stateOf(index)) === null) {
      index = await this.places.choose("counter", (free) => this.define(free));
      this.index = index;
    }
    await this.increment(index);
    const value = (await this.value()) as bigint;
    writeCounterBase(this.directory, value - BigInt(epoch));
  }

  /** Forgets the owner's password (the connection is closed by the backend). */
  close(): void {
    this.owner.fill(0);
  }

  /** Where the counter is, as store.json (or the version before this one) says; null: none made. */
  private async at(): Promise<number | null> {
    if (this.index === undefined) this.index = await this.places.counter();
    return this.index;
  }

  /** The counter's value; null when the index is not there or was never incremented. */
  private async value(): Promise<bigint | null> {
    const index = await this.at();
    if (index === null || !(await this.stateOf(index))) return null;
    const { data } = await this.owned(() =>
      this.tpm.run(NV_Read, {
        authHandle: password(TPM_RH.OWNER, this.owner),
        nvIndex: this.named(index, true),
        size: COUNTER_SIZE,
        offset: 0,
      }),
    );
    if (data.length !== COUNTER_SIZE)
      throw this.failure(index, `NV_Read returned ${data.length} bytes, not 8`);
    return Buffer.from(data).readBigUInt64BE(0);
  }

  private async increment(index: number | null): Promise<void> {
    if (index === null) throw new Error("the counter is incremented only once it has an index");
    if (this.written === null) await this.stateOf(index);
    if (this.written === null) await this.define(index);
    await this.owned(() =>
      this.tpm.run(NV_Increment, {
        authHandle: password(TPM_RH.OWNER, this.owner),
        nvIndex: this.named(index, this.written === true),
      }),
    );
    this.written = true;
  }

  /** Defines the counter at `index`; TPM_RC_NV_DEFINED passes through (the chooser tries another). */
  private async define(index: number): Promise<void> {
    await this.owned(() =>
      this.tpm.run(NV_DefineSpace, {
        authHandle: password(TPM_RH.OWNER, this.owner),
        auth: new Uint8Array(0),
        publicInfo: this.publicArea(index, false),
      }),
    );
    this.written = false;
  }

  /** A command authorized by the owner: a refused authorization says what to fix. */
  private async owned<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw explainOwnerAuth(error, this.tpm);
    }
  }

  /**
   * Whether the index is there (null: not defined) and was incremented; asked once, then tracked
   * under the place lock the areas hold. An index of another shape is not reid's.
   */
  private async stateOf(index: number): Promise<boolean | null> {
    if (this.written !== null) return this.written;
    let pub: NvPublic;
    try {
      pub = (await this.tpm.run(NV_ReadPublic, { nvIndex: index })).nvPublic;
    } catch (error) {
      if (error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE") return null;
      throw error;
    }
    const rest = (pub.attributes & ~TPMA_NV.WRITTEN) >>> 0;
    if (pub.nvIndex !== index || pub.dataSize !== COUNTER_SIZE || rest !== REID_COUNTER_ATTRIBUTES) {
      throw new StorageError(
        `NV index ${hex(index)} on ${this.tpm.description} is not reid's counter: its attributes are ${hex(rest)} and size ${pub.dataSize}, not ${hex(REID_COUNTER_ATTRIBUTES)} (ownerread|ownerwrite|no_da|counter) and 8; undefine it (tpm2_nvundefine ${hex(index)}) or choose another index with nv-index=`,
        "store-foreign",
      );
    }
    this.written = (pub.attributes & TPMA_NV.WRITTEN) !== 0;
    return this.written;
  }

  private named(index: number, written: boolean): Named {
    return { handle: index, name: nvName(this.publicArea(index, written)) };
  }

  private publicArea(index: number, written: boolean): NvPublic {
    return {
      nvIndex: index,
      nameAlg: TPM_ALG.SHA256,
      attributes: (REID_COUNTER_ATTRIBUTES | (written ? TPMA_NV.WRITTEN : 0)) >>> 0,
      authPolicy: new Uint8Array(0),
      dataSize: COUNTER_SIZE,
    };
  }

  private failure(index: number, why: string): StorageError {
    return new StorageError(`NV counter ${hex(index)} on ${this.tpm.description}: ${why}`);
  }
}
