import { StorageError } from "../errors.js";
import { type DerivedKeys, deriveAll, wipe } from "./derivation.js";

/**
 * The identifier's derived keys for one operation, wiped after it (the element's keys, csr and
 * sign; an enrollment's request and renewal). The handle the record keeps must be the one
 * derived: a mismatch is a tampered store, and nothing is made, handed out or sent.
 */
export async function withDerivedKeys<T>(
  directory: string,
  identifier: Uint8Array,
  handle: string | null,
  task: (keys: DerivedKeys) => T | Promise<T>,
): Promise<T> {
  const keys = deriveAll(identifier);
  try {
    if (keys.handle !== handle) {
      throw new StorageError(
        `store ${directory} is corrupt: its handle does not belong to its identifier`,
        "store-corrupt",
      );
    }
    return await task(keys);
  } finally {
    wipe(keys);
  }
}
