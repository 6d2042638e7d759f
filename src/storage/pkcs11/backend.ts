import type { Backend } from "../backend.js";
import {
  formatPkcs11Spec,
  PKCS11_SYNTAX,
  type Pkcs11Spec,
  parsePkcs11Spec,
  samePkcs11Place,
} from "./spec.js";

/**
 * The PKCS#11 backend: reid's two areas are data objects on a token (SoftHSM2, a smart card, an
 * HSM), its generator the token's C_GenerateRandom mixed with the OS by default. Parsing is cheap;
 * the native binding and the module load only when a store opens.
 */
export const backend: Backend<Pkcs11Spec> = {
  kind: "pkcs11",
  parse: parsePkcs11Spec,
  format: formatPkcs11Spec,
  samePlace: samePkcs11Place,
  defaultSource: "pkcs11+os",
  syntax: PKCS11_SYNTAX,
  // The labels are fixed: one token holds one store's pair of objects.
  anotherPlace: "give this store a token of its own (token= in --pkcs11)",
  async open(directory, spec, options) {
    const { openPkcs11 } = await import("./open.js");
    return openPkcs11(directory, spec, options);
  },
};
