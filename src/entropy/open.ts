import { UsageError } from "../errors.js";
import { DeviceSource } from "./device-source.js";
import { FifoCache } from "./fifo-cache.js";
import { OsMixedSource } from "./os-mixed-source.js";
import { OsSource } from "./os-source.js";
import type { EntropySource } from "./source.js";
import { type SourceSpec, sourceName } from "./source-spec.js";
import { TrngModule } from "./trng-module.js";

/**
 * The source a spec names. A backend's generator comes from the backend the store opened (the
 * caller checked it is the one named), mixed with the OS generator when asked.
 */
export function openSource(spec: SourceSpec, generator?: () => EntropySource): EntropySource {
  switch (spec.kind) {
    case "os":
      return new OsSource();
    case "device":
      return new DeviceSource(spec.path, spec.minEntropy);
    case "backend": {
      if (!generator)
        throw new UsageError(`--source ${sourceName(spec)} needs the store's backend to open it`);
      const source = generator();
      return spec.mixOs ? new OsMixedSource(source) : source;
    }
  }
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
