import { UsageError } from "../../errors.js";
import type { SealingKeyKind } from "../../storage/sealing/key-home.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

/** Where `--key` may put a new key: the store's TPM or token (a key-encryption key is a file). */
const HOMES: readonly SealingKeyKind[] = ["tpm", "pkcs11"];

export const command: Command = {
  usage:
    "reid [--store DIR] [--json] [--kek-file FILE] seal [--key tpm|pkcs11] [--rotate [--key tpm|pkcs11 | --new-kek-file FILE]]",
  summary:
    "Seals an identifier stored in clear (AES-256-GCM) under the key-encryption key, or a new key sealed to the TPM or kept inside the token (--key); --rotate re-seals it under a new key. The identifier stays the same.",
  options: {
    key: { type: "string" },
    rotate: { type: "boolean" },
    "new-kek-file": { type: "string" },
  },
  positionals: [0, 0],
  async run(context, values) {
    const given = values.key as string | undefined;
    if (given !== undefined && !HOMES.includes(given as SealingKeyKind)) {
      throw new UsageError(`--key takes tpm or pkcs11, not '${given}' (a key-encryption key: --kek-file)`);
    }
    const rotate = values.rotate === true;
    const newKekFile = values["new-kek-file"] as string | undefined;
    if (newKekFile !== undefined && !rotate) throw new UsageError("--new-kek-file goes with --rotate");
    if (newKekFile !== undefined && given !== undefined) {
      throw new UsageError("--rotate takes one new key: --key tpm|pkcs11 or --new-kek-file FILE");
    }
    if (!rotate && given !== undefined && context.kekFile) {
      throw new UsageError(
        "'reid seal' takes one key: --key tpm|pkcs11 or a key-encryption key (--kek-file)",
      );
    }
    const key = newKekFile !== undefined ? "kek" : (given as SealingKeyKind | undefined);
    const status = await withElement(
      newKekFile !== undefined ? { ...context, newKekFile } : context,
      "write",
      (element) => (rotate ? element.seal(key, true) : element.seal(key)),
    );
    if (context.json)
      return printJson(context, {
        state: status.state,
        generation: status.generation,
        sealed: status.sealed,
        sealingKey: status.sealingKey,
      });
    print(
      context,
      status.state === "set"
        ? `${rotate ? "re-sealed" : "sealed"}: generation ${status.generation}, handle ${status.handle}`
        : `${rotate ? "re-sealed" : "sealing"}: the element is blank; its identifiers will be sealed from now on`,
    );
  },
};
