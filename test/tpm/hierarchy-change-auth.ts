import { defineCommand } from "../../src/tpm/command.js";
import { auth2b } from "../../src/tpm/structures/common.js";

/**
 * TPM2_HierarchyChangeAuth (Part 3, 24.8), which the client does not need and so does not ship:
 * declared here for the tests, which the declarative engine makes one definition, to give the
 * owner a password.
 */
export const HierarchyChangeAuth = defineCommand({
  name: "TPM2_HierarchyChangeAuth",
  code: 0x129,
  handles: [{ name: "authHandle", auth: true }],
  parameters: { newAuth: auth2b },
  responseHandles: [],
  response: {},
});
