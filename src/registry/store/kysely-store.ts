import { CompiledQuery, type Insertable, type Kysely, type Selectable, type Transaction } from "kysely";
import { ReidError, StateError } from "../../errors.js";
import {
  certificateNotCurrent,
  deviceExists,
  deviceNotActive,
  tokenRefused,
  unknownDevice,
} from "../registry-errors.js";
import { BatchedRead } from "./batched-read.js";
import {
  type Change,
  type CommitTogether,
  GroupCommit,
  type RecordEvents,
  type Together,
  type WriteTogether,
} from "./group-commit.js";
import { LISTED_ENROLLMENT } from "./migrations/0006-listed-enrollments-index.js";
import type {
  CertificatesTable,
  DevicesTable,
  EnrollmentTokensTable,
  EventsTable,
  LogCheckpointsTable,
  RegistrySchema,
} from "./schema.js";
import {
  type Device,
  type DeviceImport,
  type DeviceQuery,
  type DeviceStatus,
  type Enrollment,
  type EnrollmentToken,
  type EventType,
  type Flag,
  type ImportedDevice,
  type ImportOutcome,
  type IssuedCertificate,
  LOG_PAGE_LIMIT,
  type LogAppend,
  type NewCertificate,
  type NewToken,
  type RegistryEvent,
  type RegistryStore,
  type Renewal,
  type Revocation,
  type StoredCheckpoint,
  type Succession,
} from "./store.js";
import {
  checkDeviceQuery,
  checkEnrollment,
  checkFlagQuery,
  checkHandle,
  checkHash,
  checkImport,
  checkLeafRange,
  checkLogAppend,
  checkRenewal,
  checkRevocation,
  checkSuccession,
  checkTime,
} from "./store-inputs.js";

const DEFAULT_EVENT_LIMIT = 1000;
/**
 * Rows per statement of an import: 8 columns each stays far below SQLite's 32,766 and PostgreSQL's
 * 65,535 parameters, and one statement of the same size is prepared once and run again.
 */
export const IMPORT_ROWS = 500;
const HASH_BYTES = 32;

/** What a driver adds to the store: its own ways of the database it drives (docs/spec.md §10.3). */
export interface DriverHooks {
  /**
   * A driver whose commit returns before the disk has it (SQLite's, §10.3) says here when all
   * committed so far is on disk; every write is answered only then.
   */
  readonly durable?: () => Promise<void>;
  /**
   * How a group's events are inserted at the end of its transaction, in place of `writeEvents`
   * (PostgreSQL's: the lock of the event order first, held from there to the commit, then one
   * statement that reads the log's length as it inserts).
   */
  readonly recordEvents?: RecordEvents<RegistrySchema, NewEvent, WrittenEvent>;
  /**
   * Enrollments written by one statement (PostgreSQL's, a column per array), one alone or several
   * asked at once: throws one's own refusal, or for several that any one of them would be refused,
   * and the group runs again change by change.
   */
  readonly enrollTogether?: WriteTogether<RegistrySchema, Enrollment>;
  /**
   * A group of token enrollments alone, with their events, written and committed by one statement
   * on a connection of `db` (PostgreSQL's: one round trip for the group); see CommitTogether.
   */
  readonly enrollAndCommit?: (
    db: Kysely<RegistrySchema>,
    enrollments: readonly Enrollment[],
    events: readonly NewEvent[],
  ) => Promise<WrittenEvent[] | null>;
  /** An import's rows of one table written at once: the driver's fastest way (PostgreSQL's COPY). */
  readonly bulkInsert?: BulkInsert;
}

/** Writes `rows` (values in the order of `columns`) into `table`, in the transaction. */
export type BulkInsert = (
  trx: Transaction<RegistrySchema>,
  table: "devices" | "certificates" | "events",
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
) => Promise<void>;

/**
 * The RegistryStore over any kysely dialect: every query is kysely's, so a second database is a
 * second dialect and driver file, not a second store. A driver gives the database and a way to
 * name its errors (busy, corrupt, an OS error) in reid's codes.
 */
export class KyselyRegistryStore implements RegistryStore {
  /** Protected: a test puts a group commit known to be wrong in its place. */
  protected group: GroupCommit<RegistrySchema, NewEvent, WrittenEvent>;

  private readonly durable: () => Promise<void>;
  private readonly bulkInsert: BulkInsert;
  private readonly enrollTogether: WriteTogether<RegistrySchema, Enrollment> | undefined;
  private readonly enrollAndCommit: CommitTogether<Enrollment, NewEvent, WrittenEvent> | undefined;
  private readonly tokens = new BatchedRead<Uint8Array, EnrollmentToken>(async (hashes) => {
    const rows = await this.db
      .selectFrom("enrollment_tokens")
      .selectAll()
      .where("hash", "in", hashes)
      .execute();
    return new Map(rows.map((row) => [hexOf(row.hash), tokenOf(row)]));
  }, hexOf);

  constructor(
    private readonly db: Kysely<RegistrySchema>,
    private readonly translate: (error: unknown) => unknown,
    driver: DriverHooks = {},
  ) {
    this.durable = driver.durable ?? (async () => {});
    this.bulkInsert = driver.bulkInsert ?? multiRowInsert();
    this.enrollTogether = driver.enrollTogether;
    const enrollAndCommit = driver.enrollAndCommit;
    this.enrollAndCommit = enrollAndCommit && ((items, events) => enrollAndCommit(db, items, events));
    this.group = new GroupCommit(
      db,
      this.durable,
      driver.recordEvents ?? ((trx, events) => writeEvents(trx, events, this.bulkInsert)),
    );
  }

  async enroll(enrollment: Enrollment): Promise<RegistryEvent> {
    checkEnrollment(enrollment);
    const data = enrollment.listed
      ? { serial: enrollment.certificate.serial, listed: true }
      : { serial: enrollment.certificate.serial };
    const change = () => oneEvent(eventRow("enrolled", enrollment.handle, data, enrollment.at));
    const together =
      this.enrollTogether && enrollment.tokenHash && !enrollment.listed
        ? { write: this.enrollTogether, commit: this.enrollAndCommit, item: enrollment, change }
        : undefined;
    return this.change(async (trx) => {
      // The token is spent in the same transaction: a refused enrollment leaves it unspent.
      if (enrollment.listed) await certifyListed(trx, enrollment);
      else if (this.enrollTogether) await this.enrollTogether(trx, [enrollment]);
      else {
        if (enrollment.tokenHash) await spendToken(trx, enrollment.tokenHash, enrollment.at);
        await insertDevice(trx, enrollment, null);
        await insertCertificate(trx, enrollment.handle, enrollment.certificate);
      }
      return change();
    }, together);
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
      return oneEvent(
        eventRow(
          "succeeded",
          handle,
          { predecessor, serial: succession.certificate.serial, ...succession.evidence },
          at,
        ),
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
      return oneEvent(eventRow("renewed", handle, { serial: certificate.serial, previous: old.serial }, at));
    });
  }

  async revoke(revocation: Revocation): Promise<RegistryEvent> {
    checkRevocation(revocation);
    const { handle, reason, at } = revocation;
    return this.change(async (trx) => {
      // A listed device is revoked too: it has no certificate to revoke, and never gets one.
      const device = await trx
        .updateTable("devices")
        .set({ status: "revoked", updated_at: at })
        .where("handle", "=", handle)
        .where("status", "in", ["active", "listed"])
        .returning(["certificate_serial"])
        .executeTakeFirst();
      if (!device) throw await refusalOf(trx, handle);
      const serial = device.certificate_serial;
      if (serial === null) return oneEvent(eventRow("revoked", handle, { reason }, at));
      await trx
        .updateTable("certificates")
        .set({ status: "revoked", revocation_reason: reason, revoked_at: at })
        .where("serial", "=", serial)
        .execute();
      return oneEvent(eventRow("revoked", handle, { serial, reason }, at));
    });
  }

  async importDevices(batch: DeviceImport): Promise<ImportOutcome> {
    checkImport(batch);
    const { devices, at } = batch;
    return this.change(async (trx) => {
      // Read in this transaction: on SQLite, whose write lock it holds, nothing enrolls between the
      // check and the insert; where something can, the insert fails on the key, and the batch with it.
      const fresh = await unknownOf(trx, devices);
      if (fresh.length > 0) {
        await this.bulkInsert(
          trx,
          "devices",
          DEVICE_COLUMNS,
          fresh.map((device) => valuesOf(deviceRow(device, at, null), DEVICE_COLUMNS)),
        );
        const certified = fresh.filter((device) => device.certificate !== undefined);
        if (certified.length > 0) {
          await this.bulkInsert(
            trx,
            "certificates",
            CERTIFICATE_COLUMNS,
            certified.map((device) =>
              valuesOf(
                certificateRow(device.handle, device.certificate as NewCertificate),
                CERTIFICATE_COLUMNS,
              ),
            ),
          );
        }
      }
      // Their events take the next leaves in the batch's order, with the group's others.
      const outcome = { imported: fresh.length, skipped: devices.length - fresh.length };
      return { events: fresh.map((device) => importedEvent(device, at)), answer: () => outcome };
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
      // Its event's reference to the device locks nothing another change holds: every change of a
      // device asks it to be active, and a fork is flagged on one that is not any more.
      return oneEvent(eventRow(flag.type, flag.handle, { ...flag.data }, flag.at));
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

  async succession(handle: string): Promise<RegistryEvent | null> {
    checkHandle(handle);
    return this.guard(async () => {
      // Through the partial index events_successions (migration 0004): only succession rows are read.
      const row = await this.db
        .selectFrom("events")
        .selectAll()
        .where("type", "=", "succeeded")
        .where("handle", "=", handle)
        .orderBy("sequence")
        .limit(1)
        .executeTakeFirst();
      return row ? eventOf(row) : null;
    });
  }

  async listedEnrollment(handle: string): Promise<RegistryEvent | null> {
    checkHandle(handle);
    return this.guard(async () => {
      // Through the partial index events_listed_enrollments (migration 0006), its predicate as written there.
      const row = await this.db
        .selectFrom("events")
        .selectAll()
        .where(LISTED_ENROLLMENT)
        .where("handle", "=", handle)
        .orderBy("sequence")
        .limit(1)
        .executeTakeFirst();
      return row ? eventOf(row) : null;
    });
  }

  logSize(): Promise<number> {
    return this.guard(async () => nextLeaf(this.db));
  }

  async eventsByLeaf(start: number, end: number): Promise<RegistryEvent[]> {
    checkLeafRange(start, end);
    return this.guard(async () => {
      const rows = await this.db
        .selectFrom("events")
        .selectAll()
        .where("leaf", ">=", start)
        .where("leaf", "<", end)
        .orderBy("leaf")
        .execute();
      return rows.map(eventOf);
    });
  }

  async logHashes(start: number, end: number): Promise<Uint8Array[]> {
    checkLeafRange(start, end);
    if (start === end) return [];
    return this.guard(async () => {
      // A pass holds LOG_PAGE_LIMIT leaves at most: one that holds `start` begins less than that before it.
      const rows = await this.db
        .selectFrom("log_hashes")
        .selectAll()
        .where("start", ">", start - LOG_PAGE_LIMIT)
        .where("start", "<", end)
        .orderBy("start")
        .execute();
      const hashes: Uint8Array[] = [];
      for (const row of rows) {
        const first = Number(row.start);
        const next = start + hashes.length;
        // Passes follow each other without a gap: one past the next leaf is where the stored log ends.
        if (first > next) break;
        for (let i = next; i < Math.min(end, first + row.hashes.length / HASH_BYTES); i++) {
          hashes.push(
            new Uint8Array(row.hashes.subarray((i - first) * HASH_BYTES, (i - first + 1) * HASH_BYTES)),
          );
        }
      }
      return hashes;
    });
  }

  async appendLog(append: LogAppend): Promise<void> {
    checkLogAppend(append);
    const { start, hashes, checkpoint } = append;
    return this.written(() =>
      this.db.transaction().execute(async (trx) => {
        // Checked in the transaction that writes: two integrators (a second server on the same
        // database) cannot both extend the log from one size.
        const newest = await newestCheckpointOf(trx);
        const last = await trx
          .selectFrom("log_hashes")
          .select((eb) => ["start", eb.fn<number>("length", ["hashes"]).as("bytes")])
          .orderBy("start", "desc")
          .limit(1)
          .executeTakeFirst();
        const stored = last ? Number(last.start) + Number(last.bytes) / HASH_BYTES : 0;
        if ((newest?.size ?? 0) !== start || stored !== start) {
          throw new StateError(
            "log-moved",
            `the stored log is at ${newest?.size ?? 0} leaves, not ${start}: another integrator moved it`,
          );
        }
        if (hashes.length > 0) {
          await trx
            .insertInto("log_hashes")
            .values({ start, hashes: Buffer.concat(hashes) })
            .execute();
        }
        await trx
          .insertInto("log_checkpoints")
          .values({ size: checkpoint.size, root: checkpoint.root, note: checkpoint.note, at: checkpoint.at })
          .execute();
      }),
    );
  }

  newestCheckpoint(): Promise<StoredCheckpoint | null> {
    return this.guard(() => newestCheckpointOf(this.db));
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

  /** Batched: the checks of the enrollments that arrived together are one query (batched-read.ts). */
  token(hash: Uint8Array): Promise<EnrollmentToken | null> {
    return this.guard(() => this.tokens.get(hash));
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

  /** One process on the database (SQLite's writer), so it integrates; PostgreSQL's driver asks its lease. */
  async logLease(): Promise<boolean> {
    return true;
  }

  close(): Promise<void> {
    return this.db.destroy();
  }

  /**
   * The device's change and its event commit together or not at all, in one transaction with the
   * other changes asked for at the same time (group-commit.ts).
   */
  private change<T, I>(
    task: (trx: Transaction<RegistrySchema>) => Promise<Change<T, NewEvent, WrittenEvent>>,
    together?: Together<RegistrySchema, T, NewEvent, WrittenEvent, I>,
  ): Promise<T> {
    return this.guard(() => this.group.run(task, together));
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

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
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

/**
 * A listed device's first certificate (§10.6): the row becomes active with it, only while it is
 * listed with this very key, so of two enrollments of one listed key the database lets one through.
 */
async function certifyListed(trx: Transaction<RegistrySchema>, enrollment: Enrollment): Promise<void> {
  const { handle, publicKey, certificate, at } = enrollment;
  const certified = await trx
    .updateTable("devices")
    .set({ status: "active", certificate_serial: certificate.serial, enrolled_at: at, updated_at: at })
    .where("handle", "=", handle)
    .where("status", "=", "listed")
    .where("public_key", "=", publicKey)
    .executeTakeFirst();
  if (certified.numUpdatedRows === 0n) throw deviceExists(handle);
  await insertCertificate(trx, handle, certificate);
}

export async function insertDevice(
  trx: Queries,
  device: Pick<Enrollment, "handle" | "publicKey" | "certificate" | "at">,
  predecessor: string | null,
): Promise<void> {
  const inserted = await trx
    .insertInto("devices")
    .values(deviceRow(device, device.at, predecessor))
    .onConflict((conflict) => conflict.column("handle").doNothing())
    .executeTakeFirst();
  if (inserted.numInsertedOrUpdatedRows === 0n) throw deviceExists(device.handle);
}

export async function insertCertificate(
  trx: Queries,
  handle: string,
  certificate: NewCertificate,
): Promise<void> {
  await trx.insertInto("certificates").values(certificateRow(handle, certificate)).execute();
}

export const DEVICE_COLUMNS = [
  "handle",
  "status",
  "public_key",
  "certificate_serial",
  "predecessor",
  "successor",
  "enrolled_at",
  "updated_at",
] as const;
const EVENT_COLUMNS = ["type", "handle", "data", "at", "leaf"] as const;
export const CERTIFICATE_COLUMNS = [
  "serial",
  "handle",
  "der",
  "not_before",
  "not_after",
  "status",
  "revocation_reason",
  "revoked_at",
] as const;

function valuesOf<T extends object>(row: T, columns: readonly string[]): unknown[] {
  return columns.map((column) => (row as Record<string, unknown>)[column] ?? null);
}

/**
 * Multi-row inserts of IMPORT_ROWS rows a statement, compiled once for each size of statement: a
 * batch's thousands of rows are not each walked through kysely's query builder.
 */
function multiRowInsert(): BulkInsert {
  // `insert into TABLE (COLUMNS) values (…), (…)` by table and count, compiled once by kysely (so
  // its placeholders are the store's dialect's, $1 or ?).
  const texts = new Map<string, string>();
  const textOf = (
    trx: Transaction<RegistrySchema>,
    table: string,
    columns: readonly string[],
    count: number,
  ) => {
    const key = `${table} ${count}`;
    let text = texts.get(key);
    if (text === undefined) {
      const row = Object.fromEntries(columns.map((column) => [column, null]));
      text = trx
        .insertInto(table as "devices")
        .values(Array.from({ length: count }, () => row) as Insertable<DevicesTable>[])
        .compile().sql;
      texts.set(key, text);
    }
    return text;
  };
  return async (trx, table, columns, rows) => {
    for (let start = 0; start < rows.length; start += IMPORT_ROWS) {
      const count = Math.min(IMPORT_ROWS, rows.length - start);
      // The statement's parameters row after row, filled in place (Array.flat costs as much as the insert).
      const parameters = new Array<unknown>(count * columns.length);
      for (let r = 0, at = 0; r < count; r++) {
        const row = rows[start + r] as readonly unknown[];
        for (let c = 0; c < row.length; c++) parameters[at++] = row[c];
      }
      await trx.executeQuery(CompiledQuery.raw(textOf(trx, table, columns, count), parameters));
    }
  };
}

/** A new device's row: active, its certificate current, enrolled now; listed without one. */
function deviceRow(
  device: Pick<ImportedDevice, "handle" | "publicKey" | "certificate">,
  at: string,
  predecessor: string | null,
): Insertable<DevicesTable> {
  return {
    handle: device.handle,
    status: device.certificate ? "active" : "listed",
    public_key: device.publicKey,
    certificate_serial: device.certificate?.serial ?? null,
    predecessor,
    successor: null,
    enrolled_at: at,
    updated_at: at,
  };
}

function certificateRow(handle: string, certificate: NewCertificate): Insertable<CertificatesTable> {
  return {
    serial: certificate.serial,
    handle,
    der: certificate.der,
    not_before: certificate.notBefore,
    not_after: certificate.notAfter,
    status: "valid",
    revocation_reason: null,
    revoked_at: null,
  };
}

/** An event a change records, before it is inserted (it has no sequence nor leaf yet). */
export type NewEvent = Omit<Insertable<EventsTable>, "leaf" | "sequence">;

/** What inserting an event gave it. */
export interface WrittenEvent {
  readonly sequence: number;
  readonly leaf: number;
}

function eventRow(type: EventType, handle: string, data: Record<string, unknown>, at: string): NewEvent {
  return { type, handle, data: JSON.stringify(data), at };
}

/** A change that records one event and answers with it. */
function oneEvent(event: NewEvent): Change<RegistryEvent, NewEvent, WrittenEvent> {
  return { events: [event], answer: ([written]) => eventOf({ ...event, ...(written as WrittenEvent) }) };
}

/**
 * An imported device's event, with the list's label if any: `listed` without a certificate, else
 * an enrollment's `enrolled`, marked.
 */
function importedEvent({ handle, certificate, label }: ImportedDevice, at: string): NewEvent {
  const named = label === undefined ? {} : { label };
  if (certificate)
    return eventRow("enrolled", handle, { serial: certificate.serial, imported: true, ...named }, at);
  // Most of a million listed devices have no label: their data is one text, not one JSON each.
  return label === undefined
    ? { type: "listed", handle, data: LISTED_DATA, at }
    : eventRow("listed", handle, { imported: true, label }, at);
}

const LISTED_DATA = JSON.stringify({ imported: true });

/** Rows per read of which devices a batch's handles name (a bound on the query's parameters). */
const PRESENCE_ROWS = 1000;

/**
 * The devices of `devices` the registry does not know yet; one it knows with the same key is left
 * out (an import run again), one it knows with another key is `device-exists`.
 */
async function unknownOf(trx: Queries, devices: readonly ImportedDevice[]): Promise<ImportedDevice[]> {
  const known = new Map<string, Uint8Array>();
  for (let start = 0; start < devices.length; start += PRESENCE_ROWS) {
    const handles = devices.slice(start, start + PRESENCE_ROWS).map((device) => device.handle);
    const rows = await trx
      .selectFrom("devices")
      .select(["handle", "public_key"])
      .where("handle", "in", handles)
      .execute();
    for (const row of rows) known.set(row.handle, new Uint8Array(row.public_key));
  }
  if (known.size === 0) return [...devices];
  return devices.filter((device) => {
    const key = known.get(device.handle);
    if (key === undefined) return true;
    if (Buffer.compare(key, device.publicKey) !== 0) throw deviceExists(device.handle);
    return false;
  });
}

/** One event inserted on its own (a test's fixture): what a change's group does for its events. */
export async function appendEvent(
  trx: Queries,
  type: EventType,
  handle: string,
  data: Record<string, unknown>,
  at: string,
): Promise<RegistryEvent> {
  const event = eventRow(type, handle, data, at);
  return eventOf({ ...event, ...((await writeEvents(trx, [event]))[0] as WrittenEvent) });
}

/**
 * A group's events, in its order, each given the next leaf: the log's length, moved on by their
 * number in the transaction that inserts them. Groups write their events one after another (one
 * writer on SQLite; on PostgreSQL the length's row, locked by the update until the commit), so the
 * log has no hole and no index twice, and an index is never seen before the ones below it.
 */
export async function writeEvents(
  trx: Queries,
  events: readonly NewEvent[],
  bulkInsert?: BulkInsert,
): Promise<WrittenEvent[]> {
  const length = await trx
    .updateTable("log_length")
    .set((eb) => ({ leaves: eb("leaves", "+", events.length) }))
    .returning("leaves")
    .executeTakeFirstOrThrow();
  const first = Number(length.leaves) - events.length;
  const leaves = events.map((event, i) => ({ ...event, leaf: first + i }));
  if (bulkInsert && events.length > IMPORT_ROWS) {
    // An import's thousands: written as its devices are, their sequences read back by leaf.
    await bulkInsert(
      trx as Transaction<RegistrySchema>,
      "events",
      EVENT_COLUMNS,
      leaves.map((event) => valuesOf(event, EVENT_COLUMNS)),
    );
    const rows = await trx
      .selectFrom("events")
      .select(["sequence", "leaf"])
      .where("leaf", ">=", first)
      .where("leaf", "<", first + events.length)
      .orderBy("leaf")
      .execute();
    return rows.map((row) => ({ sequence: Number(row.sequence), leaf: Number(row.leaf) }));
  }
  const rows: { sequence: number | string; leaf: number | string }[] = [];
  for (let start = 0; start < leaves.length; start += IMPORT_ROWS) {
    rows.push(
      ...(await trx
        .insertInto("events")
        .values(leaves.slice(start, start + IMPORT_ROWS))
        .returning(["sequence", "leaf"])
        .execute()),
    );
  }
  return writtenInOrder(rows);
}

/** What an insert of events returned, placed by leaf: neither engine promises RETURNING's rows in the order of VALUES. */
export function writtenInOrder(
  rows: readonly { sequence: number | string; leaf: number | string }[],
): WrittenEvent[] {
  const first = rows.reduce((low, row) => Math.min(low, Number(row.leaf)), Number.POSITIVE_INFINITY);
  const written: WrittenEvent[] = [];
  for (const row of rows)
    written[Number(row.leaf) - first] = { sequence: Number(row.sequence), leaf: Number(row.leaf) };
  return written;
}

/** The leaf the next event takes: the log's length. */
async function nextLeaf(db: Queries): Promise<number> {
  const row = await db.selectFrom("log_length").select("leaves").executeTakeFirstOrThrow();
  return Number(row.leaves);
}

async function newestCheckpointOf(db: Queries): Promise<StoredCheckpoint | null> {
  const row = await db
    .selectFrom("log_checkpoints")
    .selectAll()
    .orderBy("size", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? checkpointOf(row) : null;
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

function eventOf(row: Omit<Selectable<EventsTable>, "sequence" | "leaf"> & WrittenEvent): RegistryEvent {
  return {
    sequence: Number(row.sequence),
    type: row.type as EventType,
    handle: row.handle,
    data: JSON.parse(row.data) as Record<string, unknown>,
    at: row.at,
    leaf: Number(row.leaf),
  };
}

function checkpointOf(row: Selectable<LogCheckpointsTable>): StoredCheckpoint {
  return { size: Number(row.size), root: new Uint8Array(row.root), note: row.note, at: row.at };
}
