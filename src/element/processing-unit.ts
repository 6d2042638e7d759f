import type { FifoCache } from "../entropy/fifo-cache.js";
import { type IdentifierFormat, processRandom } from "../format/format.js";
import type { IdentifierStore } from "../storage/identifier-store.js";
import type { ElementMode, RecordInfo, StoredRecord } from "../storage/record.js";

/**
 * The derivation, loaded on the first commit (status never derives) and kept: an `import()` is
 * resolved again on every call, which under a loader hook costs more than the derivation itself.
 */
let derivation: Promise<typeof import("../derive/derivation.js")> | undefined;
const loadDerivation = () => {
  derivation ??= import("../derive/derivation.js").catch((error: unknown) => {
    derivation = undefined;
    throw error;
  });
  return derivation;
};

/**
 * The audit journal a commit carries (IdentifierStore's CommitOptions): the lines themselves, or a
 * callback given the new handle once it is derived, just before the commit, which records the
 * operation's intent naming it and returns the journal (docs/spec.md §9.3).
 */
export type Journal = Uint8Array | undefined | ((handle: string | null) => Uint8Array | undefined);

/**
 * Told the new identifier and its handle once drawn, before the commit (a reset's succession,
 * docs/spec.md §2.7); absent, nothing is awaited.
 */
export type BeforeCommit = (handle: string, identifier: Uint8Array) => Promise<void>;

/**
 * The processing unit: on a request signal it reads random information from the FIFO, turns it
 * into an identifier of the chosen format, and writes it to the storage area, whose commit erases
 * the old one only once the new is durable. It touches the TRNG only through the FIFO and the
 * storage area only through the store.
 */
export class ProcessingUnit {
  constructor(
    private readonly store: IdentifierStore,
    /** The FIFO, opened on first need: erase and status never start the TRNG. */
    private readonly fifo: () => Promise<FifoCache>,
  ) {}

  async writeIdentifier(
    current: RecordInfo,
    format: IdentifierFormat,
    journal?: Journal,
    before?: BeforeCommit,
  ): Promise<StoredRecord> {
    const fifo = await this.fifo();
    return this.commitIdentifier(
      current,
      format,
      "random",
      await processRandom(format, (length) => fifo.read(length)),
      journal,
      before,
    );
  }

  /**
   * Factory mode: the identifier of `format` from the factory source's root (the PUF path instead
   * of the TRNG), committed with the mode in the same record.
   */
  async writeFactoryIdentifier(
    current: RecordInfo,
    format: IdentifierFormat,
    root: Uint8Array,
    journal?: Journal,
  ): Promise<StoredRecord> {
    const { factoryIdentifier } = await import("../factory/identifier.js");
    const identifier = await factoryIdentifier(root, format);
    return this.commitIdentifier(current, format, "factory", identifier, journal);
  }

  private async commitIdentifier(
    current: RecordInfo,
    format: IdentifierFormat,
    mode: ElementMode,
    identifier: Uint8Array,
    journal: Journal,
    before?: BeforeCommit,
  ): Promise<StoredRecord> {
    try {
      // The handle goes into the record with the identifier, so status never derives a key.
      const { deriveHandle } = await loadDerivation();
      const handle = deriveHandle(identifier);
      if (before) await before(handle, identifier);
      const lines = journalFor(journal, handle);
      const next = {
        state: "set",
        generation: current.generation + 1,
        format,
        singleType: current.singleType,
        mode,
        handle,
        identifier,
      } as const;
      return await this.store.commit(next, lines ? { journal: lines } : {});
    } finally {
      identifier.fill(0);
    }
  }

  eraseIdentifier(current: RecordInfo, journal?: Journal): Promise<StoredRecord> {
    const blank = { ...current, state: "blank", handle: null, identifier: null } as const;
    const lines = journalFor(journal, null);
    return this.store.commit(blank, lines ? { journal: lines } : {});
  }

  /** Commits `current` again with `change` (settings); through a sealing store this also seals it. */
  configure(current: StoredRecord, change: { readonly singleType?: boolean }): Promise<StoredRecord> {
    return this.store.commit({ ...current, ...change });
  }
}

/** The lines a commit carries, asking for them (and so recording the intent) given its handle. */
function journalFor(journal: Journal, handle: string | null): Uint8Array | undefined {
  return typeof journal === "function" ? journal(handle) : journal;
}
