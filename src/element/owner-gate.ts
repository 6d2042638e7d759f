import {
  type AuditEntry,
  type AuditLog,
  type AuditRecord,
  type AuditVerdict,
  PENDING,
} from "../audit/audit-log.js";
import { operations } from "../audit/operations.js";
import type { SummaryPlace } from "../audit/refusal-tally.js";
import type { Actor, Credentials } from "../auth/actor.js";
import type { OwnerPin } from "../auth/owner-pin.js";
import type { PasskeyStore } from "../auth/passkey-store.js";
import type { UnlockWindow } from "../auth/unlock-window.js";
import { AuthError, ReidError, StorageError } from "../errors.js";
import { AREA_VERDICTS } from "../storage/identifier-store.js";
import type { RecordInfo } from "../storage/record.js";

export type AuditDetail = AuditEntry["detail"];

/** Where an operation is about to change something: the generation and handle it will leave. */
export interface Intended {
  readonly generation: number;
  readonly handle: string | null;
}

/**
 * Writes the operation's intent to the audit log before anything changes (once; later calls do
 * nothing), durably; or, given a commit's journal capacity, unsynced, returning the journal the
 * commit must carry in its own durable write (docs/spec.md §9.3; null: the intent is durable
 * already). `sole`: the intent names what the commit will leave, handle and all, and is its one
 * record if it succeeds with nothing more to say. Throws `audit-failure` when it cannot: the
 * operation must then change nothing.
 */
export type Intend = (
  at: Intended,
  options?: { readonly journal?: number; readonly sole?: boolean },
) => Uint8Array | null;

/** The record of an intent or refusal when the store cannot be read. */
const UNREAD: Intended = { generation: 0, handle: null };

/**
 * An owner operation as the collaborators of the control unit run it: serialized with every
 * request, gated, and audited under `name` with the record as the work left it.
 */
export type Operate = <T>(
  name: string,
  actor: Actor,
  work: () => Promise<T>,
  detail?: AuditDetail | (() => AuditDetail),
) => Promise<T>;

export interface GateParts {
  /** Absent: every operation is open (a read-only element, or tests). */
  readonly owner: OwnerPin | null;
  /** The owner's passkeys, the other credential the gate accepts. */
  readonly passkeys: PasskeyStore | null;
  /** The owner's unlock window (`reid unlock`), for actors that may pass through it. */
  readonly window?: UnlockWindow | null;
  /** Absent: nothing is recorded. */
  readonly audit: AuditLog | null;
  readonly now: () => Date;
  /** The element's record now, for the audit record of a refusal. */
  readonly current: () => Promise<RecordInfo>;
  /** The audit lines the record in force carries (IdentifierStore.journal). */
  readonly journal: () => Promise<Uint8Array | null>;
}

/**
 * The owner gate: the actor is authorized first (by the PIN, or by a passkey's fresh assertion),
 * then the operation's intent is written to the audit log, then the work runs, then its outcome is
 * recorded, whatever it is.
 */
export class OwnerGate {
  /** The log has taken back what the record in force carried (recover()). */
  private recovered = false;

  constructor(private readonly parts: GateParts) {}

  /**
   * One owner operation. Its intent is recorded durably before the work runs (`late`: the work
   * calls `intend` itself, just before it changes anything, so a refusal found first stays one
   * record); an intent that cannot be written refuses the operation (exit 6 `audit-failure`),
   * nothing changed. The outcome follows, unless a sole intent already says it (a journaled
   * commit that succeeded with nothing more to say); a failure to write it is left unsaid, as the
   * intent and the store account for the operation (docs/spec.md §2.9, §9.3).
   */
  async operation<T>(
    name: string | (() => string),
    actor: Actor,
    work: (intend: Intend) => Promise<{ record: RecordInfo; value: T }>,
    detail?: AuditDetail | (() => AuditDetail),
    options: { readonly late?: boolean } = {},
  ): Promise<T> {
    const named = () => (typeof name === "function" ? name() : name);
    const details = () => {
      const value = typeof detail === "function" ? detail() : detail;
      return value && Object.keys(value).length > 0 ? value : undefined;
    };
    /** Who the records name: the actor, or the actor as let through by the unlock window. */
    let who = actor;
    let intent: AuditRecord | null = null;
    /** A sole intent's detail as written: an outcome follows only if the operation's grew. */
    let sole: string | null = null;
    let unwritable = false;
    const intend: Intend = (at, options = {}) => {
      const audit = this.parts.audit;
      if (intent || !audit) return null;
      const entry = this.entry(named(), who, PENDING, at, details());
      if (options.sole) sole = JSON.stringify(entry.detail ?? {});
      try {
        if (!options.journal) {
          intent = audit.append(entry);
          return null;
        }
        const { record, journal } = audit.appendJournaled(entry, options.journal);
        intent = record;
        return journal;
      } catch (error) {
        unwritable = true;
        throw new StorageError(
          `${named()} was refused, nothing changed: its audit record could not be written: ${(error as Error).message}`,
          "audit-failure",
        );
      }
    };
    let result: { record: RecordInfo; value: T };
    try {
      await this.recover();
      if (!actor.preauthorized) who = await this.authorize(named(), actor);
      // A key that needs the owner's proof is had once the proof is (docs/spec.md §9.7).
      await this.parts.audit?.loadKey();
      // A store that cannot be read does not stop an operation beside it (a PIN change): its
      // intent names no generation, as a refusal's record does.
      if (!options.late) intend(await this.parts.current().catch(() => UNREAD));
      result = await work(intend);
    } catch (error) {
      // A log that could not take the intent takes no refusal either: the refusal is the news.
      if (!unwritable) {
        const outcome = error instanceof ReidError ? error.code : "internal";
        const current = await this.parts.current().catch(() => null);
        // Refused before the store was touched (a state, the entropy source) on a store that did
        // not exist: it stays absent. A storage failure keeps its records: the attempt reached it.
        const untouched = !(error instanceof StorageError) && current?.generation === 0;
        const withdrawn = intent !== null && untouched && this.parts.audit?.withdraw();
        try {
          if (!withdrawn) this.record(named(), who, outcome, current, details(), intent);
        } catch {}
      }
      throw error;
    }
    const written = intent as AuditRecord | null;
    if (
      written !== null &&
      sole === JSON.stringify(details() ?? {}) &&
      written.generation === result.record.generation &&
      written.handle === result.record.handle
    ) {
      // The intent already says all the outcome would (docs/spec.md §9.3): readers fold it to `ok`.
      return result.value;
    }
    try {
      this.record(named(), who, "ok", result.record, details(), intent);
    } catch (error) {
      // Only a work that changed nothing comes here without an intent.
      if (!intent) throw error;
    }
    return result.value;
  }

  /** The owner's proof alone, unaudited (a read that needs the PIN's TPM authorization). */
  async prove(credentials: Credentials | undefined): Promise<void> {
    await this.checkProof(credentials);
  }

  /**
   * An actor that gives no proof but may use the unlock window passes while it is open and covers
   * `name`, and is recorded as `PRINCIPAL:unlocked`; any other has its proof checked. Returns the
   * actor the records name.
   */
  private async authorize(name: string, actor: Actor): Promise<Actor> {
    const credentials: Credentials | undefined = actor.credentials;
    if (
      !credentials?.passkey &&
      credentials?.pin === undefined &&
      actor.windowed &&
      this.parts.owner?.isSet() &&
      this.parts.window?.covers(name)
    ) {
      return { principal: `${actor.principal}:unlocked` };
    }
    await this.checkProof(credentials);
    return actor;
  }

  /**
   * A passkey proof is checked whenever one is given (a locked element refuses it first, unless
   * the owner let passkeys bypass the lockout); otherwise the PIN, once one is set.
   */
  private async checkProof(credentials: Credentials | undefined): Promise<void> {
    if (credentials?.passkey) {
      if (!this.parts.passkeys) throw new AuthError("unknown-passkey", "this element keeps no passkeys");
      this.parts.owner?.checkPasskeyAllowed();
      await this.parts.passkeys.verify(credentials.passkey);
      return;
    }
    await this.parts.owner?.authorize(credentials);
  }

  /**
   * Appends the summaries of refusals (docs/spec.md §9.5), placed at the element's generation and
   * handle now; the last append syncs them all. Nothing to record, or no log: nothing written.
   */
  async summarise(summaries: (place: SummaryPlace) => AuditEntry[]): Promise<number> {
    const audit = this.parts.audit;
    if (!audit) return 0;
    await this.recover();
    const current = await this.parts.current().catch(() => UNREAD);
    const entries = summaries({ generation: current.generation, handle: current.handle });
    entries.forEach((entry, i) => {
      audit.append(entry, { sync: i === entries.length - 1 });
    });
    return entries.length;
  }

  /**
   * The audit log as operations, oldest first (an intent folded into its outcome), and whether its
   * chain is intact and accounts for every generation the store has committed.
   */
  async log(credentials?: Credentials): Promise<{ records: AuditRecord[]; verdict: AuditVerdict }> {
    const audit = this.parts.audit;
    if (!audit)
      return { records: [], verdict: { intact: true, records: 0, head: "0".repeat(64), key: "none" } };
    // Its MACs are checked under the store's audit key, when it can be had (§9.7); a key under the
    // owner's PIN is had with the PIN the reader gave, checked and counted as every try.
    await audit.loadKey({ verifying: true });
    if (audit.keyLocked() && credentials?.pin !== undefined) {
      await this.checkProof(credentials);
      await audit.loadKey({ verifying: true });
    }
    // A store that cannot be read is reported by the commands that need it; the chain is still checked.
    const committed = await this.parts.current().catch(() => undefined);
    // With what the record in force carries (a crash kept it from the log; a writer takes it back).
    const journal = await this.parts.journal().catch(() => null);
    return { records: operations(audit.read(journal), committed), verdict: audit.verify(committed, journal) };
  }

  /**
   * Before this gate's first record: takes back into the log what the record in force carries and
   * a crash kept from it (docs/spec.md §9.3), so the chain goes on from the whole log. Areas that
   * read but cannot serve (corrupt, another store's, sealed without the key) are left to the
   * operation to report; an area or log that cannot be read refuses it.
   */
  private async recover(): Promise<void> {
    const audit = this.parts.audit;
    if (this.recovered || !audit) return;
    let journal: Uint8Array | null;
    try {
      journal = await this.parts.journal();
    } catch (error) {
      // A TPM store under the PIN's authorization keeps no journal (its journalCapacity is 0).
      if (error instanceof ReidError && (AREA_VERDICTS.has(error.code) || error.code === "pin-required"))
        journal = null;
      else throw error;
    }
    if (journal) audit.recover(journal);
    // Records from the key's first one on carry its MAC: the key is loaded before any is written.
    await audit.loadKey();
    this.recovered = true;
  }

  /** An intent's outcome follows it unsynced: the intent is durable, the next sync carries it. */
  private record(
    name: string,
    actor: Actor,
    outcome: string,
    record: RecordInfo | null,
    detail: AuditDetail | undefined,
    intent: AuditRecord | null,
  ): void {
    const entry = this.entry(name, actor, outcome, record, detail);
    this.parts.audit?.append(intent ? { ...entry, of: intent.seq } : entry, { sync: intent === null });
  }

  private entry(
    name: string,
    actor: Actor,
    outcome: string,
    record: Intended | null,
    detail: AuditDetail | undefined,
  ): AuditEntry {
    return {
      time: this.parts.now().toISOString(),
      request: name,
      principal: actor.principal,
      outcome,
      generation: record?.generation ?? 0,
      handle: record?.handle ?? null,
      ...(detail ? { detail } : {}),
    };
  }
}
