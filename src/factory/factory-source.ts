/**
 * The factory side of the patent's mode switch (claims 20 and 26): in factory mode the identifier
 * comes from a source fixed when the device was made, not from the TRNG. Every source gives a
 * 32-byte factory root; the element turns it into an identifier of its format (identifier.ts).
 */
export type FactoryKind = "puf-sim" | "tpm" | "host";
export const FACTORY_KINDS: readonly FactoryKind[] = ["puf-sim", "tpm", "host"];

export interface FactorySource {
  readonly kind: FactoryKind;
  /**
   * Makes the source ready, once, at the factory (init --factory): a PUF enrols and keeps its
   * helper data in the store. Doing it again keeps what is there.
   */
  provision(): Promise<void>;
  /**
   * The factory root: 32 bytes the device fixes, the same every time; the caller zeroes it. A
   * FactoryError when the source cannot give it, never a different root.
   */
  root(): Promise<Uint8Array>;
}
