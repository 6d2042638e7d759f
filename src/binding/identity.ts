import { deriveKeys, deriveStorageKey, wipe } from "../derive/derivation.js";
import { BindingsFile } from "./bindings-file.js";
import type { X25519Pair } from "./hpke/suite.js";
import { type BindingKeys, type Party, partyOf } from "./parties.js";

/** This element as a binding party, for one operation: its keys and its sealed bindings file. */
export interface Identity {
  readonly party: Party;
  /** The X25519 pair itself: HPKE (telemetry) takes raw keys, not OpenSSL objects. */
  readonly x25519: X25519Pair;
  readonly file: BindingsFile;
}

/**
 * Derives the binding keys and the bindings file's key from the identifier for one task, and wipes
 * both after: nothing derived outlives the operation, so a reset leaves no old key in memory.
 */
export async function withIdentity<T>(
  directory: string,
  identifier: Uint8Array,
  task: (identity: Identity) => T | Promise<T>,
): Promise<T> {
  const keys = deriveKeys(identifier, ["ed25519", "x25519"]) as BindingKeys;
  const storageKey = deriveStorageKey(identifier, "bindings");
  try {
    // The sealer and the key objects take their own copies: ours are zeroed below.
    const file = new BindingsFile(directory, keys.handle, storageKey);
    return await task({ party: partyOf(keys), x25519: keys.x25519, file });
  } finally {
    wipe(keys);
    storageKey.fill(0);
  }
}
