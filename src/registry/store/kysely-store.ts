import type { Kysely, Selectable, Transaction } from "kysely";
import { ReidError } from "../../errors.js";
import {
  certificateNotCurrent,
  deviceExists,
  deviceNotActive,
  tokenRefused,
  unknownDevice,
} from "../registry-errors.js";
import { GroupCommit } from "./group-commit.js";
import type {
  CertificatesTable,
  DevicesTable,
  EnrollmentTokensTable,
  EventsTable,
  RegistrySchema,
} from "./schema.js";
import type {
  Device,
  DeviceQuery,
  DeviceStatus,
  Enrollment,
  EnrollmentToken,
  EventType,
  Flag,
  IssuedCertificate,
  NewCertificate,
  NewToken,
  RegistryEvent,
  RegistryStore,
  Renewal,
  Revocation,
  Succession,
} from "./store.js";
import {
  checkDeviceQuery,
  checkEnrollment,
  checkFlagQuery,
  checkHandle,
  checkHash,
  checkRenewal,
  checkRevocation,
  checkSuccession,
  checkTime,
} from "./store-inputs.js";

const DEFAULT_EVENT_LIMIT = 1000;

/**
 * The RegistryStore over any kysely dialect: every query is kysely's, so a second database is a
 * second dialect and driver file, not a second store. A driver gives the database and a way to
 * name its errors (busy, corrupt, an OS error) in reid's codes.
 */
export class KyselyRegistryStore implements RegistryStore {
  /** Protected: a test puts a group commit known to be wrong in its place. */
  protected group: GroupCommit<RegistrySchema>;

  /**
   * `durable`: a driver whose commit returns before the disk has it (SQLite's, §10.3) says here
   * when all committed so far is on disk; every write is answered only then. `beginChange`: what
   * the driver does first in every change's transaction (PostgreSQL's lock of the event order).
   */
  constructor(
    private readonly db: Kysely<RegistrySchema>,
    private readonly translate: (error: unknown) => unknown,
    private readonly durable: () => Promise<void> = async () => {},
    beginChange?: (trx: Transaction<RegistrySchema>) => Promise<void>,
  ) {
    this.group = new GroupCommit(db, durable, beginChange);
  }

  async enroll(enrollment: Enrollment): Promise<RegistryEvent> {
    checkEnrollment(enrollment);
    return this.change(async (trx) => {
      // The token is spent in the same transaction: a refused enrollment leaves it unspent.
      if (enrollment.tokenHash) await spendToken(trx, enrollment.tokenHash, enrollment.at);
      await insertDevice(trx, enrollment, null);
      await insertCertificate(trx, enrollment.handle, enrollment.certificate);
      return appendEvent(
        trx,
        "enrolled",
        enrollment.handle,
        { serial: enrollment.certificate.serial },
        enrollment.at,
      );
    });
  }

  async succeed(succession: Succession): Promise<RegistryEvent> {
    checkSuccession(succession);
    const { predecessor, handle, at } = succession;
    return this.change(async (trx) => {
      // A conditional update, not a read then a write: of two successors of one identity, the
      // database lets one through, and the fork is refused.
      const old = await trx
        .updateTable("devices")
        .set({ status: "superseded", successor: handle, updated_at: at })
        .where("handle", "=", predecessor)
        .where("status", "=", "active")
        .returning(["certificate_serial"])
        .executeTakeFirst();
      if (!old) throw await refusalOf(trx, predecessor);
      await trx
        .updateTable("certificates")
        .set({ status: "superseded", revocation_reason: "superseded", revoked_at: at })
        .where("serial", "=", old.certificate_serial)
        .execute();
      await insertDevice(trx, succession, predecessor);
      await insertCertificate(trx, handle, succession.certificate);
      return appendEvent(
        trx,
        "succeeded",
        handle,
        { predecessor, serial: succession.certificate.serial, ...succession.evidence },
        at,
      );
    });
  }

  async renew(renewal: Renewal): Promise<RegistryEvent> {
    checkRenewal(renewal);
    const { handle, certificate, previous, at } = renewal;
    return this.change(async (trx) => {
      // Conditional, as a succession is: only the current certificate of an active device (the
      // `previous` one, when named) is superseded, so of two renewals authorised by one
      // certificate the database lets one through.
      let current = trx
        .updateTable("certificates")
        .set({ status: "superseded", revocation_reason: "superseded", revoked_at: at })
        .where("handle", "=", handle)
        .where("status", "=", "valid")
        .where("serial", "=", (eb) =>
          eb
            .selectFrom("devices")
            .select("certificate_serial")
            .where("handle", "=", handle)
            .where("status", "=", "active"),
        );
      if (previous !== undefined) current = current.where("serial", "=", previous);
      const old = await current.returning(["serial"]).executeTakeFirst();
      // An active device whose current certificate is not `previous`: another renewal came first.
      if (!old) {
        const stale = previous === undefined ? undefined : certificateNotCurrent(handle, previous);
        throw await refusalOf(trx, handle, stale);
      }
      await insertCertificate(trx, handle, certificate);
      await trx
        .updateTable("devices")
        .set({ certificate_serial: certificate.serial, updated_at: at })
        .where("handle", "=", handle)
        .execute();
      return appendEvent(trx, "renewed", handle, { serial: certificate.serial, previous: old.serial }, at);
    });
  }

  async revoke(revocation: Revocation): Promise<RegistryEvent> {
    checkRevocation(revocation);
    const { handle, reason, at } = revocation;
    return this.change(async (trx) => {
      const device = await trx
        .updateTable("devices")
        .set({ status: "revoked", updated_at: at })
        .where("handle", "=", handle)
        .where("status", "=", "active")
        .returning(["certificate_serial"])
        .executeTakeFirst();
      if (!device) throw await refusalOf(trx, handle);
      await trx
        .updateTable("certificates")
        .set({ status: "revoked", revocation_reason: reason, revoked_at: at })
        .where("serial", "=", device.certificate_serial)
        .execute();
      return appendEvent(trx, "revoked", handle, { serial: device.certificate_serial, reason }, at);
    });
  }

  async flag(flag: Flag): Promise<RegistryEvent> {
    checkHandle(flag.handle);
    checkTime(flag.at);
    return this.change(async (trx) => {
      const known = await trx
        .selectFrom("devices")
        .select("handle")
        .where("handle", "=", flag.handle)
        .executeTakeFirst();
      if (!known) throw unknownDevice(flag.handle);
      return appendEvent(trx, flag.type, flag.handle, { ...flag.data }, flag.at);
    });
  }

  device(handle: string): Promise<Device | null> {
    return this.guard(async () => {
      const row = await this.db
        .selectFrom("devices")
        .selectAll()
        .where("handle", "=", handle)
        .executeTakeFirst();
      return row ? deviceOf(row) : null;
    });
  }

  async devices(query: DeviceQuery = {}): Promise<Device[]> {
    const limit = checkDeviceQuery(query);
    return this.guard(async () => {
      let select = this.db.selectFrom("devices").selectAll().orderBy("handle").limit(limit);
      if (query.status !== undefined) select = select.where("status", "=", query.status);
      if (query.after !== undefined) select = select.where("handle", ">", query.after);
      return (await select.execute()).map(deviceOf);
    });
  }

  certificate(serial: string): Promise<IssuedCertificate | null> {
    return this.guard(async () => {
      const row = await this.db
        .selectFrom("certificates")
        .selectAll()
        .where("serial", "=", serial)
        .executeTakeFirst();
      return row ? certificateOf(row) : null;
    });
  }

  async revokedCertificates(at: string): Promise<IssuedCertificate[]> {
    checkTime(at);
    return this.guard(async () => {
      const rows = await this.db
        .selectFrom("certificates")
        .selectAll()
        .where("status", "<>", "valid")
        .where("not_after", ">", at)
        .orderBy("revoked_at")
        .orderBy("serial")
        .execute();
      return rows.map(certificateOf);
    });
  }

  lastEventSequence(): Promise<number> {
    return this.guard(async () => {
      const row = await this.db
        .selectFrom("events")
        .select((eb) => eb.fn.max("sequence").as("last"))
        .executeTakeFirst();
      return Number(row?.last ?? 0);
    });
  }

  eventsSince(after: number, limit = DEFAULT_EVENT_LIMIT): Promise<RegistryEvent[]> {
    return this.guard(async () => {
      const rows = await this.db
        .selectFrom("events")
        .selectAll()
        .where("sequence", ">", after)
        .orderBy("sequence")
        .limit(limit)
        .execute();
      return rows.map(eventOf);
    });
  }

  async flags(handles: readonly string[], limit: number): Promise<RegistryEvent[]> {
    checkFlagQuery(handles, limit);
    return this.guard(async () => {
      // Through the partial index events_flags (migration 0002): only flag rows are read.
      const rows = await this.db
        .selectFrom("events")
        .selectAll()
        .where("type", "=", "fork-refused")
        .where("handle", "in", handles)
        .orderBy("sequence", "desc")
        .limit(limit)
        .execute();
      return rows.reverse().map(eventOf);
    });
  }

  async createToken(token: NewToken): Promise<void> {
    checkHash(token.hash);
    checkTime(token.createdAt);
    checkTime(token.expiresAt);
    return this.written(async () => {
      await this.db
        .insertInto("enrollment_tokens")
        .values({
          hash: token.hash,
          label: token.label,
          created_at: token.createdAt,
          expires_at: token.expiresAt,
          used_at: null,
        })
        .execute();
    });
  }

  async consumeToken(hash: Uint8Array, at: string): Promise<EnrollmentToken> {
    checkHash(hash);
    checkTime(at);
    return this.written(() => spendToken(this.db, hash, at));
  }

  token(hash: Uint8Array): Promise<EnrollmentToken | null> {
    return this.guard(async () => {
      const row = await this.db
        .selectFrom("enrollment_tokens")
        .selectAll()
        .where("hash", "=", hash)
        .executeTakeFirst();
      return row ? tokenOf(row) : null;
    });
  }

  async addOperatorToken(hash: Uint8Array, at: string): Promise<void> {
    checkHash(hash);
    checkTime(at);
    return this.written(async () => {
      await this.db.insertInto("operator_tokens").values({ hash, created_at: at }).execute();
    });
  }

  isOperatorToken(hash: Uint8Array): Promise<boolean> {
    return this.guard(async () => {
      const row = await this.db
        .selectFrom("operator_tokens")
        .select("hash")
        .where("hash", "=", hash)
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  close(): Promise<void> {
    return this.db.destroy();
  }

  /**
   * The device's change and its event commit together or not at all, in one transaction with the
   * other changes asked for at the same time (group-commit.ts).
   */
  private change<T>(task: (trx: Transaction<RegistrySchema>) => Promise<T>): Promise<T> {
    return this.guard(() => this.group.run(task));
  }

  /** A write outside a change's transaction: answered once it is on disk, as a change is. */
  private written<T>(task: () => Promise<T>): Promise<T> {
    return this.guard(async () => {
      const value = await task();
      await this.durable();
      return value;
    });
  }

  /** Runs a query; an error of the database becomes reid's (the driver names it), a ReidError stays. */
  private async guard<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      throw error instanceof ReidError ? error : this.translate(error);
    }
  }
}

/** Where a statement runs: in a transaction of the store's, or (a test's careless driver) on its own. */
export type Queries = Kysely<RegistrySchema> | Transaction<RegistrySchema>;

/** Single use held by the database: the update matches only an unused, unexpired token. */
async function spendToken(db: Queries, hash: Uint8Array, at: string): Promise<EnrollmentToken> {
  const row = await db
    .updateTable("enrollment_tokens")
    .set({ used_at: at })
    .where("hash", "=", hash)
    .where("used_at", "is", null)
    .where("expires_at", ">", at)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw tokenRefused();
  return tokenOf(row);
}

export async function insertDevice(
  trx: Queries,
  device: Pick<Enrollment, "handle" | "publicKey" | "certificate" | "at">,
  predecessor: string | null,
): Promise<void> {
  const inserted = await trx
    .insertInto("devices")
    .values({
      handle: device.handle,
      status: "active",
      public_key: device.publicKey,
      certificate_serial: device.certificate.serial,
      predecessor,
      successor: null,
      enrolled_at: device.at,
      updated_at: device.at,
    })
    .onConflict((conflict) => conflict.column("handle").doNothing())
    .executeTakeFirst();
  if (inserted.numInsertedOrUpdatedRows === 0n) throw deviceExists(device.handle);
}

export async function insertCertificate(
  trx: Queries,
  handle: string,
  certificate: NewCertificate,
): Promise<void> {
  await trx
    .insertInto("certificates")
    .values({
      serial: certificate.serial,
      handle,
      der: certificate.der,
      not_before: certificate.notBefore,
      not_after: certificate.notAfter,
      status: "valid",
      revocation_reason: null,
      revoked_at: null,
    })
    .execute();
}

export async function appendEvent(
  trx: Queries,
  type: EventType,
  handle: string,
  data: Record<string, unknown>,
  at: string,
): Promise<RegistryEvent> {
  const row = await trx
    .insertInto("events")
    .values({ type, handle, data: JSON.stringify(data), at })
    .returningAll()
    .executeTakeFirstOrThrow();
  return eventOf(row);
}

/**
 * Why a conditional update matched nothing: no such device, one no longer active, or (`ifActive`)
 * what else the update asked of an active one.
 */
async function refusalOf(
  trx: Transaction<RegistrySchema>,
  handle: string,
  ifActive?: ReidError,
): Promise<ReidError> {
  const row = await trx
    .selectFrom("devices")
    .select("status")
    .where("handle", "=", handle)
    .executeTakeFirst();
  if (!row) return unknownDevice(handle);
  return row.status === "active" && ifActive ? ifActive : deviceNotActive(handle, row.status);
}

function deviceOf(row: Selectable<DevicesTable>): Device {
  return {
    handle: row.handle,
    status: row.status as DeviceStatus,
    publicKey: new Uint8Array(row.public_key),
    certificateSerial: row.certificate_serial,
    predecessor: row.predecessor,
    successor: row.successor,
    enrolledAt: row.enrolled_at,
    updatedAt: row.updated_at,
  };
}

function certificateOf(row: Selectable<CertificatesTable>): IssuedCertificate {
  return {
    serial: row.serial,
    handle: row.handle,
    der: new Uint8Array(row.der),
    notBefore: row.not_before,
    notAfter: row.not_after,
    status: row.status as IssuedCertificate["status"],
    revocationReason: row.revocation_reason,
    revokedAt: row.revoked_at,
  };
}

function tokenOf(row: Selectable<EnrollmentTokensTable>): EnrollmentToken {
  return {
    hash: new Uint8Array(row.hash),
    label: row.label,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };
}

function eventOf(row: Selectable<EventsTable>): RegistryEvent {
  return {
    sequence: Number(row.sequence),
    type: row.type as EventType,
    handle: row.handle,
    data: JSON.parse(row.data) as Record<string, unknown>,
    at: row.at,
  };
}
