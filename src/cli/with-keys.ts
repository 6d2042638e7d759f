import { type DerivedKeys, deriveAll, wipe } from "../derive/derivation.js";
import { StorageError, UsageError } from "../errors.js";
import type { CliContext } from "./context.js";
import { withElement } from "./with-element.js";

/**
 * Derives the element's keys for one command and wipes them after. The stored handle must match
 * the one derived: a mismatch means the record was tampered with, and nothing is handed out.
 */
export function withKeys<T>(context: CliContext, task: (keys: DerivedKeys) => T | Promise<T>): Promise<T> {
  return withElement(context, "read", (control) =>
    control.useIdentifier(async (identifier, record) => {
      const keys = deriveAll(identifier);
      try {
        if (keys.handle !== record.handle) {
          throw new StorageError(
            `store ${context.storeDirectory} is corrupt: its handle does not belong to its identifier`,
            "store-corrupt",
          );
        }
        return await task(keys);
      } finally {
        wipe(keys);
      }
    }),
  );
}

export const SIGNING_ALGORITHMS = ["ed25519", "p256"] as const;
export type SigningChoice = (typeof SIGNING_ALGORITHMS)[number];

/** --alg for signing commands: ed25519 (default) or p256. */
export function signingAlgorithm(value: string | boolean | undefined): SigningChoice {
  if (value === undefined) return "ed25519";
  if (value === "ed25519" || value === "p256") return value;
  throw new UsageError(`bad --alg '${String(value)}': expected ed25519 or p256`);
}
