import { defineCommand } from "../command.js";
import { TPM_CC } from "../constants.js";
import { u16 } from "../marshal/codec.js";
import { auth2b, name2b, nvBuffer2b } from "../structures/common.js";
import { nvPublic2b } from "../structures/nv.js";

/** TPM2_NV_DefineSpace (Part 3, 31.3): authHandle is TPM_RH_OWNER or TPM_RH_PLATFORM. */
export const NV_DefineSpace = defineCommand({
  name: "TPM2_NV_DefineSpace",
  code: TPM_CC.NV_DefineSpace,
  handles: [{ name: "authHandle", auth: true }],
  parameters: { auth: auth2b, publicInfo: nvPublic2b },
  responseHandles: [],
  response: {},
});

/** TPM2_NV_UndefineSpace (Part 3, 31.4). */
export const NV_UndefineSpace = defineCommand({
  name: "TPM2_NV_UndefineSpace",
  code: TPM_CC.NV_UndefineSpace,
  handles: [{ name: "authHandle", auth: true }, { name: "nvIndex" }],
  parameters: {},
  responseHandles: [],
  response: {},
});

/**
 * TPM2_NV_ReadPublic (Part 3, 31.6): public data, and how an index's name is learned, which a
 * session's cpHash would need first; so it carries no session.
 */
export const NV_ReadPublic = defineCommand({
  name: "TPM2_NV_ReadPublic",
  code: TPM_CC.NV_ReadPublic,
  handles: [{ name: "nvIndex" }],
  parameters: {},
  responseHandles: [],
  response: { nvPublic: nvPublic2b, nvName: name2b },
  session: false,
});

/** TPM2_NV_Write (Part 3, 31.7): authHandle is the owner, the platform, or the index itself. */
export const NV_Write = defineCommand({
  name: "TPM2_NV_Write",
  code: TPM_CC.NV_Write,
  handles: [{ name: "authHandle", auth: true }, { name: "nvIndex" }],
  parameters: { data: nvBuffer2b, offset: u16 },
  responseHandles: [],
  response: {},
});

/**
 * TPM2_NV_Increment (Part 3, 31.8): adds one to a TPM_NT_COUNTER index. The first increment sets
 * it to at least the highest value any counter of the TPM ever held, so it never goes back, not
 * even when the index is undefined and defined again.
 */
export const NV_Increment = defineCommand({
  name: "TPM2_NV_Increment",
  code: TPM_CC.NV_Increment,
  handles: [{ name: "authHandle", auth: true }, { name: "nvIndex" }],
  parameters: {},
  responseHandles: [],
  response: {},
});

/** TPM2_NV_Read (Part 3, 31.13). */
export const NV_Read = defineCommand({
  name: "TPM2_NV_Read",
  code: TPM_CC.NV_Read,
  handles: [{ name: "authHandle", auth: true }, { name: "nvIndex" }],
  parameters: { size: u16, offset: u16 },
  responseHandles: [],
  response: { data: nvBuffer2b },
});
