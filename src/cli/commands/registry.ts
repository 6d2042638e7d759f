import { UsageError } from "../../errors.js";
import type { Command, OptionSpec } from "../context.js";
import type { RegistryAction, RegistryArguments } from "./registry/action.js";

/** Each action in its own module, loaded when it runs: one or two words name it. */
const ACTIONS: Readonly<Record<string, () => Promise<{ action: RegistryAction }>>> = {
  init: () => import("./registry/init.js"),
  "token create": () => import("./registry/token-create.js"),
  devices: () => import("./registry/devices.js"),
  show: () => import("./registry/show.js"),
  revoke: () => import("./registry/revoke.js"),
  events: () => import("./registry/events.js"),
  serve: () => import("./registry/serve.js"),
  crl: () => import("./registry/crl.js"),
  import: () => import("./registry/import.js"),
  audit: () => import("./registry/audit.js"),
};

/** Every action's options; each action says which of them it takes (registry/action.ts). */
const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  dir: { type: "string" },
  db: { type: "string" },
  "db-read": { type: "string" },
  name: { type: "string" },
  host: { type: "string", multiple: true },
  ttl: { type: "string" },
  label: { type: "string" },
  status: { type: "string" },
  reason: { type: "string" },
  since: { type: "string" },
  follow: { type: "boolean" },
  listen: { type: "string" },
  "certify-threads": { type: "string" },
  url: { type: "string" },
  ca: { type: "string" },
  "ca-fingerprint": { type: "string" },
  "token-file": { type: "string" },
  batch: { type: "string" },
  certify: { type: "boolean" },
  "log-key": { type: "string" },
  state: { type: "string" },
};

export const command: Command = {
  usage:
    "reid [--json] registry init --dir DIR [--db URL] [--name NAME] [--host NAME...] | registry token create WHERE [--ttl DURATION] [--label TEXT] | registry devices WHERE [--status STATUS] | registry show HANDLE WHERE | registry revoke HANDLE --reason REASON WHERE | registry events WHERE [--since N] [--follow] | registry serve --dir DIR [--db URL] [--db-read URL] [--listen HOST:PORT] [--certify-threads N] | registry crl WHERE | registry import --dir DIR [--db URL] FILE|- [--batch N] [--certify [--listen HOST:PORT]] | registry audit URL (--ca FILE | --ca-fingerprint sha256:HEX) [--log-key KEY] [--state DIR] [--follow]; WHERE is --dir DIR [--db URL] (devices, show, events, crl: [--db-read URL]) or --url URL (--ca FILE | --ca-fingerprint sha256:HEX) --token-file FILE",
  summary:
    "The fleet registry: init makes one in a new directory (CA, TLS certificate for the hosts, default localhost and 127.0.0.1, statement key, operator token, database: SQLite in the directory, or with --db postgres://[USER@]HOST[:PORT]/DATABASE in PostgreSQL, its password from ~/.pgpass); token create prints a single-use enrollment token (default --ttl 24h, 1m to 90d); serve serves EST enrollment and renewal and the CRL over HTTPS on --listen (default 127.0.0.1:8443) until SIGINT or SIGTERM; crl prints the CRL in PEM; devices lists the fleet, show one device and its succession chain, revoke revokes a device (--reason keyCompromise, affiliationChanged, cessationOfOperation, privilegeWithdrawn or unspecified), events prints the event log (--follow: and what comes); import records a factory's NDJSON list of pre-enrolled devices (one {handle, publicKey, label?} object a line), each listed without a certificate until it enrolls with its listed key and no token (--certify: each issued its certificate at once), in batches of one transaction (--batch, default 5000), with a progress bar on a terminal; audit verifies a running registry's identity log (each checkpoint consistent with the last one verified, kept in --state DIR; every leaf; the root; the devices' history replayed) and prints its size, root and the devices by status (--follow: every 2 s until SIGINT). With --url they ask a running registry over HTTPS, its CA pinned and the operator token read from --token-file.",
  options: OPTIONS,
  positionals: [1, 4],
  async run(context, values, positionals, lists) {
    // The longest run of words that names an action: `token create` before `token`.
    const words = [2, 1].map((n) => positionals.slice(0, n).join(" "));
    const name = words.find((candidate) => Object.hasOwn(ACTIONS, candidate));
    const load = name === undefined ? undefined : ACTIONS[name];
    if (name === undefined || load === undefined) {
      const known = Object.keys(ACTIONS).join(", ");
      throw new UsageError(`unknown 'reid registry' action '${positionals.join(" ")}' (${known})`);
    }
    const { action } = await load();
    const stray = Object.keys(OPTIONS).find(
      (option) => !action.options.includes(option) && (values[option] ?? lists[option]) !== undefined,
    );
    if (stray) throw new UsageError(`option '--${stray}' does not go with 'reid registry ${name}'`);
    const operands = positionals.slice(name.split(" ").length);
    const [min, max] = action.operands;
    if (operands.length < min || operands.length > max) {
      const expected = min === max ? `${min}` : `${min} to ${max}`;
      throw new UsageError(`'reid registry ${name}' takes ${expected} operand(s), got ${operands.length}`);
    }
    const args: RegistryArguments = {
      text: (option) => (typeof values[option] === "string" ? (values[option] as string) : undefined),
      flag: (option) => values[option] === true,
      list: (option) => lists[option],
      operands,
    };
    return action.run(context, args);
  },
};
