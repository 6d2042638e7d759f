import { ExitCode, ReidError, UnreachableError } from "../errors.js";
import { clientOf, type Transport } from "../http/call.js";
import { fromWire } from "../http/wire.js";
import { ANSWER_LIMIT, DEVICE_MESSAGES, type DeviceLink } from "./messages.js";
import { PROTOCOL } from "./wire.js";

/** A device answers in milliseconds; one that does not within this is unreachable, not slow. */
const ANSWER_TIMEOUT_MS = 5000;

const DeviceClient = clientOf<DeviceLink>()(DEVICE_MESSAGES);

/** The device at HOST:PORT, as its users speak to it (the messages of DEVICE_MESSAGES). */
export function deviceAt(address: string): DeviceLink {
  return new DeviceClient({ transport: toDevice(address) });
}

/**
 * Sends binding messages to the device at `address` and gives its JSON answers. A device's refusal
 * comes back as the error it raised (its code, message and exit code), prefixed so the user knows
 * who refused.
 */
function toDevice(address: string): Transport {
  return async (exchange) => {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`http://${address}${exchange.path}`, {
        method: exchange.method,
        headers: exchange.headers,
        ...(exchange.body ? { body: exchange.body } : {}),
        signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
        redirect: "error",
      });
      if (Number(response.headers.get("content-length") ?? 0) > ANSWER_LIMIT)
        throw new Error("answer too large");
      text = await response.text();
    } catch (error) {
      throw new UnreachableError(
        "device-unreachable",
        `cannot reach the device at ${address}: ${causeOf(error)}`,
      );
    }
    let parsed: unknown = null;
    try {
      parsed = text.length <= ANSWER_LIMIT ? JSON.parse(text) : null;
    } catch {}
    if (!response.ok) {
      const refusal = fromWire(parsed, response.status);
      throw new ReidError(
        refusal.code,
        refusal.exitCode,
        `the device at ${address} refused: ${refusal.message}${olderDevice(refusal.message)}`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ReidError(
        "device-protocol",
        ExitCode.internal,
        `the device at ${address} answered no binding message`,
      );
    }
    return parsed;
  };
}

/**
 * A device of binding protocol v1 refuses our version naming only its own ("this device speaks
 * binding protocol v1"): ours is added, so the refusal names both.
 */
function olderDevice(message: string): string {
  const theirs = /this device speaks binding protocol v(\d+)\)?$/.exec(message)?.[1];
  return theirs !== undefined && Number(theirs) !== PROTOCOL
    ? ` (this reid speaks v${PROTOCOL}: update reid on ${Number(theirs) < PROTOCOL ? "the device" : "this machine"})`
    : "";
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === "TimeoutError") return `no answer within ${ANSWER_TIMEOUT_MS / 1000} s`;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
