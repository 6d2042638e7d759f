import { ExitCode, ReidError, UsageError } from "../../errors.js";
import { pinLocked } from "../../pkcs11/errors.js";
import { type Command, print, printJson } from "../context.js";
import { canPrompt, promptHidden } from "../prompt.js";

export const command: Command = {
  usage: "reid pkcs11 info --pkcs11 module=PATH,token=LABEL[,pin-file=FILE] [--json]",
  summary:
    "Shows the PKCS#11 module's library, the token's info and flags, whether C_GenerateRandom works, and whether reid's objects (reid-area-0, reid-area-1) are free, reid's or someone else's; seeing private objects takes the user PIN (pin-file=, REID_PKCS11_PIN_FILE or the prompt).",
  options: { pkcs11: { type: "string" } },
  positionals: [1, 1],
  async run(context, values, [action]) {
    if (action !== "info") throw new UsageError(`unknown 'reid pkcs11' action '${action}' (info)`);
    const text = typeof values.pkcs11 === "string" ? values.pkcs11 : process.env.REID_PKCS11 || undefined;
    if (text === undefined) {
      throw new UsageError(
        "no PKCS#11 token: give --pkcs11 module=PATH,token=LABEL[,pin-file=FILE] (or REID_PKCS11)",
      );
    }
    const [{ backend }, { inspectPkcs11 }] = await Promise.all([
      import("../../storage/pkcs11/backend.js"),
      import("../../storage/pkcs11/inspect.js"),
    ]);
    const spec = backend.parse(text);
    const report = await inspectPkcs11(spec, {
      env: process.env,
      ...(canPrompt() ? { prompt: (label: string) => promptHidden(label, context.stderr) } : {}),
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
          `${report.mechanismCount} offered; reid uses none (data objects and C_GenerateRandom only)`,
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
