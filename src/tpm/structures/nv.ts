import { sized, struct, u16, u32, type ValueOf } from "../marshal/codec.js";
import { digest2b } from "./common.js";

/** TPMS_NV_PUBLIC: an index's public area, which its name hashes. */
export const nvPublic = struct("TPMS_NV_PUBLIC", {
  nvIndex: u32,
  nameAlg: u16,
  attributes: u32,
  authPolicy: digest2b,
  dataSize: u16,
});
export type NvPublic = ValueOf<typeof nvPublic>;

/** TPMS_NV_PUBLIC inside its TPM2B: what NV_DefineSpace creates and NV_ReadPublic reports. */
export const nvPublic2b = sized("TPM2B_NV_PUBLIC", nvPublic);
