import { defineCommand } from "../command.js";
import { TPM_CC } from "../constants.js";

/** TPM2_Clear (Part 3, 24.6): authHandle is TPM_RH_LOCKOUT or TPM_RH_PLATFORM. */
export const Clear = defineCommand({
  name: "TPM2_Clear",
  code: TPM_CC.Clear,
  handles: [{ name: "authHandle", auth: true }],
  parameters: {},
  responseHandles: [],
  response: {},
});
