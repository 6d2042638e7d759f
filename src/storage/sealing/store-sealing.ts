import { ReidError, StateError, StorageError, UsageError } from "../../errors.js";
import type { DualAreaStore } from "../dual-area-store.js";
import type { Sealer } from "../sealer.js";
import type { StoreMemory } from "../store-memory.js";
import type { SealingControl } from "./control.js";
import {
  newKeyId,
  type SealingKeyHome,
  type SealingKeyKind,
  type SealingKeyRef,
  sealingKeyName,
} from "./key-home.js";

/** A key to seal under: a new one made in the backend's home, or a key-encryption key given. */
type SealingTarget = { readonly key: "tpm" | "pkcs11" } | { readonly key: "kek"; readonly sealer: Sealer };

/**
 * A store's sealing: which key seals it (store.json's `sealing`), opening that key where it lives
 * when the identifier is first needed, and changing it crash-atomically. A change (seal, rotate,
 * unseal) runs: store.json notes the change (`pending`, the new key's id chosen first); the new key
 * made durable; the record committed under the new key (or in clear); store.json names the new
 * key; the old key destroyed. A crash anywhere leaves a record that opens under the old key or the
 * new one, and the old key exists while the change is noted; the next writer finds which (the
 * record says, or for a blank record either will do) and finishes the change or rolls it back; a
 * reader just uses it. A key a crash kept after its successor was named is swept by a writer.
 * Specified in docs/spec.md §5.4.
 */
export class StoreSealing implements SealingControl {
  private prepared: Promise<void> | null = null;

  constructor(
    private readonly store: DualAreaStore,
    private readonly memory: StoreMemory,
    /** The backend's home for keys (TPM, token), if it has one. */
    private readonly home: SealingKeyHome | null,
    /** The key-encryption key the command was given (--kek-file), if any. */
    private readonly kek: Sealer | null,
    private readonly write: boolean,
    /** The new key-encryption key of a rotation (`seal --rotate --new-kek-file`), if any. */
    private readonly newKek: Sealer | null = null,
  ) {}

  /** The id status shows: the key store.json names, else a key-encryption key given. */
  keyId(): string | null {
    return this.keyRef()?.id ?? null;
  }

  keyRef(): SealingKeyRef | null {
    return this.memory.sealing.key ?? (this.kek ? { key: "kek", id: this.kek.keyId } : null);
  }

  /** A writer settles a change a crash left noted before anything else reads the store. */
  async settle(): Promise<void> {
    if (this.write && this.memory.sealing.pending) await this.prepare();
  }

  /**
   * After a commit: a store sealed by a commit under a key-encryption key (init --kek-file), which
   * the commit proved, is named in store.json from then on. Best effort: the commit stands.
   */
  committed(sealed: boolean): void {
    const { key, pending } = this.memory.sealing;
    if (!this.write || !sealed || key !== null || pending !== null || this.kek === null) return;
    try {
      this.memory.rememberSealing({ key: "kek", id: this.kek.keyId }, null);
    } catch {}
  }

  /** Opens the key in force, once, settling a change a crash left half-done (writers only). */
  prepare(): Promise<void> {
    this.prepared ??= this.resolve().catch((error: unknown) => {
      this.prepared = null;
      throw error;
    });
    return this.prepared;
  }

  async current(): Promise<SealingKeyRef | null> {
    await this.prepare();
    const info = await this.store.info();
    if (!info.sealed) return null;
    const key = this.memory.sealing.key ?? (this.kek ? { key: "kek" as const, id: this.kek.keyId } : null);
    // A store sealed before store.json named keys, opened without its key.
    if (key === null) throw keyMissing(this.store.directory);
    return key;
  }

  async seal(key: SealingKeyKind | null): Promise<void> {
    const target = this.target(
      key ?? "kek",
      this.kek,
      "'reid seal' needs a key-encryption key (--kek-file FILE or REID_KEK_FILE; given to 'reid serve' when a daemon serves the store), or --key tpm|pkcs11",
    );
    const current = await this.current();
    if (current === null) return this.change(null, target);
    if (current.key !== target.key) {
      throw new StateError(
        "already-sealed",
        `the store is sealed under ${sealingKeyName(current.key)} (key ${current.id}): 'reid seal --rotate' moves it to another key`,
      );
    }
    // Sealed there already: opening the identifier proves the key (store-key-wrong otherwise).
    (await this.store.load()).identifier?.fill(0);
  }

  async rotate(key: SealingKeyKind | null): Promise<void> {
    const current = await this.current();
    if (current === null) throw notSealed("'reid seal --rotate'");
    const target =
      key === null
        ? null
        : this.target(
            key,
            this.newKek,
            "'reid seal --rotate' to a key-encryption key needs it: --new-kek-file FILE",
          );
    if (target === null) {
      if (current.key === "kek") {
        throw new UsageError(
          "the store is sealed under a key-encryption key: give the new one, 'reid seal --rotate --new-kek-file FILE', or another home with --key tpm|pkcs11",
        );
      }
      return this.change(current, { key: current.key });
    }
    if (target.key === "kek" && target.sealer.keyId === current.id) {
      throw new UsageError("the new key-encryption key is the one that seals the store already");
    }
    return this.change(current, target);
  }

  async unseal(): Promise<void> {
    const current = await this.current();
    if (current === null) throw notSealed("'reid unseal'");
    return this.change(current, null);
  }

  /** A key to seal under: a new one in home `key`, or the key-encryption key `kek`. */
  private target(key: SealingKeyKind, kek: Sealer | null, missing: string): SealingTarget {
    if (key !== "kek") return { key };
    if (kek === null) throw new UsageError(missing);
    return { key, sealer: kek };
  }

  /** The crash-atomic change from the key in force (null: in clear) to `target` (null: in clear). */
  private async change(from: SealingKeyRef | null, target: SealingTarget | null): Promise<void> {
    this.requireWrite();
    // A home this store has not (a TPM key on a token's store) is refused before anything is noted.
    const home = target && target.key !== "kek" ? this.homeFor(target.key) : null;
    // The identifier must open under the key in force before anything is made.
    (await this.store.load({ acceptUnsealed: from === null })).identifier?.fill(0);
    const to: SealingKeyRef | null =
      target === null
        ? null
        : { key: target.key, id: target.key === "kek" ? target.sealer.keyId : newKeyId() };
    // The change is noted before the new key is made: a crash from here on leaves what the next
    // writer settles (a key that was never made counts as not at hand, and the change rolls back).
    this.memory.rememberSealing(from, { to });
    const sealer =
      target === null || to === null
        ? null
        : target.key === "kek"
          ? target.sealer
          : await (home as SealingKeyHome).create(to.id);
    await this.store.reseal(sealer);
    this.memory.afterCommit();
    this.memory.rememberSealing(to, null);
    if (from) await this.destroy(from);
  }

  /** Finds the key in force; a change a crash left noted is finished or rolled back. */
  private async resolve(): Promise<void> {
    const { key, pending } = this.memory.sealing;
    if (!pending) {
      this.store.useSealer(await this.sealerOf(key));
      // A key a crash kept from its destruction (after store.json named its successor) goes now.
      if (this.write && this.home) await this.home.sweep(key?.key === this.home.kind ? key.id : null);
      return;
    }
    const before = await this.sealerOf(key).catch(unavailable);
    const after = pending.to ? await this.sealerOf(pending.to).catch(unavailable) : null;
    const info = await this.store.info();
    let forward: boolean;
    if (info.state === "set" && info.sealed) {
      if (after && (await this.store.opensWith(after))) forward = true;
      else if (before && (await this.store.opensWith(before))) forward = false;
      // Neither key at hand opens it: the one in force, as without a change, says why.
      else {
        this.store.useSealer(await this.sealerOf(key));
        return;
      }
    } else if (info.state === "set") {
      forward = pending.to === null;
      if (!forward && key !== null) {
        throw new StorageError(
          `store ${this.store.directory} holds its identifier in clear, though store.json says it is sealed: its record was replaced`,
          "store-not-sealed",
        );
      }
    } else if (pending.to === null) {
      forward = !info.sealed;
    } else if (key === null) {
      forward = info.sealed;
    } else {
      // A blank record seals nothing: either key is right; the one at hand is taken.
      forward = after !== null;
    }
    this.store.useSealer(forward ? after : before);
    if (!this.write) return;
    if (forward) {
      this.memory.rememberSealing(pending.to, null);
      if (key) await this.destroy(key);
    } else {
      this.memory.rememberSealing(key, null);
      if (pending.to) await this.destroy(pending.to);
    }
  }

  /** The sealer of key `ref` (null: the store's identifier in clear, or a key-encryption key given). */
  private async sealerOf(ref: SealingKeyRef | null): Promise<Sealer | null> {
    if (ref === null) return this.kek;
    if (ref.key === "kek") {
      if (!this.kek) throw keyMissing(this.store.directory);
      if (this.kek.keyId !== ref.id) {
        throw new StorageError(
          `cannot open the identifier sealed in store ${this.store.directory}: wrong key-encryption key (it is sealed under key ${ref.id}, the key given is ${this.kek.keyId})`,
          "store-key-wrong",
        );
      }
      return this.kek;
    }
    return this.homeFor(ref.key).open(ref.id);
  }

  /** A key-encryption key is the user's file: reid forgets it, and never removes the file. */
  private async destroy(ref: SealingKeyRef): Promise<void> {
    if (ref.key !== "kek") await this.homeFor(ref.key).destroy(ref.id);
  }

  private homeFor(kind: "tpm" | "pkcs11"): SealingKeyHome {
    if (this.home?.kind === kind) return this.home;
    throw new UsageError(
      `a sealing key ${kind === "tpm" ? "in the TPM needs the TPM backend (--tpm)" : "in a token needs the PKCS#11 backend (--pkcs11)"}: this store keeps its identifier elsewhere`,
    );
  }

  private requireWrite(): void {
    if (!this.write) throw new Error("a change of sealing key needs a writer");
  }
}

/** A candidate key that is not at hand during a change is simply not tried. */
function unavailable(error: unknown): null {
  if (error instanceof ReidError && (error.code === "store-key-missing" || error.code === "store-key-wrong"))
    return null;
  throw error;
}

function keyMissing(directory: string): StorageError {
  return new StorageError(
    `store ${directory} is sealed: give its key-encryption key with --kek-file or REID_KEK_FILE`,
    "store-key-missing",
  );
}

function notSealed(what: string): StateError {
  return new StateError("not-sealed", `${what}: the store's identifier is not sealed`);
}
