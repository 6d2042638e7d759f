/**
 * What the element's enrollment and the registry's identity log share about checking a registry's
 * answer against its log (docs/spec.md §10.12): the record the element keeps, the event it
 * expects, and the interface of the checks. Below both, as the EST wire is: the enrollment names
 * the checks, the registry's log code (src/registry/log/element-check.ts) makes them, and the
 * daemon and the CLI hand one to the other.
 */

/** What `enrollment.json` keeps of the log: the verifier key, and the newest checkpoint verified (a note). */
export interface LogRecord {
  readonly key: string;
  readonly checkpoint: string;
}

/** The event an answer says it put in the log at `index`. */
export interface ExpectedEvent {
  /** The answer's `Reid-Log-Index` or `logIndex`, as answered (null: none). */
  readonly index: string | null;
  readonly type: "enrolled" | "renewed" | "succeeded";
  readonly handle: string;
  readonly serial: string;
  /** A renewal's: the serial it replaced. */
  readonly previous?: string;
  /** A succession's: the identity it came from. */
  readonly predecessor?: string;
}

export interface LogAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: Uint8Array;
}

/** One GET of a path under the registry's origin, over the caller's pinned TLS. */
export type LogGet = (path: string) => Promise<LogAnswer>;

export interface LogWitness {
  /** The key (given, or asked for) and the newest checkpoint: where a verified enrollment starts. */
  begin(get: LogGet, where: string, caFingerprint: string, givenKey?: string): Promise<LogRecord>;
  /** The record to keep once the answer's event is in a checkpoint extending `kept`; else `log-untrusted`. */
  confirm(get: LogGet, where: string, kept: LogRecord, expected: ExpectedEvent): Promise<LogRecord>;
}
