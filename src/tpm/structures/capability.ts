import { TPM_CAP } from "../constants.js";
import { list, struct, tagged, u16, u32, type ValueOf } from "../marshal/codec.js";
import { pcrSelectionList } from "./common.js";

/** TPMS_CAPABILITY_DATA: the capability selects which list follows. */
export const capabilityData = tagged("TPMS_CAPABILITY_DATA", "capability", u32, {
  [TPM_CAP.ALGS]: struct("TPML_ALG_PROPERTY", {
    algorithms: list("TPML_ALG_PROPERTY", struct("TPMS_ALG_PROPERTY", { alg: u16, algProperties: u32 })),
  }),
  [TPM_CAP.HANDLES]: struct("TPML_HANDLE", { handles: list("TPML_HANDLE", u32) }),
  [TPM_CAP.COMMANDS]: struct("TPML_CCA", { commands: list("TPML_CCA", u32) }),
  [TPM_CAP.PCRS]: struct("TPML_PCR_SELECTION", { assignedPCR: pcrSelectionList }),
  [TPM_CAP.TPM_PROPERTIES]: struct("TPML_TAGGED_TPM_PROPERTY", {
    properties: list(
      "TPML_TAGGED_TPM_PROPERTY",
      struct("TPMS_TAGGED_PROPERTY", { property: u32, value: u32 }),
    ),
  }),
  [TPM_CAP.ECC_CURVES]: struct("TPML_ECC_CURVE", { curves: list("TPML_ECC_CURVE", u16) }),
});
export type CapabilityData = ValueOf<typeof capabilityData>;
