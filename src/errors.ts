/**
 * Every failure a user can meet carries a stable code and the exit status of docs/spec.md §3.3,
 * so surfaces (CLI, daemon, page) print one line and never a stack trace. The codes are
 * docs/spec.md §3.4's.
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  state: 3,
  auth: 4,
  entropy: 5,
  storage: 6,
  unreachable: 7,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class ReidError extends Error {
  constructor(
    readonly code: string,
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input: an unknown command, a malformed option, an impossible value. */
export class UsageError extends ReidError {
  constructor(message: string, code = "usage") {
    super(code, ExitCode.usage, message);
  }
}

/**
 * A secret was to be asked for at the terminal, and there is none (stdin is not a terminal): the
 * part that wanted it says how else to give it.
 */
export class NoTerminalError extends UsageError {
  constructor(message: string) {
    super(message, "no-terminal");
  }
}

/** The request does not fit the element's state (init on a set element, erase on a blank one). */
export class StateError extends ReidError {
  constructor(code: string, message: string) {
    super(code, ExitCode.state, message);
  }
}

/** The owner could not be authenticated: no PIN, a wrong PIN, or a locked element. */
export class AuthError extends ReidError {
  constructor(code: string, message: string) {
    super(code, ExitCode.auth, message);
  }
}

/** The entropy source failed its health tests or could not be read: nothing was written. */
export class EntropyError extends ReidError {
  constructor(message: string, code = "entropy-failure") {
    super(code, ExitCode.entropy, message);
  }
}

/**
 * The factory source could not give the factory identity (a PUF response too noisy to correct, a
 * missing machine id, a TPM that refused): like an entropy failure, nothing was written.
 */
export class FactoryError extends ReidError {
  constructor(message: string, code = "factory-source-failed") {
    super(code, ExitCode.entropy, message);
  }
}

/** The storage area could not be read or written, is corrupt, or is held by another writer. */
export class StorageError extends ReidError {
  constructor(message: string, code = "storage-failure") {
    super(code, ExitCode.storage, message);
  }
}

/**
 * A peer could not be reached: the daemon's socket, a bound device, the registry. Not the user's
 * input, not a bug: the other side is down, away or silent, and trying later may do.
 */
export class UnreachableError extends ReidError {
  constructor(code: string, message: string) {
    super(code, ExitCode.unreachable, message);
  }
}

/** Describes an OS error by its code and text, never by a path we did not choose to show. */
export function describeOsError(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") {
    const text = OS_ERROR_TEXT[error.code];
    return text ? `${text} (${error.code})` : error.code;
  }
  return error instanceof Error ? error.message : String(error);
}

const OS_ERROR_TEXT: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EIO: "input/output error",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ENOTDIR: "not a directory",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EISDIR: "is a directory",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many symbolic links",
};
