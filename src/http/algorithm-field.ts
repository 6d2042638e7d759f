import { signingAlgorithm } from "../element/inputs.js";
import { UsageError } from "../errors.js";
import { custom } from "./schema.js";

/**
 * A signing algorithm as a client sent it (the daemon's `csr`, `sign`, an enrollment's request):
 * checked as the CLI checks --alg, echoed only when short.
 */
export const algorithmField = custom(
  "ed25519 | p256 (default ed25519)",
  (value) => {
    if (value === undefined || (typeof value === "string" && value.length <= 32))
      return signingAlgorithm(value);
    throw new UsageError("'algorithm' must be ed25519 or p256");
  },
  { optional: true },
);
