import { defineCommand } from "../command.js";
import { TPM_CC } from "../constants.js";
import { creationData2b, data2b, digest2b, name2b, pcrSelectionList, ticket } from "../structures/common.js";
import { private2b, sensitiveData2b } from "../structures/private.js";
import { public2b, sensitiveCreate2b } from "../structures/public.js";

/**
 * TPM2_Create (Part 3, 12.1): an ordinary object under a loaded parent, handed back wrapped by
 * the parent (outPrivate) rather than loaded. inSensitive, the first parameter, carries the data
 * a sealed object will hold: on a session it travels encrypted.
 */
export const Create = defineCommand({
  name: "TPM2_Create",
  code: TPM_CC.Create,
  handles: [{ name: "parentHandle", auth: true }],
  parameters: {
    inSensitive: sensitiveCreate2b,
    inPublic: public2b,
    outsideInfo: data2b,
    creationPCR: pcrSelectionList,
  },
  responseHandles: [],
  response: {
    outPrivate: private2b,
    outPublic: public2b,
    creationData: creationData2b,
    creationHash: digest2b,
    creationTicket: ticket,
  },
});

/** TPM2_Load (Part 3, 12.2): an object Create made, back into the TPM under the same parent. */
export const Load = defineCommand({
  name: "TPM2_Load",
  code: TPM_CC.Load,
  handles: [{ name: "parentHandle", auth: true }],
  parameters: { inPrivate: private2b, inPublic: public2b },
  responseHandles: ["objectHandle"],
  response: { name: name2b },
});

/**
 * TPM2_Unseal (Part 3, 12.7): the data of a loaded sealed data object. outData is the response's
 * first parameter: on a session with the encrypt attribute it leaves the TPM encrypted.
 */
export const Unseal = defineCommand({
  name: "TPM2_Unseal",
  code: TPM_CC.Unseal,
  handles: [{ name: "itemHandle", auth: true }],
  parameters: {},
  responseHandles: [],
  response: { outData: sensitiveData2b },
});
