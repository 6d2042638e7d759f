import { defineCommand } from "../command.js";
import { TPM_CC } from "../constants.js";
import { u8, u32 } from "../marshal/codec.js";
import { capabilityData } from "../structures/capability.js";

/** TPM2_GetCapability (Part 3, 30.2). */
export const GetCapability = defineCommand({
  name: "TPM2_GetCapability",
  code: TPM_CC.GetCapability,
  handles: [],
  parameters: { capability: u32, property: u32, propertyCount: u32 },
  responseHandles: [],
  response: { moreData: u8, capabilityData },
});
