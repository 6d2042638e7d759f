import { GetCapability } from "./commands/capability.js";
import { TPM_CAP } from "./constants.js";
import type { Tpm } from "./tpm.js";

/**
 * TPM properties (TPM_CAP_TPM_PROPERTIES) from `first` on, at most `count`: a TPM may answer in
 * parts (moreData), so this asks again from after the last property it got.
 */
export async function readProperties(tpm: Tpm, first: number, count: number): Promise<Map<number, number>> {
  const found = new Map<number, number>();
  let next = first;
  const end = first + count;
  while (next < end) {
    const { moreData, capabilityData } = await tpm.run(GetCapability, {
      capability: TPM_CAP.TPM_PROPERTIES,
      property: next,
      propertyCount: end - next,
    });
    if (capabilityData.capability !== TPM_CAP.TPM_PROPERTIES) break;
    const properties = capabilityData.properties.filter((p) => p.property >= next && p.property < end);
    for (const { property, value } of properties) found.set(property, value);
    const last = properties.at(-1);
    if (!moreData || !last) break;
    next = last.property + 1;
  }
  return found;
}
