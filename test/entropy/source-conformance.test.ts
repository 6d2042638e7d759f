// The EntropySource contract (source-conformance.ts) against every source of sources.ts.
import { describeEntropySource } from "./source-conformance.js";
import { SOURCE_BACKENDS } from "./sources.js";

for (const backend of SOURCE_BACKENDS) describeEntropySource(backend);
