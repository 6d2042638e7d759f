import { ExitCode, ReidError, UsageError } from "../../errors.js";
import type { TpmSpec } from "../../tpm/spec.js";
import { type Command, print, printJson, storeSpecOfContext } from "../context.js";

/** swtpm serves one client at a time: a busy one is reported after this, not after 30 s. */
const INFO_TIMEOUT_MS = 5000;

export const command: Command = {
  usage: "reid --tpm SPEC [--json] tpm info",
  summary:
    "Shows the TPM's manufacturer, firmware and specification, the properties reid relies on, and the store's NV indices (areas, counter, audit key) with their state and attributes.",
  options: {},
  positionals: [1, 1],
  async run(context, _values, [action]) {
    if (action !== "info") throw new UsageError(`unknown 'reid tpm' action '${action}' (info)`);
    // --tpm SPEC, REID_TPM, or the TPM the store remembers.
    const store = await storeSpecOfContext(context);
    if (store.kind !== "tpm") {
      throw new UsageError(
        "no TPM: give --tpm swtpm:host=H,port=P | swtpm:path=SOCKET | device:PATH (or REID_TPM)",
      );
    }
    const spec = store.spec as TpmSpec;
    const [{ connectTpm }, { readTpmInfo }, { storeIndices }, { tpmName }] = await Promise.all([
      import("../../tpm/transport/open.js"),
      import("../../tpm/info.js"),
      import("../../storage/tpm/store-indices.js"),
      import("../../tpm/spec.js"),
    ]);
    const tpm = await connectTpm(spec.address, INFO_TIMEOUT_MS);
    let info: Awaited<ReturnType<typeof readTpmInfo>>;
    try {
      info = await readTpmInfo(tpm, storeIndices(context.storeDirectory, spec));
    } finally {
      await tpm.close();
    }
    const unmet = info.requirements.filter((r) => !r.ok);
    if (context.json) printJson(context, { tpm: tpmName(spec.address), ...info });
    else {
      const rows: [string, string][] = [
        ["tpm", tpmName(spec.address)],
        ["manufacturer", info.manufacturer],
        ["vendor", info.vendor || "-"],
        ["firmware", info.firmware],
        ["spec", info.spec],
        ["input buffer", `${info.properties.inputBuffer} bytes`],
        ["NV buffer", `${info.properties.nvBufferMax} bytes per NV_Read/NV_Write`],
        ["NV index max", `${info.properties.nvIndexMax} bytes`],
        ["max digest", `${info.properties.maxDigest} bytes`],
        ["owner auth", info.state.ownerAuthSet ? "set (give owner-auth-file=)" : "empty"],
        ["lockout", info.state.inLockout ? "IN LOCKOUT" : "no"],
        ...info.requirements.map((r): [string, string] => [r.ok ? "ok" : "MISSING", r.what]),
        ...info.indices.map((i): [string, string] => [
          `NV ${i.index}`,
          `${i.role}: ${i.state}${i.attributes === null ? "" : ` (${i.attributes})`}`,
        ]),
      ];
      print(context, rows.map(([key, value]) => `${key.padEnd(13)} ${value}`).join("\n"));
    }
    if (unmet.length > 0) {
      throw new ReidError(
        "tpm-unsuitable",
        ExitCode.storage,
        `this TPM lacks what reid needs: ${unmet.map((r) => r.what).join("; ")}`,
      );
    }
  },
};
