import { defineCommand } from "../command.js";
import { TPM_CC } from "../constants.js";
import { u16 } from "../marshal/codec.js";

/** TPM2_Startup (Part 3, 9.3): startupType is TPM_SU_CLEAR or TPM_SU_STATE. */
export const Startup = defineCommand({
  name: "TPM2_Startup",
  code: TPM_CC.Startup,
  handles: [],
  parameters: { startupType: u16 },
  responseHandles: [],
  response: {},
});

/** TPM2_Shutdown (Part 3, 9.4). */
export const Shutdown = defineCommand({
  name: "TPM2_Shutdown",
  code: TPM_CC.Shutdown,
  handles: [],
  parameters: { shutdownType: u16 },
  responseHandles: [],
  response: {},
});
