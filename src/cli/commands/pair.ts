import { type Command, print, printJson } from "../context.js";
import { withBinding } from "../with-element.js";

export const command: Command = {
  usage: "reid [--store DIR] [--json] pair [--for DURATION]",
  summary:
    "Opens this device's pairing window (the daemon must serve it: 'reid serve --device') for DURATION (30s, 2m; default 2m, at most 10m) and shows a fresh setup code, also as a QR code: a user binds with it once ('reid bind HOST:PORT --expect-handle HANDLE'); 5 wrong codes close the window. Needs the owner's PIN.",
  options: { for: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const { DEFAULT_PAIRING_SECONDS, pairingSeconds } = await import("../../binding/pairing.js");
    const given = values.for;
    const seconds = typeof given === "string" ? pairingSeconds(given) : DEFAULT_PAIRING_SECONDS;
    const opened = await withBinding(context, "write", (binding) => binding.pair(seconds));
    if (context.json) return printJson(context, opened);
    const { pairingQr } = await import("../pairing-qr.js");
    const bind = `reid bind ${opened.address} --expect-handle ${opened.handle}`;
    print(context, `pairing open until ${opened.until} (${opened.tries} tries): on the user's machine run`);
    print(context, `  ${bind}`);
    print(context, `and type the setup code  ${opened.code}`);
    print(context, pairingQr(opened));
  },
};
