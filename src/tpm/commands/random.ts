import { defineCommand } from "../command.js";
import { TPM_CC } from "../constants.js";
import { u16 } from "../marshal/codec.js";
import { digest2b } from "../structures/common.js";

/** TPM2_GetRandom (Part 3, 16.1): at most one digest's worth of bytes per call. */
export const GetRandom = defineCommand({
  name: "TPM2_GetRandom",
  code: TPM_CC.GetRandom,
  handles: [],
  parameters: { bytesRequested: u16 },
  responseHandles: [],
  response: { randomBytes: digest2b },
});
