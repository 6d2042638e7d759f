import type { Actor } from "../auth/actor.js";
import { UsageError } from "../errors.js";
import type { IdentifierStore, LoadOptions } from "../storage/identifier-store.js";
import type { Operate } from "./owner-gate.js";
import type { ProcessingUnit } from "./processing-unit.js";

/**
 * The element's settings that travel in the record beside the identifier: single-type mode and
 * sealing. Changing one commits the record again; the identifier, its generation and its handle
 * stay as they are.
 */
export class Settings {
  constructor(
    private readonly store: IdentifierStore,
    private readonly processing: ProcessingUnit,
    private readonly operate: Operate,
  ) {}

  /** Turns single-type mode on or off ("single-type": every request is a reset). */
  setSingleType(on: boolean, actor: Actor): Promise<void> {
    return this.operate(`single-type-${on ? "on" : "off"}`, actor, async () => {
      if ((await this.store.info()).singleType !== on) await this.recommit({ singleType: on });
    });
  }

  /**
   * Makes the store seal under the key-encryption key it was opened with: an identifier stored in
   * clear is committed again sealed (same identifier, generation and handle), and a blank store
   * keeps sealing from now on. On a store that already seals, the key is checked, not trusted.
   */
  seal(actor: Actor): Promise<void> {
    return this.operate("seal", actor, async () => {
      if (this.store.sealingKeyId === null) {
        throw new UsageError(
          "this element was opened without a key-encryption key: give one with --kek-file (to 'reid serve', when a daemon serves the store)",
        );
      }
      if (!(await this.store.info()).sealed) await this.recommit({}, { acceptUnsealed: true });
      // Opening the sealed identifier proves the key (store-key-wrong otherwise).
      else (await this.store.load()).identifier?.fill(0);
    });
  }

  /**
   * Commits the record again as it is (same identifier, generation, handle): the TPM backend's
   * move to a new PIN's authValue, which the commit's new index is defined under.
   */
  recommitSame(): Promise<void> {
    return this.recommit({}, { acceptUnsealed: true });
  }

  private async recommit(change: { readonly singleType?: boolean }, options?: LoadOptions): Promise<void> {
    const current = await this.store.load(options);
    try {
      (await this.processing.configure(current, change)).identifier?.fill(0);
    } finally {
      current.identifier?.fill(0);
    }
  }
}
