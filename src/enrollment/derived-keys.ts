import { type DerivedKeys, deriveAll, wipe } from "../derive/derivation.js";
import { StorageError } from "../errors.js";

/**
 * The identifier's derived keys for one enrollment step, wiped after it. The handle the record
 * keeps must be the one derived: a mismatch is a tampered store, and nothing is made or sent.
 */
export async function withDerivedKeys<T>(
  directory: string,
  identifier: Uint8Array,
  handle: string | null,
  task: (keys: DerivedKeys) => Promise<T>,
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
