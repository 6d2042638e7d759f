import { ExitCode, ReidError, UsageError } from "../../errors.js";
import { pinLocked } from "../../pkcs11/errors.js";
import { PKCS11_SYNTAX, type Pkcs11Spec } from "../../storage/pkcs11/spec.js";
import { type Command, print, printJson, storeSpecOfContext } from "../context.js";
import { canPrompt, secretPrompt } from "../prompt.js";

export const command: Command = {
  usage: "reid --pkcs11 SPEC [--json] pkcs11 info",
  summary:
    "Shows the PKCS#11 module's library, the token's info and flags, whether C_GenerateRandom works, and whether reid's objects (reid-area-0, reid-area-1) are free, reid's or someone else's; seeing private objects takes the user PIN (pin-file=, REID_PKCS11_PIN_FILE or the prompt). Without --pkcs11 (or REID_PKCS11), the token the store remembers.",
  options: {},
  positionals: [1, 1],
  async run(context, _values, [action]) {
    if (action !== "info") throw new UsageError(`unknown 'reid pkcs11' action '${action}' (info)`);
    // --pkcs11 SPEC, REID_PKCS11, or the token the store remembers.
    const store = await storeSpecOfContext(context);
    if (store.kind !== "pkcs11") {
      throw new UsageError(`no PKCS#11 token: give --pkcs11 ${PKCS11_SYNTAX} (or REID_PKCS11)`);
    }
    const { inspectPkcs11 } = await import("../../storage/pkcs11/inspect.js");
    // Without a terminal and a PIN file, reid's private objects are reported unchecked.
    const report = await inspectPkcs11(store.spec as Pkcs11Spec, {
      env: context.env,
      ...(canPrompt() ? { prompt: secretPrompt(context.stderr) } : {}),
    });
    if (context.json) printJson(context, report);
    else {
      const { library, token, state } = report;
      const pin = state.userPinLocked
        ? "LOCKED"
        : state.userPinFinalTry
          ? "final try left"
          : state.userPinCountLow
            ? "count low (a wrong PIN was tried)"
            : state.userPinInitialized
              ? "set"
              : "NOT SET";
      const rows: [string, string][] = [
        ["module", report.module],
        ["library", `${library.manufacturer}, ${library.description}, version ${library.version}`],
        ["cryptoki", library.cryptokiVersion],
        ["token", token.label],
        ["manufacturer", token.manufacturer],
        ["model", token.model],
        ["serial", token.serial],
        ["initialized", state.initialized ? "yes" : "NO"],
        ["login", state.loginRequired ? "required" : "not required"],
        ["user PIN", `${pin}${state.userPinToBeChanged ? ", to be changed" : ""}`],
        [
          "mechanisms",
          `${report.mechanismCount} offered; reid uses CKM_AES_KEY_GEN and CKM_AES_GCM only for seal --key pkcs11`,
        ],
        ...report.requirements.map((r): [string, string] => [r.ok ? "ok" : "MISSING", r.what]),
        ...report.objects.map((o): [string, string] => [o.label, o.detail]),
      ];
      print(context, rows.map(([key, value]) => `${key.padEnd(13)} ${value}`).join("\n"));
    }
    if (report.state.userPinLocked)
      throw pinLocked(`PKCS#11 token '${report.token.label}' (module ${report.module})`);
    const unmet = report.requirements.filter((r) => !r.ok);
    if (unmet.length > 0) {
      throw new ReidError(
        "pkcs11-unsuitable",
        ExitCode.storage,
        `this token lacks what reid needs: ${unmet.map((r) => r.what).join("; ")}`,
      );
    }
  },
};
