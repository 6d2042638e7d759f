import type { Command } from "./context.js";

/** Command modules load on demand: `reid status` never pays for the TRNG or the formats. */
export const COMMANDS: Readonly<Record<string, () => Promise<{ command: Command }>>> = {
  status: () => import("./commands/status.js"),
  init: () => import("./commands/init.js"),
  reset: () => import("./commands/reset.js"),
  erase: () => import("./commands/erase.js"),
  random: () => import("./commands/random.js"),
  keys: () => import("./commands/keys.js"),
  cert: () => import("./commands/cert.js"),
  csr: () => import("./commands/csr.js"),
  sign: () => import("./commands/sign.js"),
  verify: () => import("./commands/verify.js"),
  export: () => import("./commands/export.js"),
  seal: () => import("./commands/seal.js"),
  config: () => import("./commands/config.js"),
  serve: () => import("./commands/serve.js"),
  pin: () => import("./commands/pin.js"),
  log: () => import("./commands/log.js"),
  help: () => import("./commands/help.js"),
};

export const COMMAND_ORDER = [
  "status",
  "init",
  "reset",
  "erase",
  "random",
  "keys",
  "cert",
  "csr",
  "sign",
  "verify",
  "export",
  "seal",
  "config",
  "pin",
  "log",
  "serve",
  "help",
] as const;
