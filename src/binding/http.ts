import { ExitCode, ReidError } from "../errors.js";
import { fromWire } from "../http/wire.js";

/** A device answers in milliseconds; one that does not within this is unreachable, not slow. */
const ANSWER_TIMEOUT_MS = 5000;
/** No binding message comes near this: a bigger answer is not from a reid device. */
export const MESSAGE_LIMIT = 256 * 1024;

/**
 * POSTs one binding message to a device and returns its JSON answer. A device's refusal comes back
 * as the error it raised (its code, message and exit code), prefixed so the user knows who refused.
 */
export async function postMessage(
  address: string,
  path: string,
  body: object,
): Promise<Record<string, unknown>> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(`http://${address}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      redirect: "error",
    });
    if (Number(response.headers.get("content-length") ?? 0) > MESSAGE_LIMIT)
      throw new Error("answer too large");
    text = await response.text();
  } catch (error) {
    throw new ReidError(
      "device-unreachable",
      ExitCode.internal,
      `cannot reach the device at ${address}: ${causeOf(error)}`,
    );
  }
  let parsed: unknown = null;
  try {
    parsed = text.length <= MESSAGE_LIMIT ? JSON.parse(text) : null;
  } catch {}
  if (!response.ok) {
    const refusal = fromWire(parsed, response.status);
    throw new ReidError(
      refusal.code,
      refusal.exitCode,
      `the device at ${address} refused: ${refusal.message}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ReidError(
      "device-protocol",
      ExitCode.internal,
      `the device at ${address} answered no binding message`,
    );
  }
  return parsed as Record<string, unknown>;
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === "TimeoutError") return `no answer within ${ANSWER_TIMEOUT_MS / 1000} s`;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
