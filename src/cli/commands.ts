import { UsageError } from "../errors.js";
import type { Command } from "./context.js";
import { didYouMean } from "./suggest.js";

/** Command modules load on demand: `reid status` never pays for the TRNG or the formats. */
export const COMMANDS: Readonly<Record<string, () => Promise<{ command: Command }>>> = {
  status: () => import("./commands/status.js"),
  init: () => import("./commands/init.js"),
  reset: () => import("./commands/reset.js"),
  erase: () => import("./commands/erase.js"),
  mode: () => import("./commands/mode.js"),
  random: () => import("./commands/random.js"),
  keys: () => import("./commands/keys.js"),
  cert: () => import("./commands/cert.js"),
  csr: () => import("./commands/csr.js"),
  sign: () => import("./commands/sign.js"),
  verify: () => import("./commands/verify.js"),
  export: () => import("./commands/export.js"),
  seal: () => import("./commands/seal.js"),
  unseal: () => import("./commands/unseal.js"),
  config: () => import("./commands/config.js"),
  serve: () => import("./commands/serve.js"),
  page: () => import("./commands/page.js"),
  pin: () => import("./commands/pin.js"),
  unlock: () => import("./commands/unlock.js"),
  lock: () => import("./commands/lock.js"),
  schedule: () => import("./commands/schedule.js"),
  events: () => import("./commands/events.js"),
  log: () => import("./commands/log.js"),
  tpm: () => import("./commands/tpm.js"),
  pkcs11: () => import("./commands/pkcs11.js"),
  discover: () => import("./commands/discover.js"),
  pair: () => import("./commands/pair.js"),
  bind: () => import("./commands/bind.js"),
  command: () => import("./commands/command.js"),
  telemetry: () => import("./commands/telemetry.js"),
  bindings: () => import("./commands/bindings.js"),
  unbind: () => import("./commands/unbind.js"),
  enroll: () => import("./commands/enroll.js"),
  renew: () => import("./commands/renew.js"),
  registry: () => import("./commands/registry.js"),
  completion: () => import("./commands/completion.js"),
  help: () => import("./commands/help.js"),
};

export const COMMAND_ORDER = [
  "status",
  "init",
  "reset",
  "erase",
  "mode",
  "random",
  "keys",
  "cert",
  "csr",
  "sign",
  "verify",
  "export",
  "seal",
  "unseal",
  "config",
  "schedule",
  "events",
  "pin",
  "unlock",
  "lock",
  "log",
  "tpm",
  "pkcs11",
  "discover",
  "pair",
  "bind",
  "command",
  "telemetry",
  "bindings",
  "unbind",
  "serve",
  "page",
  "enroll",
  "renew",
  "registry",
  "completion",
  "help",
] as const;

/**
 * What a command does with the store directory (docs/spec.md §3.1). Most need one that exists: a
 * missing one is a mistyped --store far more often than a new element, so it is reported, not read
 * as blank. `init` creates it, and so do the two that may come before the first init: `pin set`
 * (the PIN then gates that init) and `serve` (its page and socket take the init). The others never
 * open it.
 */
export type StoreUse = "existing" | "creates" | "none";

const STORE_USE: Readonly<Record<(typeof COMMAND_ORDER)[number], StoreUse>> = {
  status: "existing",
  init: "creates",
  reset: "existing",
  erase: "existing",
  mode: "existing",
  random: "none",
  keys: "existing",
  cert: "existing",
  csr: "existing",
  sign: "existing",
  verify: "existing",
  export: "existing",
  seal: "existing",
  unseal: "existing",
  config: "existing",
  schedule: "existing",
  events: "existing",
  pin: "existing",
  unlock: "existing",
  lock: "existing",
  log: "existing",
  tpm: "none",
  pkcs11: "none",
  discover: "none",
  pair: "existing",
  bind: "existing",
  command: "existing",
  telemetry: "existing",
  bindings: "existing",
  unbind: "existing",
  serve: "creates",
  page: "existing",
  enroll: "existing",
  renew: "existing",
  registry: "none",
  completion: "none",
  help: "none",
};

export function storeUse(name: string, positionals: readonly string[]): StoreUse {
  if (name === "pin" && positionals[0] === "set") return "creates";
  return STORE_USE[name as keyof typeof STORE_USE] ?? "none";
}

/** `unknown command 'statu': did you mean 'status'?`, exit 2 (`reid statu`, `reid help statu`). */
export function unknownCommand(name: string): UsageError {
  const advice = didYouMean(name, COMMAND_ORDER, " (see 'reid help')");
  return new UsageError(`unknown command '${name}'${advice}`, "unknown-command");
}
