import { ExitCode, ReidError } from "../errors.js";

/**
 * How every reid HTTP surface (the daemon's API, the device's binding endpoint, the owner's page)
 * sends a failure: {"error": {"code", "message", "exit"}} with an HTTP status that matches its exit
 * code, so a client rebuilds the very error the other side raised and exits with the same code.
 * Specified in docs/spec.md §3.3, §6.3.
 */
export interface WireError {
  readonly error: { readonly code: string; readonly message: string; readonly exit: number };
}

const HTTP_STATUS: Record<number, number> = {
  [ExitCode.internal]: 500,
  [ExitCode.usage]: 400,
  [ExitCode.state]: 409,
  [ExitCode.auth]: 403,
  [ExitCode.entropy]: 503,
  [ExitCode.storage]: 507,
  // The server could not reach the peer it speaks to for the caller (a device): a bad gateway.
  [ExitCode.unreachable]: 502,
};

/** A refusal that names its own HTTP status (the page's 401, 421), not the one of its exit code. */
export class HttpError extends ReidError {
  constructor(
    readonly status: number,
    code: string,
    exit: ExitCode,
    message: string,
  ) {
    super(code, exit, message);
  }
}

export function toWire(error: unknown): { status: number; body: WireError } {
  const known = error instanceof ReidError;
  const exit = known ? error.exitCode : ExitCode.internal;
  const code = known ? error.code : "internal";
  const text = known ? error.message : `internal error: ${(error as Error)?.message ?? String(error)}`;
  const status = error instanceof HttpError ? error.status : (HTTP_STATUS[exit] ?? 500);
  return { status, body: { error: { code, message: oneLine(text), exit } } };
}

/**
 * Messages echo what a client sent: control characters and line breaks are escaped (as the CLI
 * prints them), so a message stays one line whoever shows it.
 */
function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, (ch) => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`);
}

/** The error a failure answer carries, as the other side raised it. */
export function fromWire(body: unknown, status: number): ReidError {
  const error = (body as Partial<WireError> | null)?.error;
  if (error && typeof error.code === "string" && typeof error.message === "string") {
    const exit = Object.values(ExitCode).includes(error.exit as ExitCode)
      ? (error.exit as ExitCode)
      : ExitCode.internal;
    return new ReidError(error.code, exit, error.message);
  }
  return new ReidError(
    "daemon-protocol",
    ExitCode.internal,
    `the daemon answered HTTP ${status} without an error`,
  );
}
