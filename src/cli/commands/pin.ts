import { StateError, UsageError } from "../../errors.js";
import type { CliContext } from "../context.js";
import { type Command, print, printJson } from "../context.js";
import { readTextSecret } from "../key-file.js";
import { canPrompt, promptHidden } from "../prompt.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage:
    "reid [--store DIR] [--pin-file FILE] pin set|change [--new-pin-file FILE] | pin unlock [--recovery-file FILE]",
  summary:
    "Sets or changes the owner PIN (argon2id), or unlocks the element after 5 wrong PINs with the recovery code.",
  options: { "new-pin-file": { type: "string" }, "recovery-file": { type: "string" } },
  positionals: [1, 1],
  async run(context, values, [action]) {
    if (action === "unlock") return unlock(context, values["recovery-file"]);
    if (action !== "set" && action !== "change") {
      throw new UsageError(`unknown 'reid pin' action '${action}' (set, change or unlock)`);
    }
    const newPin = await secret(
      context,
      values["new-pin-file"],
      "new PIN file",
      "New PIN: ",
      "Repeat the new PIN: ",
    );
    const { recoveryCode } = await withElement(context, "write", async (element) => {
      const { owner } = await element.status();
      if (action === "set" && owner.pin) {
        throw new StateError("pin-already-set", "a PIN is already set: use 'reid pin change'");
      }
      if (action === "change" && !owner.pin)
        throw new StateError("no-pin", "no PIN is set: use 'reid pin set'");
      return element.setPin(newPin);
    });
    if (context.json) return printJson(context, { pin: action === "set" ? "set" : "changed", recoveryCode });
    print(context, action === "set" ? "PIN set." : "PIN changed.");
    if (recoveryCode) {
      print(
        context,
        `Recovery code (shown only now; keep it offline, it unlocks the element): ${recoveryCode}`,
      );
    }
  },
};

async function unlock(context: CliContext, file: string | boolean | undefined): Promise<void> {
  const code = await secret(context, file, "recovery code file", "Recovery code: ");
  const { recoveryCode } = await withElement(context, "write", (element) => element.unlockPin(code));
  if (context.json) return printJson(context, { pin: "unlocked", recoveryCode });
  print(context, "Unlocked. The recovery code is spent.");
  print(context, `New recovery code (shown only now; keep it offline): ${recoveryCode}`);
}

/** A secret from its file, or typed at the terminal (twice when `again` asks to confirm it). */
async function secret(
  context: CliContext,
  file: string | boolean | undefined,
  what: string,
  question: string,
  again?: string,
): Promise<string> {
  if (typeof file === "string") return readTextSecret(file, what);
  if (!canPrompt())
    throw new UsageError(`give the ${what.replace(/ file$/, "")} with --${flagFor(what)} FILE`);
  const first = await promptHidden(question, context.stderr);
  if (again && (await promptHidden(again, context.stderr)) !== first) {
    throw new UsageError("the two entries differ");
  }
  return first;
}

function flagFor(what: string): string {
  return what.startsWith("new PIN") ? "new-pin-file" : "recovery-file";
}
