import { sized, struct, u16, u32 } from "../marshal/codec.js";
import { digest2b } from "./common.js";

/** TPMS_NV_PUBLIC inside its TPM2B: what NV_DefineSpace creates and NV_ReadPublic reports. */
export const nvPublic2b = sized(
  "TPM2B_NV_PUBLIC",
  struct("TPMS_NV_PUBLIC", {
    nvIndex: u32,
    nameAlg: u16,
    attributes: u32,
    authPolicy: digest2b,
    dataSize: u16,
  }),
);
