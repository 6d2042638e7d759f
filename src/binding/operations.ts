import { defineOperations, inPath } from "../http/operation.js";
import { text, whole } from "../http/schema.js";
import type { BindingApi } from "./api.js";
import { commandArgs, commandName } from "./messages.js";
import { MAX_PAIRING_SECONDS } from "./pairing.js";

const address = text({ max: 300 });

/**
 * The user role and the listing, as the daemon serves them under /v1/binding: the daemon holds the
 * keys and talks to the device, the CLI only asks. The routes check their fields' shapes; the
 * binding service checks their values, as it does for a direct call.
 * Specified in docs/spec.md §6.4.
 */
export const BINDING_OPERATIONS = defineOperations<BindingApi>()({
  limit: 16 * 1024,
  operations: {
    bindings: {
      summary: "Every binding of this element, in both roles.",
      method: "GET",
      path: "/v1/binding",
      owner: false,
    },
    bind: {
      summary: "Binds to the device at an address, once it proved the expected handle.",
      method: "POST",
      path: "/v1/binding/bind",
      owner: true,
      input: { address, expectHandle: text({ max: 300 }), code: text({ max: 64 }) },
      args: ["address", "expectHandle", "code"],
    },
    pair: {
      summary: "Opens the device's pairing window with a fresh setup code (the device role must be served).",
      method: "POST",
      path: "/v1/binding/pair",
      owner: true,
      input: {
        seconds: whole({
          min: 1,
          max: MAX_PAIRING_SECONDS,
          message: () => `'seconds' must be 1 to ${MAX_PAIRING_SECONDS}`,
        }),
      },
      args: ["seconds"],
    },
    command: {
      summary: "Sends a signed command to a bound device.",
      method: "POST",
      path: "/v1/binding/command",
      owner: true,
      input: { address, name: commandName, args: commandArgs },
      args: ["address", "name", "args"],
    },
    telemetry: {
      summary: "Asks a bound device for its readings, sealed to this element.",
      method: "POST",
      path: "/v1/binding/telemetry",
      owner: true,
      input: {
        address,
        count: whole({ min: Number.MIN_SAFE_INTEGER, message: () => "'count' must be an integer" }),
      },
      args: ["address", "count"],
    },
    unbind: {
      summary: "Removes a binding; a device this element uses is told first.",
      method: "DELETE",
      path: "/v1/binding/:handle",
      owner: true,
      input: { handle: inPath(text({ max: 300 })) },
      args: ["handle"],
    },
  },
});
