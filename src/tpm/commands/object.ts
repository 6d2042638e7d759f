import { defineCommand } from "../command.js";
import { TPM_CC } from "../constants.js";
import { u32 } from "../marshal/codec.js";
import { creationData2b, data2b, digest2b, name2b, pcrSelectionList, ticket } from "../structures/common.js";
import { eccPoint2b, public2b, sensitiveCreate2b } from "../structures/public.js";
import { signature, sigScheme } from "../structures/signature.js";

/** TPM2_CreatePrimary (Part 3, 24.1): a key derived from the hierarchy's seed and the template. */
export const CreatePrimary = defineCommand({
  name: "TPM2_CreatePrimary",
  code: TPM_CC.CreatePrimary,
  handles: [{ name: "primaryHandle", auth: true }],
  parameters: {
    inSensitive: sensitiveCreate2b,
    inPublic: public2b,
    outsideInfo: data2b,
    creationPCR: pcrSelectionList,
  },
  responseHandles: ["objectHandle"],
  response: {
    outPublic: public2b,
    creationData: creationData2b,
    creationHash: digest2b,
    creationTicket: ticket,
    name: name2b,
  },
});

/** TPM2_ReadPublic (Part 3, 12.4). */
export const ReadPublic = defineCommand({
  name: "TPM2_ReadPublic",
  code: TPM_CC.ReadPublic,
  handles: [{ name: "objectHandle" }],
  parameters: {},
  responseHandles: [],
  response: { outPublic: public2b, name: name2b, qualifiedName: name2b },
  // Public data, and how an object's name is learned: no session (as NV_ReadPublic).
  session: false,
});

/** TPM2_FlushContext (Part 3, 28.4): the handle travels as a parameter, not in the handle area. */
export const FlushContext = defineCommand({
  name: "TPM2_FlushContext",
  code: TPM_CC.FlushContext,
  handles: [],
  parameters: { flushHandle: u32 },
  responseHandles: [],
  response: {},
  // No command that manages contexts may carry a session (TPM_RC_AUTH_CONTEXT).
  session: false,
});

/** TPM2_Sign (Part 3, 20.2): validation is a hash-check ticket, or a NULL one for unrestricted keys. */
export const Sign = defineCommand({
  name: "TPM2_Sign",
  code: TPM_CC.Sign,
  handles: [{ name: "keyHandle", auth: true }],
  parameters: { digest: digest2b, inScheme: sigScheme, validation: ticket },
  responseHandles: [],
  response: { signature },
});

/** TPM2_ECDH_ZGen (Part 3, 14.5): the key's private scalar times inPoint (an unrestricted decrypt key). */
export const ECDH_ZGen = defineCommand({
  name: "TPM2_ECDH_ZGen",
  code: TPM_CC.ECDH_ZGen,
  handles: [{ name: "keyHandle", auth: true }],
  parameters: { inPoint: eccPoint2b },
  responseHandles: [],
  response: { outPoint: eccPoint2b },
});
