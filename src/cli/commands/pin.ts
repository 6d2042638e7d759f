import { NoTerminalError, StateError, UsageError } from "../../errors.js";
import type { CliContext } from "../context.js";
import { type Command, print, printJson } from "../context.js";
import { readTextSecret } from "../key-file.js";
import { pipedSecret } from "../piped-secret.js";
import { canPrompt, promptHidden } from "../prompt.js";
import { withElement } from "../with-element.js";

export const command: Command = {
  usage:
    "reid [--store DIR] [--pin-file FILE] pin set|change [--new-pin-file FILE] | pin unlock [--recovery-file FILE]",
  summary:
    "Sets or changes the owner PIN (argon2id), or unlocks the element after 5 wrong PINs with the recovery code. The new PIN comes from --new-pin-file, else REID_PIN_NEW, else stdin when piped (read once), else the prompt (twice); the recovery code from --recovery-file, else piped stdin, else the prompt.",
  options: { "new-pin-file": { type: "string" }, "recovery-file": { type: "string" } },
  positionals: [1, 1],
  async run(context, values, [action]) {
    if (action === "unlock") return unlock(context, values["recovery-file"]);
    if (action !== "set" && action !== "change") {
      throw new UsageError(`unknown 'reid pin' action '${action}' (set, change or unlock)`);
    }
    const newPin = await secret(context, {
      file: values["new-pin-file"],
      option: "new-pin-file",
      variable: "REID_PIN_NEW",
      what: "new PIN",
      question: "New PIN: ",
      again: "Repeat the new PIN: ",
    });
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
  const code = await secret(context, {
    file,
    option: "recovery-file",
    what: "recovery code",
    question: "Recovery code: ",
  });
  const { recoveryCode } = await withElement(context, "write", (element) => element.unlockPin(code));
  if (context.json) return printJson(context, { pin: "unlocked", recoveryCode });
  print(context, "Unlocked. The recovery code is spent.");
  print(context, `New recovery code (shown only now; keep it offline): ${recoveryCode}`);
}

/** Where a secret of `reid pin` may come from, and how it is asked for at the terminal. */
interface SecretWays {
  readonly file: string | boolean | undefined;
  readonly option: string;
  /** The variable that may carry it (the new PIN's REID_PIN_NEW); an empty one counts as unset. */
  readonly variable?: string;
  readonly what: string;
  readonly question: string;
  /** Asked a second time at the terminal, to catch a typo nobody saw; a file, variable or pipe is taken as given. */
  readonly again?: string;
}

/** A secret from its file, else its variable, else stdin when piped, else typed at the terminal. */
async function secret(context: CliContext, ways: SecretWays): Promise<string> {
  if (typeof ways.file === "string") return readTextSecret(ways.file, `${ways.what} file`);
  const fromEnv = ways.variable ? context.env[ways.variable] : undefined;
  if (fromEnv) return fromEnv;
  if (canPrompt()) {
    const first = await promptHidden(ways.question, context.stderr);
    if (ways.again && (await promptHidden(ways.again, context.stderr)) !== first) {
      throw new UsageError("the two entries differ");
    }
    return first;
  }
  const piped = await pipedSecret(ways.what);
  if (piped !== null) return piped;
  const variable = ways.variable ? `, ${ways.variable}` : "";
  // REID_PIN is the present PIN: one given for `pin set` is not taken as the new one.
  const present =
    ways.variable && context.env.REID_PIN ? " (REID_PIN is the present PIN, not the new one)" : "";
  throw new NoTerminalError(
    `give the ${ways.what} with --${ways.option} FILE${variable} or on stdin${present}`,
  );
}
