import type { AuditEntry, AuditLog, AuditRecord, AuditVerdict } from "../audit/audit-log.js";
import type { Actor, Credentials } from "../auth/actor.js";
import type { OwnerPin } from "../auth/owner-pin.js";
import type { PasskeyStore } from "../auth/passkey-store.js";
import { AuthError, ReidError, StorageError } from "../errors.js";
import type { RecordInfo } from "../storage/record.js";

export type AuditDetail = AuditEntry["detail"];

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
  /** Absent: nothing is recorded. */
  readonly audit: AuditLog | null;
  readonly now: () => Date;
  /** The element's record now, for the audit record of a refusal. */
  readonly current: () => Promise<RecordInfo>;
}

/**
 * The owner gate: the actor is authorized first (by the PIN, or by a passkey's fresh assertion),
 * then the work runs, then its audit record is written, whatever the outcome.
 */
export class OwnerGate {
  constructor(private readonly parts: GateParts) {}

  /**
   * One owner operation. A failure to audit a refusal is left unsaid (the refusal is the news); a
   * failure to audit a change that happened is an error.
   */
  async operation<T>(
    name: string | (() => string),
    actor: Actor,
    work: () => Promise<{ record: RecordInfo; value: T }>,
    detail?: AuditDetail | (() => AuditDetail),
  ): Promise<T> {
    const named = () => (typeof name === "function" ? name() : name);
    const details = () => {
      const value = typeof detail === "function" ? detail() : detail;
      return value && Object.keys(value).length > 0 ? value : undefined;
    };
    let result: { record: RecordInfo; value: T };
    try {
      if (!actor.preauthorized) await this.authorize(actor.credentials);
      result = await work();
    } catch (error) {
      const outcome = error instanceof ReidError ? error.code : "internal";
      const current = await this.parts.current().catch(() => null);
      try {
        this.record(named(), actor, outcome, current, details());
      } catch {}
      throw error;
    }
    try {
      this.record(named(), actor, "ok", result.record, details());
    } catch (error) {
      throw new StorageError(
        `${named()} was carried out, but its audit record could not be written: ${(error as Error).message}`,
        "audit-failure",
      );
    }
    return result.value;
  }

  /** A passkey proof is checked whenever one is given; otherwise the PIN, once one is set. */
  private async authorize(credentials: Credentials | undefined): Promise<void> {
    if (credentials?.passkey) {
      if (!this.parts.passkeys) throw new AuthError("unknown-passkey", "this element keeps no passkeys");
      await this.parts.passkeys.verify(credentials.passkey);
      return;
    }
    await this.parts.owner?.authorize(credentials);
  }

  /** The audit log, oldest record first, and whether its chain is intact. */
  log(): { records: AuditRecord[]; verdict: AuditVerdict } {
    const audit = this.parts.audit;
    if (!audit) return { records: [], verdict: { intact: true, records: 0, head: "0".repeat(64) } };
    return { records: audit.read(), verdict: audit.verify() };
  }

  private record(
    name: string,
    actor: Actor,
    outcome: string,
    record: RecordInfo | null,
    detail?: AuditDetail,
  ): void {
    this.parts.audit?.append({
      time: this.parts.now().toISOString(),
      request: name,
      principal: actor.principal,
      outcome,
      generation: record?.generation ?? 0,
      handle: record?.handle ?? null,
      ...(detail ? { detail } : {}),
    });
  }
}
