import { DeviceSource } from "./device-source.js";
import { FifoCache } from "./fifo-cache.js";
import { OsSource } from "./os-source.js";
import type { EntropySource } from "./source.js";
import type { SourceSpec } from "./source-spec.js";
import { TrngModule } from "./trng-module.js";

export function openSource(spec: SourceSpec): EntropySource {
  return spec.kind === "os" ? new OsSource() : new DeviceSource(spec.path, spec.minEntropy);
}

export interface RandomSupply {
  readonly fifo: FifoCache;
  readonly trng: TrngModule;
  /** Zeroes the FIFO and closes the source. */
  close(): Promise<void>;
}

/** Identifiers draw little and leave nothing behind; streams draw the whole ring at a time. */
export const SUPPLY_PROFILES = {
  identifier: { capacity: 4096, refill: 64 },
  stream: { capacity: 1 << 18, refill: 1 << 18 },
} as const;

/** Source -> health-tested TRNG module -> FIFO, with the FIFO's ring in the tests' own memory. */
export function openRandomSupply(
  source: EntropySource,
  profile: { readonly capacity: number; readonly refill: number },
): RandomSupply {
  const trng = TrngModule.over(source, profile.capacity);
  const fifo = new FifoCache(trng, trng.allocate(profile.capacity), profile.refill);
  return {
    fifo,
    trng,
    close: async () => {
      fifo.clear();
      await trng.close();
    },
  };
}
