import { GetCapability } from "../../tpm/commands/capability.js";
import { NV_ReadPublic } from "../../tpm/commands/nv.js";
import { TPM_CAP, TPMA_NV } from "../../tpm/constants.js";
import { TpmResponseError } from "../../tpm/errors.js";
import { OWNER_NV_RANGE } from "../../tpm/spec.js";
import type { NvPublic } from "../../tpm/structures/nv.js";
import type { Tpm } from "../../tpm/tpm.js";
import type { PlacesMemory } from "../backend.js";
import { readCounterBase } from "../counter-base.js";
import { acquirePlaceLock } from "../process-lock.js";
import { AREA_SIZE } from "../record.js";
import { type NvPlacesRecord, readStoreFile } from "../store-file.js";
import { LEGACY_NV_ATTRIBUTES, REID_NV_ATTRIBUTES } from "./nv-area.js";

/** Which of the store's two chosen indices. */
export type NvRole = "counter" | "auditKey";

/** What a probe of the index an earlier version put the audit key in found. */
export type KeyProbe = "ours" | "not-ours";

export interface NvPlacesOptions {
  /** The store's first area index (its two areas are it and the next). */
  readonly base: number;
  readonly write: boolean;
  readonly lockTimeoutMs: number;
  /**
   * Whether the index holds this store's audit key as an earlier version wrote it (read with the
   * empty authValue it has); throws when that cannot be told (lockout, a failing TPM).
   */
  readonly probeAuditKey: (index: number) => Promise<KeyProbe>;
}

/**
 * Where a TPM store keeps its rollback counter and its audit key: two indices chosen when first
 * needed (a free index of the owner range, never one of another reid store's area pairs, as far as
 * the TPM's handle list and their public areas tell) and remembered in store.json, not derived from
 * the areas' index: a store of an earlier version took only two indices, so I + 2 may be another
 * store's areas. A store the version before this one made (counter at I + 2 and key at I + 3,
 * nothing recorded) is recognised and recorded at its first write open.
 *
 * Crash order: the index is defined, then recorded, then used; a kill between the first two leaves
 * a defined, unwritten index that nothing names (one NV index lost, never another store's data).
 * Specified in docs/spec.md §5.7.
 */
export class NvPlaces {
  private known: NvPlacesRecord | null = null;

  constructor(
    private readonly tpm: Tpm,
    private readonly directory: string,
    private readonly memory: PlacesMemory,
    private readonly options: NvPlacesOptions,
  ) {}

  /** The counter's index, or null when none was made yet. */
  async counter(): Promise<number | null> {
    return (await this.resolve()).counter;
  }

  /** The audit key's index, or null when none was made yet. */
  async auditKey(): Promise<number | null> {
    return (await this.resolve()).auditKey;
  }

  /** Whether the audit key's index is under the owner PIN's authValue (else the empty one, §9.7). */
  async auditKeyBound(): Promise<boolean> {
    return (await this.resolve()).auditKeyBound === true;
  }

  /**
   * Records that the audit key's index is (from its next definition on) under the owner PIN's
   * authValue: written once the index an earlier version left under the empty one is undefined.
   */
  async bindAuditKey(): Promise<void> {
    this.known = { ...(await this.resolve()), auditKeyBound: true };
    this.memory.remember(this.known);
  }

  /**
   * Chooses a free index for `role`, defines it (`define`, which fails with TPM_RC_NV_DEFINED when
   * another program took it first: the next one is tried) and records it in store.json. One
   * chooser at a time per TPM, so two stores never pick the same one.
   */
  async choose(
    role: NvRole,
    define: (index: number) => Promise<void>,
    also: Partial<NvPlacesRecord> = {},
  ): Promise<number> {
    const lock = await acquirePlaceLock(`tpm-nv-choose ${this.tpm.description}`, {
      timeoutMs: this.options.lockTimeoutMs,
      what: `the choice of an NV index on ${this.tpm.description}`,
    });
    try {
      const known = await this.resolve();
      const defined = await this.definedIndices();
      for (const index of this.candidates()) {
        if (defined.has(index) || (await this.besideAnotherStore(index, defined))) continue;
        try {
          await define(index);
        } catch (error) {
          if (error instanceof TpmResponseError && error.rc === "TPM_RC_NV_DEFINED") continue;
          throw error;
        }
        this.known = { ...known, ...also, [role]: index };
        this.memory.remember(this.known);
        return index;
      }
      throw new Error(`no free NV index left in the owner range of ${this.tpm.description}`);
    } finally {
      await lock.release();
    }
  }

  /** store.json's record, else what the version before this one did, recorded when opened to write. */
  private async resolve(): Promise<NvPlacesRecord> {
    if (this.known) return this.known;
    const recorded = this.memory.recorded();
    if (recorded) {
      this.known = recorded;
      return this.known;
    }
    const { base } = this.options;
    // That version wrote rollback.json only once its counter at I + 2 had counted; this one
    // records its counter before it counts, so rollback.json without a record is that version's.
    const counter = readCounterBase(this.directory) === null ? null : base + 2;
    // Its key sat at I + 3, unless I + 2 holds another store's area (then I + 3 is that store's).
    // A store new to store.json (or of the form before it) has none.
    let auditKey: number | null = null;
    if (this.memory.earlier) {
      const beside = await this.publicOf(base + 2);
      if (!(beside && isAreaShaped(beside)) && (await this.publicOf(base + 3))) {
        if ((await this.options.probeAuditKey(base + 3)) === "ours") auditKey = base + 3;
      }
    }
    this.known = { counter, auditKey };
    if (this.options.write && (this.memory.earlier || counter !== null)) this.memory.remember(this.known);
    return this.known;
  }

  /**
   * From the index after the areas up to the owner range's end, then from its start: a new store
   * at I with nothing around it gets I + 2 and I + 3, where the version before put them.
   */
  private *candidates(): Generator<number> {
    // The range's last base has one index after it.
    const [first, last] = [OWNER_NV_RANGE[0], OWNER_NV_RANGE[1] + 1];
    const { base } = this.options;
    for (let index = base + 2; index <= last; index++) yield index;
    for (let index = first; index < base; index++) yield index;
  }

  /** Every NV index the TPM has defined (TPM_CAP_HANDLES, asked again while it says there is more). */
  private async definedIndices(): Promise<Set<number>> {
    const found = new Set<number>();
    let from = OWNER_NV_RANGE[0];
    for (;;) {
      const { moreData, capabilityData } = await this.tpm.run(GetCapability, {
        capability: TPM_CAP.HANDLES,
        property: from,
        propertyCount: 256,
      });
      if (capabilityData.capability !== TPM_CAP.HANDLES) break;
      for (const handle of capabilityData.handles) found.add(handle);
      const last = capabilityData.handles.at(-1);
      if (!moreData || last === undefined) break;
      from = last + 1;
    }
    return found;
  }

  /**
   * Whether `index` may be the other half of another reid store's pair: a neighbour is defined with
   * the areas' shape and is not one of this store's areas. (A pair whose two areas are both
   * undefined, an erased store, cannot be seen: spec §5.7 says so.)
   */
  private async besideAnotherStore(index: number, defined: ReadonlySet<number>): Promise<boolean> {
    const { base } = this.options;
    for (const neighbour of [index - 1, index + 1]) {
      if (neighbour === base || neighbour === base + 1 || !defined.has(neighbour)) continue;
      const pub = await this.publicOf(neighbour);
      if (pub && isAreaShaped(pub)) return true;
    }
    return false;
  }

  private async publicOf(index: number): Promise<NvPublic | null> {
    try {
      return (await this.tpm.run(NV_ReadPublic, { nvIndex: index })).nvPublic;
    } catch (error) {
      if (error instanceof TpmResponseError && error.rc === "TPM_RC_HANDLE") return null;
      throw error;
    }
  }
}

/**
 * What store.json records, for a backend opened without its store (the generator of `--source
 * tpm`, a test's look at the areas): it reads, and records nothing.
 */
export function storeFilePlaces(directory: string): PlacesMemory {
  const file = readStoreFile(directory);
  return {
    recorded: () => file?.nv ?? null,
    earlier: file !== null && !file.legacy,
    remember: () => {
      throw new Error("a backend opened without its store records nothing");
    },
  };
}

/** Defined as reid defines an area (or an audit key, which has the same shape). */
function isAreaShaped(pub: NvPublic): boolean {
  const rest = (pub.attributes & ~TPMA_NV.WRITTEN) >>> 0;
  return pub.dataSize === AREA_SIZE && (rest === REID_NV_ATTRIBUTES || rest === LEGACY_NV_ATTRIBUTES);
}
