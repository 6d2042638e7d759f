// Binding with the user's store on a PKCS#11 token (SoftHSM2): the scenario of
// test/helpers/bind-scenario.ts (bind, command, reset, rebind, erase, rebind; nothing written
// outside the stores).
import { test } from "node:test";
import { bindOnBackend } from "../helpers/bind-scenario.js";
import { SOFTHSM_MODULE, softhsmForFile } from "../helpers/softhsm.js";

const softhsm = softhsmForFile();

for (const through of ["daemon", "direct"] as const) {
  test(`a PKCS#11-backed user binds, commands, resets, erases and rebinds (${through}); nothing is written outside the stores`, async (t) => {
    const hsm = await softhsm();
    const token = await hsm.token();
    await bindOnBackend(t, through, {
      args: ["--pkcs11", token.spec],
      env: hsm.env,
      description: new RegExp(`^PKCS#11 token '${token.label}' \\(module ${SOFTHSM_MODULE}\\)$`),
    });
  });
}
