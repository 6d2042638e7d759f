import type { Actor } from "../auth/actor.js";
import { UsageError } from "../errors.js";
import type { IdentifierStore, LoadOptions } from "../storage/identifier-store.js";
import type { SealingControl } from "../storage/sealing/control.js";
import type { SealingKeyKind } from "../storage/sealing/key-home.js";
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
   * Makes the store seal under `key` (default: the key-encryption key it was opened with): an
   * identifier stored in clear is committed again sealed (same identifier, generation and handle),
   * and a blank store keeps sealing from now on. On a store that already seals there, the key is
   * checked, not trusted. `rotate`: re-sealed under a new key (docs/spec.md §5.4).
   */
  seal(actor: Actor, key: SealingKeyKind | null = null, rotate = false): Promise<void> {
    return this.operate(rotate ? "seal-rotate" : "seal", actor, async () => {
      const sealing = this.sealing();
      // The store's own checks first: another store's record, a lost one.
      await this.store.info();
      if (rotate) await sealing.rotate(key);
      else await sealing.seal(key);
    });
  }

  /**
   * Commits the record again as it is (same identifier, generation, handle): the TPM backend's
   * move to a new PIN's authValue, which the commit's new index is defined under.
   */
  recommitSame(): Promise<void> {
    return this.recommit({}, { acceptUnsealed: true });
  }

  /** Commits the identifier in clear again and destroys the key that sealed it. */
  unseal(actor: Actor): Promise<void> {
    return this.operate("unseal", actor, async () => {
      const sealing = this.sealing();
      await this.store.info();
      await sealing.unseal();
    });
  }

  private sealing(): SealingControl {
    if (!this.store.sealing) throw new UsageError("this element's store cannot change its sealing");
    return this.store.sealing;
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
