// Binding with the user's store on a TPM (swtpm): the scenario of test/helpers/bind-scenario.ts
// (bind, command, reset, rebind, erase, rebind; nothing written outside the stores).
import { test } from "node:test";
import { bindOnBackend } from "../helpers/bind-scenario.js";
import { swtpmForFile } from "../helpers/swtpm.js";

const swtpm = swtpmForFile();
let nextIndex = 0x01524a00;

async function tpmSpec(): Promise<string> {
  const { spec } = await swtpm();
  const nvIndex = nextIndex;
  nextIndex += 4;
  return `${spec},nv-index=0x${nvIndex.toString(16).padStart(8, "0")}`;
}

for (const through of ["daemon", "direct"] as const) {
  test(`a TPM-backed user binds, commands, resets, erases and rebinds (${through}); nothing is written outside the stores`, async (t) => {
    await bindOnBackend(t, through, {
      args: ["--tpm", await tpmSpec()],
      description: /^swtpm.*, NV 0x01524a/,
    });
  });
}
