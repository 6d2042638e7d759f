// The IdentifierStore contract (conformance.ts) against every backend of backends.ts.
import { STORE_BACKENDS } from "./backends.js";
import { describeIdentifierStore } from "./conformance.js";

for (const backend of STORE_BACKENDS) describeIdentifierStore(backend);
