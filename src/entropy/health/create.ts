import type { Cutoffs } from "./cutoffs.js";
import type { HealthTests } from "./health-tests.js";
import { ReferenceHealthTests } from "./reference.js";
import { SimdHealthTests, simdAvailable } from "./simd.js";

/** The fastest conforming implementation this runtime has; `arena` bytes can be checked in place. */
export function createHealthTests(cutoffs: Cutoffs, arena = 0): HealthTests {
  return simdAvailable() ? new SimdHealthTests(cutoffs, arena) : new ReferenceHealthTests(cutoffs);
}
