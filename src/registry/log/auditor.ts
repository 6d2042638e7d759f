import { type AuditedLog, auditRound, firstLeaves, type Round } from "./audit.js";
import { loadAudit, openStateDirectory, saveAudit } from "./audit-state.js";
import type { LogClient } from "./client.js";
import { logUntrusted } from "./log-errors.js";
import { parseVerifierKey } from "./note.js";
import { DeviceTable } from "./replay.js";
import { MerkleTree } from "./tree.js";
import { keyOfRegistry } from "./witness.js";

export interface AuditorOptions {
  /** The registry's origin, kept in the state. */
  readonly registry: string;
  /** Its CA's pin: the log key must name this registry. */
  readonly caFingerprint: string;
  /** `--log-key`: else the state's, else the registry's, trusted on first use. */
  readonly key?: string;
  /** `--state DIR`: what was verified before, and where each round is kept. */
  readonly state?: string;
}

/**
 * `reid registry audit` without its printing (docs/spec.md §10.12): the key settled once, then
 * rounds, each kept in the state directory once it has verified.
 */
export class Auditor {
  private constructor(
    private readonly client: LogClient,
    private readonly options: AuditorOptions,
    private readonly keyText: string,
    private audited: AuditedLog,
    /** How many leaves were verified before this run. */
    readonly startSize: number,
  ) {}

  static async open(client: LogClient, options: AuditorOptions): Promise<Auditor> {
    const { state, key: given } = options;
    if (state !== undefined) openStateDirectory(state);
    const verifier = (text: string) => keyOfRegistry(parseVerifierKey(text), options.caFingerprint);
    const saved =
      state === undefined
        ? null
        : loadAudit(state, (kept) => {
            if (given !== undefined && given !== kept)
              throw logUntrusted(`--log-key is not the log key ${state} keeps`);
            return verifier(kept);
          });
    const keyText = saved?.key ?? given ?? (await client.key()).text;
    verifier(keyText);
    const log = saved?.log ?? {
      note: null,
      checkpoint: null,
      tree: new MerkleTree(),
      table: new DeviceTable(),
    };
    return new Auditor(client, options, keyText, log, log.tree.size);
  }

  get log(): AuditedLog {
    return this.audited;
  }

  /** One round, kept once verified; on a failure nothing is kept (see `recover`). */
  async round(): Promise<Round> {
    const key = keyOfRegistry(parseVerifierKey(this.keyText), this.options.caFingerprint);
    const done = await auditRound(this.client, key, this.audited);
    if (this.options.state !== undefined) {
      saveAudit(
        this.options.state,
        this.options.registry,
        this.keyText,
        done.log,
        this.audited.checkpoint?.size ?? 0,
      );
    }
    this.audited = done.log;
    return done;
  }

  /** After a round that failed half-way (the registry went out of reach): the leaves it had not verified are dropped. */
  recover(): void {
    this.audited = {
      ...this.audited,
      tree: firstLeaves(this.audited.tree, this.audited.checkpoint?.size ?? 0),
    };
  }
}
