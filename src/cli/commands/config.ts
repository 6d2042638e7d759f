import { changeSetting, type ElementSetting, settingsView } from "../../element/settings-view.js";
import { StateError, UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

const SETTINGS: readonly string[] = ["single-type", "registry-continuity", "passkeys-bypass-lockout"];

export const command: Command = {
  usage:
    "reid [--store DIR] [--json] config [single-type on|off | registry-continuity on|off | passkeys-bypass-lockout on|off]",
  summary:
    "Shows the element's settings, or turns single-type mode (every request is a reset) on or off, or whether a reset of an enrolled element is a succession at its registry (on, the default) or unlinkable (off), or whether passkeys still pass once wrong PINs locked the element (off, the default; needs the PIN).",
  options: {},
  positionals: [0, 2],
  async run(context, _values, positionals) {
    const [key, value] = positionals;
    if (key !== undefined && !SETTINGS.includes(key)) {
      throw new UsageError(`unknown setting '${key}' (settings: ${SETTINGS.join(", ")})`);
    }
    if (key !== undefined && value !== "on" && value !== "off") {
      throw new UsageError(`'reid config ${key}' takes 'on' or 'off'`);
    }
    if (key === "registry-continuity") return continuity(context, value === "on");
    const on = value === "on";
    const status = await withElement(context, key ? "write" : "read", (element) =>
      key ? changeSetting(element, key as ElementSetting, on) : element.status(),
    );
    const settings = settingsView(status);
    if (context.json) return printJson(context, settings);
    const onOff = (flag: boolean) => (flag ? "on" : "off");
    print(
      context,
      [
        `single-type ${onOff(settings["single-type"])}`,
        `format      ${settings.format}`,
        `passkeys-bypass-lockout ${onOff(settings["passkeys-bypass-lockout"])}`,
      ].join("\n"),
    );
  },
};

/** The enrollment's continuity (docs/spec.md §10.9): kept in enrollment.json, read at each reset. */
async function continuity(context: Parameters<Command["run"]>[0], on: boolean): Promise<void> {
  const { readEnrollment, writeEnrollment } = await import("../../enrollment/enrollment-record.js");
  const record = readEnrollment(context.storeDirectory);
  if (record === null)
    throw new StateError("not-enrolled", "this element is not enrolled: run reid enroll URL");
  writeEnrollment(context.storeDirectory, { ...record, continuity: on });
  if (context.json) return printJson(context, { "registry-continuity": on });
  print(context, `registry-continuity ${on ? "on" : "off"}`);
}
