// The RegistryStore contract (docs/spec.md §10.4), one suite for every driver: a driver passes only
// if a device's change and its event commit together or not at all, a token is spent once however
// many consumers race for it, events come in the order they happened, and filters and refusals
// say exactly what they should. Each check is a plain function too, so the test file can show that
// it fails against a driver known to be wrong.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, type TestContext, test } from "node:test";
import { ExitCode, ReidError } from "../../src/errors.js";
import {
  type Enrollment,
  IMPORT_BATCH_LIMIT,
  type ImportedDevice,
  type NewCertificate,
  type RegistryStore,
  type Renewal,
  type Succession,
} from "../../src/registry/store/store.js";

/** One fresh, empty registry database of a driver. */
export interface RegistryFixture {
  /** A store on this database; each call opens another (a second connection, as a second process would). */
  open(): Promise<RegistryStore>;
  /** From now on every insert into the events table fails, whoever makes it (a full disk, say). */
  failEvents(): Promise<void>;
  /** Runs `text` on the database behind the driver's back (what a careless writer would do). */
  sql(text: string): Promise<void>;
}

export interface RegistryBackend {
  readonly name: string;
  /** A new fixture; the backend cleans up when the test ends. */
  fixture(t: TestContext): Promise<RegistryFixture>;
}

type Check = (fixture: RegistryFixture, t: TestContext) => Promise<void>;

const T0 = Date.parse("2026-12-01T09:00:00.000Z");
/** A time `seconds` after T0, as the store takes it. */
export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

export function newHandle(): string {
  return randomBytes(16).toString("hex");
}

function newSerial(): string {
  return `1${randomBytes(15).toString("hex")}`;
}

export function newEnrollment(options: { at?: string; tokenHash?: Uint8Array } = {}): Enrollment {
  const when = options.at ?? at(0);
  return {
    handle: newHandle(),
    publicKey: randomBytes(44),
    certificate: { serial: newSerial(), der: randomBytes(300), notBefore: when, notAfter: at(86_400) },
    ...(options.tokenHash ? { tokenHash: options.tokenHash } : {}),
    at: when,
  };
}

function newSuccession(predecessor: string, when = at(10)): Succession {
  const { handle, publicKey, certificate } = newEnrollment({ at: when });
  return { predecessor, handle, publicKey, certificate, at: when };
}

function newRenewal(handle: string, when = at(10), previous?: string): Renewal {
  return {
    handle,
    certificate: newEnrollment({ at: when }).certificate,
    ...(previous === undefined ? {} : { previous }),
    at: when,
  };
}

/** `count` devices of an import, each with its own key and certificate. */
/** An imported device with its certificate (`registry import --certify`). */
export type CertifiedImport = ImportedDevice & { readonly certificate: NewCertificate };

export function newImported(count: number): CertifiedImport[] {
  return Array.from({ length: count }, () => {
    const { handle, publicKey, certificate } = newEnrollment();
    return { handle, publicKey, certificate };
  });
}

export function tokenHash(token = randomBytes(32).toString("base64url")): Uint8Array {
  return new Uint8Array(createHash("sha256").update(token).digest());
}

async function withStore<T>(
  fixture: RegistryFixture,
  task: (store: RegistryStore) => Promise<T>,
): Promise<T> {
  const store = await fixture.open();
  try {
    return await task(store);
  } finally {
    await store.close();
  }
}

/** `promise` rejects with the ReidError of `code` (and its exit status). */
export async function refused(promise: Promise<unknown>, code: string, exitCode?: number): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ReidError, `expected a ReidError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (exitCode !== undefined) assert.equal(error.exitCode, exitCode);
    return true;
  });
}

/** Everything a store shows, to compare before and after a refused change. */
async function snapshot(store: RegistryStore, handles: readonly string[]) {
  const devices = await store.devices();
  const certificates = await Promise.all(
    devices.map((d) => (d.certificateSerial === null ? null : store.certificate(d.certificateSerial))),
  );
  const asked = await Promise.all(handles.map((h) => store.device(h)));
  return { devices, certificates, asked, events: await store.eventsSince(0) };
}

export const CHECKS: Readonly<Record<string, Check>> = {
  "an enrolled device reads back with its certificate and its event, also after reopening": async (
    fixture,
  ) => {
    const enrollment = newEnrollment();
    const event = await withStore(fixture, (store) => store.enroll(enrollment));
    assert.equal(event.type, "enrolled");
    assert.equal(event.handle, enrollment.handle);
    assert.deepEqual(event.data, { serial: enrollment.certificate.serial });
    await withStore(fixture, async (store) => {
      const device = await store.device(enrollment.handle);
      assert.ok(device);
      assert.equal(device.status, "active");
      assert.deepEqual(device.publicKey, new Uint8Array(enrollment.publicKey));
      assert.equal(device.certificateSerial, enrollment.certificate.serial);
      assert.equal(device.predecessor, null);
      assert.equal(device.successor, null);
      assert.equal(device.enrolledAt, enrollment.at);
      const certificate = await store.certificate(enrollment.certificate.serial);
      assert.ok(certificate);
      assert.deepEqual(certificate.der, new Uint8Array(enrollment.certificate.der));
      assert.equal(certificate.handle, enrollment.handle);
      assert.equal(certificate.status, "valid");
      assert.equal(certificate.revokedAt, null);
      assert.deepEqual(await store.eventsSince(0), [event]);
      assert.equal(await store.device(newHandle()), null);
    });
  },

  "a device change and its event commit together or not at all": async (fixture) => {
    await withStore(fixture, async (store) => {
      const kept = newEnrollment();
      const toRevoke = newEnrollment();
      await store.enroll(kept);
      await store.enroll(toRevoke);
      const spendable = tokenHash();
      await store.createToken({ hash: spendable, label: null, createdAt: at(0), expiresAt: at(3600) });
      const before = await snapshot(store, [kept.handle, toRevoke.handle]);
      await fixture.failEvents();
      const lost = newEnrollment({ at: at(5), tokenHash: spendable });
      const successor = newSuccession(kept.handle);
      await assert.rejects(store.enroll(lost));
      await assert.rejects(store.succeed(successor));
      await assert.rejects(store.revoke({ handle: toRevoke.handle, reason: "key-compromise", at: at(20) }));
      await assert.rejects(store.renew(newRenewal(toRevoke.handle)));
      assert.deepEqual(await snapshot(store, [kept.handle, toRevoke.handle, lost.handle, successor.handle]), {
        ...before,
        asked: [...before.asked, null, null],
      });
      assert.equal(await store.certificate(lost.certificate.serial), null);
      assert.equal((await store.token(spendable))?.usedAt, null, "a refused enrollment spent its token");
    });
  },

  "a token is spent once: of two consumers on two connections, one wins": async (fixture) => {
    const [first, second] = [await fixture.open(), await fixture.open()];
    try {
      const hashes = Array.from({ length: 20 }, () => tokenHash());
      for (const hash of hashes) {
        await first.createToken({ hash, label: "race", createdAt: at(0), expiresAt: at(3600) });
      }
      for (const hash of hashes) {
        const outcomes = await Promise.allSettled([
          first.consumeToken(hash, at(1)),
          second.consumeToken(hash, at(1)),
        ]);
        assert.equal(
          outcomes.filter((o) => o.status === "fulfilled").length,
          1,
          "both consumers spent one token",
        );
        const loser = outcomes.find((o) => o.status === "rejected");
        await refused(Promise.reject(loser?.reason), "token-refused", ExitCode.auth);
        assert.equal((await second.token(hash))?.usedAt, at(1));
      }
      await refused(first.consumeToken(hashes[0] as Uint8Array, at(2)), "token-refused");
    } finally {
      await first.close();
      await second.close();
    }
  },

  "an expired or unknown token is refused, and so is an enrollment with one": async (fixture) => {
    await withStore(fixture, async (store) => {
      const hash = tokenHash();
      await store.createToken({ hash, label: "door", createdAt: at(0), expiresAt: at(60) });
      // The expiry instant itself is too late.
      await refused(store.consumeToken(hash, at(60)), "token-refused", ExitCode.auth);
      await refused(store.consumeToken(tokenHash(), at(1)), "token-refused");
      const enrollment = newEnrollment({ at: at(61), tokenHash: hash });
      await refused(store.enroll(enrollment), "token-refused");
      assert.equal(await store.device(enrollment.handle), null);
      const token = await store.token(hash);
      assert.deepEqual(token, { hash, label: "door", createdAt: at(0), expiresAt: at(60), usedAt: null });
      const spent = await store.consumeToken(hash, at(59));
      assert.equal(spent.usedAt, at(59));
    });
  },

  "tokens read at once (as a server's enrollments arriving together are) each come back as their own": async (
    fixture,
  ) => {
    await withStore(fixture, async (store) => {
      const hashes = Array.from({ length: 5 }, () => tokenHash());
      for (const [i, hash] of hashes.entries()) {
        await store.createToken({ hash, label: `t${i}`, createdAt: at(0), expiresAt: at(60 + i) });
      }
      await store.consumeToken(hashes[2] as Uint8Array, at(1));
      const unknown = tokenHash();
      // Asked in one turn: one read for all of them on a batching store; a key twice, an unknown one.
      const asked = [
        hashes[3],
        unknown,
        hashes[0],
        hashes[2],
        hashes[3],
        hashes[1],
        hashes[4],
      ] as Uint8Array[];
      const read = await Promise.all(asked.map((hash) => store.token(hash)));
      assert.deepEqual(
        read.map((token) => (token ? [token.label, token.expiresAt, token.usedAt] : null)),
        [
          ["t3", at(63), null],
          null,
          ["t0", at(60), null],
          ["t2", at(62), at(1)],
          ["t3", at(63), null],
          ["t1", at(61), null],
          ["t4", at(64), null],
        ],
      );
      for (const [i, token] of read.entries()) {
        if (token) assert.deepEqual(token.hash, asked[i]);
      }
    });
  },

  "an enrollment spends its token in its transaction; a second enrollment with it is refused": async (
    fixture,
  ) => {
    await withStore(fixture, async (store) => {
      const hash = tokenHash();
      await store.createToken({ hash, label: null, createdAt: at(0), expiresAt: at(60) });
      await store.enroll(newEnrollment({ at: at(1), tokenHash: hash }));
      assert.equal((await store.token(hash))?.usedAt, at(1));
      const second = newEnrollment({ at: at(2), tokenHash: hash });
      await refused(store.enroll(second), "token-refused");
      assert.equal(await store.device(second.handle), null);
    });
  },

  "events come in the order they happened, each after the last, and eventsSince(N) starts after N": async (
    fixture,
  ) => {
    await withStore(fixture, async (store) => {
      const first = newEnrollment();
      const events = [await store.enroll(first)];
      events.push(await store.succeed(newSuccession(first.handle)));
      for (let i = 0; i < 5; i++) events.push(await store.enroll(newEnrollment({ at: at(20 + i) })));
      events.push(await store.revoke({ handle: events[2]?.handle as string, reason: "retired", at: at(30) }));
      const sequences = events.map((e) => e.sequence);
      assert.ok(
        sequences.every((s, i) => i === 0 || s > (sequences[i - 1] as number)),
        `not increasing: ${sequences}`,
      );
      assert.deepEqual(await store.eventsSince(0), events);
      assert.deepEqual(await store.eventsSince(sequences[3] as number), events.slice(4));
      assert.deepEqual(await store.eventsSince(sequences[1] as number, 2), events.slice(2, 4));
      assert.deepEqual(await store.eventsSince(sequences.at(-1) as number), []);
      assert.deepEqual(
        events.map((e) => e.type),
        ["enrolled", "succeeded", "enrolled", "enrolled", "enrolled", "enrolled", "enrolled", "revoked"],
      );
    });
  },

  "status filters return exactly the devices of that status, in handle order": async (fixture) => {
    await withStore(fixture, async (store) => {
      const enrollments = Array.from({ length: 6 }, () => newEnrollment());
      for (const e of enrollments) await store.enroll(e);
      const [old, revoked] = enrollments as [Enrollment, Enrollment];
      const successor = newSuccession(old.handle);
      await store.succeed(successor);
      await store.revoke({ handle: revoked.handle, reason: "key-compromise", at: at(40) });
      const handles = async (status?: "active" | "superseded" | "revoked") =>
        (await store.devices(status ? { status } : {})).map((d) => d.handle);
      const all = [...enrollments.map((e) => e.handle), successor.handle].sort();
      assert.deepEqual(await handles(), all);
      assert.deepEqual(await handles("superseded"), [old.handle]);
      assert.deepEqual(await handles("revoked"), [revoked.handle]);
      assert.deepEqual(
        await handles("active"),
        all.filter((h) => h !== old.handle && h !== revoked.handle),
      );
    });
  },

  "devices come in keyset pages: in handle order, after a handle, within the limit, by status": async (
    fixture,
  ) => {
    await withStore(fixture, async (store) => {
      const enrollments = Array.from({ length: 7 }, () => newEnrollment());
      for (const e of enrollments) await store.enroll(e);
      const all = enrollments.map((e) => e.handle).sort();
      const revoked = [all[1], all[4], all[5]] as string[];
      for (const handle of revoked) await store.revoke({ handle, reason: "keyCompromise", at: at(9) });
      const page = async (query: Parameters<RegistryStore["devices"]>[0]) =>
        (await store.devices(query)).map((d) => d.handle);
      assert.deepEqual(await page({ limit: 3 }), all.slice(0, 3));
      assert.deepEqual(await page({ after: all[2], limit: 3 }), all.slice(3, 6));
      assert.deepEqual(await page({ after: all[5], limit: 3 }), all.slice(6));
      assert.deepEqual(await page({ after: all[6] }), []);
      // `after` need not be a device's handle: the page starts at the next one above it.
      assert.deepEqual(await page({ after: "0".repeat(32), limit: 1 }), all.slice(0, 1));
      assert.deepEqual(await page({ limit: 1000 }), all);
      assert.deepEqual(await page({ status: "revoked", limit: 2 }), revoked.slice(0, 2));
      assert.deepEqual(await page({ status: "revoked", after: revoked[1], limit: 2 }), revoked.slice(2));
      assert.deepEqual(await page({ status: "active", after: all[1], limit: 2 }), [all[2], all[3]]);
      for (const limit of [0, -1, 1001, 1.5, Number.NaN]) {
        await refused(store.devices({ limit }), "usage", ExitCode.usage);
      }
      await refused(store.devices({ after: all[0]?.toUpperCase() }), "usage");
      await refused(store.devices({ status: "lost" as "active" }), "usage");
    });
  },

  "a succession links both ways and revokes the old certificate; a second successor (a fork) is refused":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const old = newEnrollment();
        await store.enroll(old);
        const next = newSuccession(old.handle, at(10));
        const event = await store.succeed(next);
        assert.deepEqual(
          { type: event.type, handle: event.handle, data: event.data },
          {
            type: "succeeded",
            handle: next.handle,
            data: { predecessor: old.handle, serial: next.certificate.serial },
          },
        );
        const [was, now] = [await store.device(old.handle), await store.device(next.handle)];
        assert.equal(was?.status, "superseded");
        assert.equal(was?.successor, next.handle);
        assert.equal(now?.status, "active");
        assert.equal(now?.predecessor, old.handle);
        const oldCertificate = await store.certificate(old.certificate.serial);
        assert.equal(oldCertificate?.status, "superseded");
        assert.equal(oldCertificate?.revocationReason, "superseded");
        assert.equal(oldCertificate?.revokedAt, at(10));
        assert.equal((await store.certificate(next.certificate.serial))?.status, "valid");

        const before = await snapshot(store, [old.handle, next.handle]);
        const fork = newSuccession(old.handle, at(11));
        await refused(store.succeed(fork), "device-not-active", ExitCode.state);
        await refused(store.succeed(newSuccession(newHandle())), "unknown-device", ExitCode.state);
        // A successor whose handle is taken: refused, and the predecessor stays as it was.
        const fresh = newEnrollment();
        await store.enroll(fresh);
        const taken = { ...newSuccession(next.handle), handle: fresh.handle };
        await refused(store.succeed(taken), "device-exists", ExitCode.state);
        const after = await snapshot(store, [old.handle, next.handle, fork.handle]);
        assert.deepEqual(after.asked, [...before.asked, null]);
        assert.equal(after.events.length, before.events.length + 1, "only the fresh enrollment was recorded");
      });
    },

  "succession(handle) is the succeeded event that made the device, kept through its renewal; none for an enrolled one":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const old = newEnrollment();
        await store.enroll(old);
        const next = newSuccession(old.handle, at(10));
        const made = await store.succeed(next);
        await store.renew(newRenewal(next.handle, at(20)));
        await store.flag({
          type: "fork-refused",
          handle: next.handle,
          data: { successor: newHandle() },
          at: at(21),
        });
        assert.deepEqual(await store.succession(next.handle), made);
        assert.equal(await store.succession(old.handle), null, "enrolled, not a successor");
        assert.equal(await store.succession(newHandle()), null);
        await refused(store.succession("NOT-A-HANDLE"), "usage", ExitCode.usage);
      });
    },

  "a flag changes no device; flags(chain) reads the newest flags on any of its devices, oldest first, and no other event":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const old = newEnrollment();
        await store.enroll(old);
        const next = newSuccession(old.handle, at(10));
        await store.succeed(next);
        const other = newEnrollment();
        await store.enroll(other);
        const before = await snapshot(store, [old.handle, next.handle]);
        const flag = (handle: string, i: number) =>
          store.flag({
            type: "fork-refused",
            handle,
            data: { successor: newHandle(), status: "superseded" },
            at: at(20 + i),
          });
        const made = [await flag(old.handle, 0), await flag(other.handle, 1), await flag(next.handle, 2)];
        assert.deepEqual(
          { type: made[0]?.type, handle: made[0]?.handle, at: made[0]?.at },
          { type: "fork-refused", handle: old.handle, at: at(20) },
        );
        const after = await snapshot(store, [old.handle, next.handle]);
        assert.deepEqual([after.devices, after.asked], [before.devices, before.asked]);
        const chain = [old.handle, next.handle];
        assert.deepEqual(await store.flags(chain, 10), [made[0], made[2]]);
        assert.deepEqual(await store.flags(chain, 1), [made[2]], "not the newest");
        assert.deepEqual(await store.flags([other.handle], 10), [made[1]]);
        // Enrollments, successions and revocations are events, not flags.
        await store.revoke({ handle: other.handle, reason: "retired", at: at(30) });
        assert.deepEqual(await store.flags([other.handle, newHandle()], 10), [made[1]]);
        assert.deepEqual(await store.flags([newHandle()], 10), []);
        await refused(
          store.flag({ type: "fork-refused", handle: newHandle(), data: {}, at: at(31) }),
          "unknown-device",
        );
        await refused(store.flags([], 10), "usage");
        await refused(store.flags(["not a handle"], 10), "usage");
        await refused(store.flags(chain, 0), "usage");
        await refused(store.flags(chain, 1001), "usage");
        await refused(store.flags(Array.from({ length: 10_001 }, newHandle), 10), "usage");
        assert.equal((await store.flags(Array.from({ length: 10_000 }, newHandle), 10)).length, 0);
      });
    },

  "a revocation revokes the device and its certificate once; unknown devices are refused": async (
    fixture,
  ) => {
    await withStore(fixture, async (store) => {
      const enrollment = newEnrollment();
      await store.enroll(enrollment);
      const event = await store.revoke({ handle: enrollment.handle, reason: "key-compromise", at: at(5) });
      assert.deepEqual(event.data, { serial: enrollment.certificate.serial, reason: "key-compromise" });
      assert.equal((await store.device(enrollment.handle))?.status, "revoked");
      const certificate = await store.certificate(enrollment.certificate.serial);
      assert.equal(certificate?.status, "revoked");
      assert.equal(certificate?.revocationReason, "key-compromise");
      assert.equal(certificate?.revokedAt, at(5));
      await refused(
        store.revoke({ handle: enrollment.handle, reason: "retired", at: at(6) }),
        "device-not-active",
      );
      await refused(store.revoke({ handle: newHandle(), reason: "retired", at: at(6) }), "unknown-device");
      await refused(store.succeed(newSuccession(enrollment.handle)), "device-not-active");
      assert.equal((await store.eventsSince(0)).length, 2);
    });
  },

  "bad input is refused before anything is written; a known handle is refused without spending the token":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const good = newEnrollment();
        const bad: Enrollment[] = [
          { ...good, handle: good.handle.toUpperCase() },
          { ...good, handle: good.handle.slice(1) },
          { ...good, publicKey: new Uint8Array() },
          { ...good, certificate: { ...good.certificate, serial: `0${good.certificate.serial}` } },
          { ...good, certificate: { ...good.certificate, notAfter: good.certificate.notBefore } },
          { ...good, at: "2026-12-01 09:00:00" },
          { ...good, tokenHash: new Uint8Array(31) },
        ];
        for (const enrollment of bad) await refused(store.enroll(enrollment), "usage", ExitCode.usage);
        await refused(store.succeed({ ...newSuccession(good.handle), handle: good.handle }), "usage");
        await refused(store.revoke({ handle: good.handle, reason: "because\n", at: at(1) }), "usage");
        await refused(store.consumeToken(new Uint8Array(16), at(1)), "usage");
        assert.deepEqual(await store.devices(), []);
        assert.deepEqual(await store.eventsSince(0), []);

        await store.enroll(good);
        const hash = tokenHash();
        await store.createToken({ hash, label: null, createdAt: at(0), expiresAt: at(60) });
        const again = { ...newEnrollment({ at: at(1), tokenHash: hash }), handle: good.handle };
        await refused(store.enroll(again), "device-exists", ExitCode.state);
        assert.equal((await store.token(hash))?.usedAt, null);
        assert.equal(await store.certificate(again.certificate.serial), null);
        assert.equal((await store.eventsSince(0)).length, 1);
      });
    },

  "a renewal gives the device a new certificate and supersedes the old one, with its event": async (
    fixture,
  ) => {
    await withStore(fixture, async (store) => {
      const enrollment = newEnrollment();
      await store.enroll(enrollment);
      const old = enrollment.certificate.serial;
      const renewal = newRenewal(enrollment.handle, at(10), old);
      const event = await store.renew(renewal);
      assert.deepEqual(
        { type: event.type, handle: event.handle, data: event.data, at: event.at },
        {
          type: "renewed",
          handle: enrollment.handle,
          data: { serial: renewal.certificate.serial, previous: old },
          at: at(10),
        },
      );
      const device = await store.device(enrollment.handle);
      assert.equal(device?.status, "active");
      assert.equal(device?.certificateSerial, renewal.certificate.serial);
      assert.equal(device?.updatedAt, at(10));
      const was = await store.certificate(old);
      assert.deepEqual(
        [was?.status, was?.revocationReason, was?.revokedAt],
        ["superseded", "superseded", at(10)],
      );
      const now = await store.certificate(renewal.certificate.serial);
      assert.deepEqual([now?.status, now?.handle], ["valid", enrollment.handle]);
      assert.deepEqual(new Uint8Array(now?.der ?? []), new Uint8Array(renewal.certificate.der));
      assert.equal(await store.lastEventSequence(), event.sequence);
      // Without `previous` the current certificate is the one replaced.
      const again = await store.renew(newRenewal(enrollment.handle, at(20)));
      assert.equal(again.data.previous, renewal.certificate.serial);
      assert.equal((await store.devices({ status: "active" })).length, 1);
    });
  },

  "a renewal of a revoked, superseded or unknown device, or of a certificate no longer current, is refused and changes nothing":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const [revoked, superseded, renewed] = [newEnrollment(), newEnrollment(), newEnrollment()];
        for (const e of [revoked, superseded, renewed]) await store.enroll(e);
        await store.revoke({ handle: revoked.handle, reason: "key-compromise", at: at(5) });
        await store.succeed(newSuccession(superseded.handle, at(5)));
        await store.renew(newRenewal(renewed.handle, at(6), renewed.certificate.serial));
        const handles = [revoked.handle, superseded.handle, renewed.handle];
        const before = await snapshot(store, handles);
        const attempts: [Renewal, string][] = [
          [newRenewal(revoked.handle, at(7)), "device-not-active"],
          [newRenewal(revoked.handle, at(7), revoked.certificate.serial), "device-not-active"],
          [newRenewal(superseded.handle, at(7), superseded.certificate.serial), "device-not-active"],
          [newRenewal(newHandle(), at(7)), "unknown-device"],
          // The certificate that authorised it was replaced meanwhile: a second renewal with it.
          [newRenewal(renewed.handle, at(7), renewed.certificate.serial), "certificate-not-current"],
        ];
        for (const [renewal, code] of attempts) {
          await refused(store.renew(renewal), code, ExitCode.state);
          assert.equal(await store.certificate(renewal.certificate.serial), null);
        }
        await refused(
          store.renew({ ...newRenewal(renewed.handle), previous: "0abc" }),
          "usage",
          ExitCode.usage,
        );
        assert.deepEqual(await snapshot(store, handles), before);
      });
    },

  "revoked certificates: superseded and revoked ones that have not ended, with reason and time": async (
    fixture,
  ) => {
    await withStore(fixture, async (store) => {
      assert.deepEqual(await store.revokedCertificates(at(0)), []);
      assert.equal(await store.lastEventSequence(), 0);
      const [valid, revoked, renewed] = [newEnrollment(), newEnrollment(), newEnrollment()];
      for (const e of [valid, revoked, renewed]) await store.enroll(e);
      await store.revoke({ handle: revoked.handle, reason: "key-compromise", at: at(5) });
      const last = await store.renew(newRenewal(renewed.handle, at(6)));
      assert.equal(await store.lastEventSequence(), last.sequence);
      const listed = await store.revokedCertificates(at(7));
      assert.deepEqual(
        listed.map((c) => [c.serial, c.status, c.revocationReason, c.revokedAt]),
        [
          [revoked.certificate.serial, "revoked", "key-compromise", at(5)],
          [renewed.certificate.serial, "superseded", "superseded", at(6)],
        ],
      );
      // At their end (newEnrollment's certificates end a day after T0) they are off the list.
      assert.deepEqual(await store.revokedCertificates(at(86_400)), []);
    });
  },

  "changes asked at once are each all-or-nothing: a refused one leaves no trace, the others commit with their events, one successor wins":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const taken = newEnrollment();
        const predecessor = newEnrollment();
        await store.enroll(taken);
        await store.enroll(predecessor);
        const hashes = [tokenHash(), tokenHash(), tokenHash()] as const;
        for (const hash of hashes) {
          await store.createToken({ hash, label: null, createdAt: at(0), expiresAt: at(3600) });
        }
        const before = await store.eventsSince(0);
        const fresh = [
          newEnrollment({ at: at(5), tokenHash: hashes[0] }),
          newEnrollment({ at: at(5), tokenHash: hashes[2] }),
        ];
        // Spends its token, then finds its handle taken: the spend must not stay.
        const clash = { ...newEnrollment({ at: at(5), tokenHash: hashes[1] }), handle: taken.handle };
        const successors = [
          newSuccession(predecessor.handle, at(6)),
          newSuccession(predecessor.handle, at(6)),
        ];
        // Asked in one breath: a driver that groups them must still keep each to itself.
        const outcomes = await Promise.allSettled([
          store.enroll(fresh[0] as Enrollment),
          store.enroll(clash),
          store.succeed(successors[0] as Succession),
          store.succeed(successors[1] as Succession),
          store.enroll(fresh[1] as Enrollment),
          store.revoke({ handle: newHandle(), reason: "key-compromise", at: at(7) }),
        ]);
        const states = outcomes.map((outcome) =>
          outcome.status === "fulfilled" ? "ok" : ((outcome.reason as ReidError).code ?? "?"),
        );
        assert.deepEqual(
          [states[0], states[1], states[4], states[5]],
          ["ok", "device-exists", "ok", "unknown-device"],
        );
        assert.deepEqual([states[2], states[3]].sort(), ["device-not-active", "ok"]);
        assert.equal(
          (await store.token(hashes[1] as Uint8Array))?.usedAt,
          null,
          "a refused enrollment spent its token",
        );
        assert.equal((await store.device(taken.handle))?.publicKey.length, taken.publicKey.length);
        const winner = states[2] === "ok" ? successors[0] : successors[1];
        const loser = states[2] === "ok" ? successors[1] : successors[0];
        assert.equal((await store.device(predecessor.handle))?.successor, winner?.handle);
        assert.equal(await store.device(loser?.handle as string), null);
        assert.equal(await store.certificate(loser?.certificate.serial as string), null);
        const events = (await store.eventsSince(0)).slice(before.length);
        assert.deepEqual(
          events.map((event) => [event.type, event.handle]).sort(),
          [
            ["enrolled", fresh[0]?.handle],
            ["enrolled", fresh[1]?.handle],
            ["succeeded", winner?.handle],
          ].sort(),
        );
        // The log has no hole (leaves are dense); a sequence only grows (PostgreSQL's may skip
        // numbers a rolled-back attempt took, as the spec allows).
        for (const [index, event] of events.entries()) {
          assert.equal(event.leaf, (before.at(-1)?.leaf ?? -1) + index + 1, "the log has a hole");
          assert.ok(event.sequence > (events[index - 1]?.sequence ?? before.at(-1)?.sequence ?? 0));
        }
      });
    },

  "many token enrollments asked at once: each refusal is its own, every other goes through, no token spent twice or by a refusal":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const taken = newEnrollment();
        await store.enroll(taken);
        const hashes = Array.from({ length: 16 }, () => tokenHash());
        const token = (i: number) => hashes[i] as Uint8Array;
        for (const [i, hash] of hashes.entries()) {
          // The last one has expired before the enrollments' time.
          const expiresAt = i === 15 ? at(4) : at(3600);
          await store.createToken({ hash, label: null, createdAt: at(0), expiresAt });
        }
        const spentBefore = newEnrollment({ at: at(1), tokenHash: token(14) });
        await store.enroll(spentBefore);
        const asked = Array.from({ length: 12 }, (_, i) => newEnrollment({ at: at(5), tokenHash: token(i) }));
        const twin = {
          ...newEnrollment({ at: at(5), tokenHash: token(12) }),
          handle: asked[8]?.handle as string,
        };
        // Two breaths, one refused for its token, one for its handle: a group with either kind
        // alone must still refuse it, however the driver writes the group.
        const breaths: [Enrollment, string][][] = [
          [
            // The same token a second time, in the same breath as its first use.
            [newEnrollment({ at: at(5), tokenHash: token(2) }), "token-refused"],
            [newEnrollment({ at: at(5), tokenHash: token(14) }), "token-refused"],
            [newEnrollment({ at: at(5), tokenHash: token(15) }), "token-refused"],
          ],
          [
            [
              { ...newEnrollment({ at: at(5), tokenHash: token(13) }), handle: taken.handle },
              "device-exists",
            ],
            [twin, "device-exists"],
          ],
        ];
        for (const [breath, refusals] of breaths.entries()) {
          // The refused ones sit among the others, each after the enrollment it clashes with.
          const order: [Enrollment, string][] = asked
            .slice(breath * 6, breath * 6 + 6)
            .map((enrollment) => [enrollment, "ok"]);
          for (const [index, refusal] of refusals.entries()) order.splice(3 + index * 2, 0, refusal);
          const outcomes = await Promise.allSettled(order.map(([enrollment]) => store.enroll(enrollment)));
          assert.deepEqual(
            outcomes.map((outcome) =>
              outcome.status === "fulfilled" ? "ok" : (outcome.reason as ReidError).code,
            ),
            order.map(([, expected]) => expected),
          );
        }
        for (const enrollment of asked) {
          assert.equal(
            (await store.device(enrollment.handle))?.certificateSerial,
            enrollment.certificate.serial,
          );
        }
        assert.equal(
          await store.certificate(twin.certificate.serial),
          null,
          "a refused enrollment's certificate stayed",
        );
        for (const hash of [hashes[12], hashes[13]] as Uint8Array[]) {
          assert.equal((await store.token(hash))?.usedAt, null, "a refused enrollment spent its token");
        }
        const events = (await store.eventsSince(0)).filter((event) => event.type === "enrolled");
        assert.deepEqual(
          events.map((event) => event.handle).sort(),
          [taken, spentBefore, ...asked].map((enrollment) => enrollment.handle).sort(),
        );
        assert.deepEqual(
          events.map((event) => event.leaf),
          events.map((_, index) => index),
          "the log has a hole or a leaf twice",
        );
      });
    },

  "an import records each device as an enrollment does; run again it skips the devices it finds with their key":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const enrolled = newEnrollment();
        const enrolledEvent = await store.enroll(enrolled);
        const first = newImported(3);
        const labelled = { ...(first[1] as CertifiedImport), label: "line 7, bay 3" };
        first[1] = labelled;
        const before = await store.lastEventSequence();
        assert.deepEqual(await store.importDevices({ devices: first, at: at(5) }), {
          imported: 3,
          skipped: 0,
        });
        for (const device of first) {
          const read = await store.device(device.handle);
          assert.equal(read?.status, "active");
          assert.deepEqual(read?.publicKey, new Uint8Array(device.publicKey));
          assert.equal(read?.certificateSerial, device.certificate.serial);
          assert.equal(read?.enrolledAt, at(5));
          assert.equal(read?.predecessor, null);
          const certificate = await store.certificate(device.certificate.serial);
          assert.equal(certificate?.status, "valid");
          assert.equal(certificate?.handle, device.handle);
          assert.deepEqual(certificate?.der, new Uint8Array(device.certificate.der));
        }
        // One `enrolled` event each, in the batch's order, as an enrollment's with `imported` beside.
        const events = await store.eventsSince(before);
        assert.deepEqual(
          events.map(({ type, handle, data, at: when }) => ({ type, handle, data, at: when })),
          first.map(({ handle, certificate, label }) => ({
            type: "enrolled",
            handle,
            data: { serial: certificate.serial, imported: true, ...(label ? { label } : {}) },
            at: at(5),
          })),
        );
        assert.deepEqual(
          events.map((event) => event.sequence),
          first.map((_, i) => before + i + 1),
        );
        // Leaves of the identity log, as any event's: the next ones, in the batch's order.
        assert.deepEqual(
          events.map((event) => event.leaf),
          first.map((_, i) => enrolledEvent.leaf + i + 1),
        );

        // Run again with one more, and the enrolled device with its own key: only the new one is written.
        const again = [
          ...first,
          ...newImported(1),
          { ...enrolled, certificate: newImported(1)[0]?.certificate },
        ];
        const outcome = await store.importDevices({ devices: again as ImportedDevice[], at: at(9) });
        assert.deepEqual(outcome, { imported: 1, skipped: 4 });
        assert.equal((await store.device(enrolled.handle))?.certificateSerial, enrolled.certificate.serial);
        assert.equal((await store.device(first[0]?.handle as string))?.enrolledAt, at(5));
        assert.equal((await store.eventsSince(before)).length, 4);
      });
    },

  "an import without certificates lists each device with a `listed` event; its first enrollment with the listed key certifies it, once":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        const listed = newImported(3).map(({ handle, publicKey }) => ({ handle, publicKey }));
        const labelled = { ...(listed[2] as ImportedDevice), label: "bay 4" };
        listed[2] = labelled;
        const before = await store.lastEventSequence();
        assert.deepEqual(await store.importDevices({ devices: listed, at: at(5) }), {
          imported: 3,
          skipped: 0,
        });
        for (const device of listed) {
          const read = await store.device(device.handle);
          assert.equal(read?.status, "listed");
          assert.equal(read?.certificateSerial, null);
          assert.deepEqual(read?.publicKey, new Uint8Array(device.publicKey));
        }
        assert.deepEqual(
          (await store.devices({ status: "listed" })).map((device) => device.handle),
          listed.map((device) => device.handle).sort(),
        );
        assert.deepEqual(
          (await store.eventsSince(before)).map(({ type, handle, data }) => ({ type, handle, data })),
          listed.map(({ handle }, i) => ({
            type: "listed",
            handle,
            data: i === 2 ? { imported: true, label: "bay 4" } : { imported: true },
          })),
        );
        // Nothing to put on a CRL: a listed device has no certificate.
        assert.deepEqual(await store.revokedCertificates(at(6)), []);

        const [first, second] = listed as [ImportedDevice, ImportedDevice];
        const { certificate } = newEnrollment({ at: at(7) });
        // Another key for a listed handle, or a listed enrollment of a handle nobody listed: refused.
        const stranger = newEnrollment({ at: at(7) });
        await refused(
          store.enroll({ ...stranger, handle: first.handle, listed: true }),
          "device-exists",
          ExitCode.state,
        );
        await refused(store.enroll({ ...stranger, listed: true }), "device-exists", ExitCode.state);
        // A token enrollment of a listed handle is a known handle's: refused, its token unspent.
        const hash = tokenHash();
        await store.createToken({ hash, label: null, createdAt: at(0), expiresAt: at(86_400) });
        await refused(
          store.enroll({ ...stranger, handle: first.handle, publicKey: first.publicKey, tokenHash: hash }),
          "device-exists",
        );
        assert.equal((await store.token(hash))?.usedAt, null);

        const event = await store.enroll({
          handle: first.handle,
          publicKey: first.publicKey,
          certificate,
          listed: true,
          at: at(7),
        });
        assert.equal(event.type, "enrolled");
        assert.deepEqual(event.data, { serial: certificate.serial, listed: true });
        const certified = await store.device(first.handle);
        assert.equal(certified?.status, "active");
        assert.equal(certified?.certificateSerial, certificate.serial);
        assert.equal(certified?.enrolledAt, at(7));
        assert.equal((await store.certificate(certificate.serial))?.status, "valid");
        // What a lost answer is answered again from: this event, and none for another device.
        assert.deepEqual(await store.listedEnrollment(first.handle), event);
        assert.equal(await store.listedEnrollment(second.handle), null, "listed, not certified yet");
        const tokenEnrolled = newEnrollment({ at: at(7) });
        await store.enroll(tokenEnrolled);
        assert.equal(await store.listedEnrollment(tokenEnrolled.handle), null, "enrolled with a token");
        const [imported] = newImported(1) as [CertifiedImport];
        await store.importDevices({ devices: [imported], at: at(7) });
        assert.equal(await store.listedEnrollment(imported.handle), null, "imported with its certificate");
        await refused(store.listedEnrollment("NOT-A-HANDLE"), "usage", ExitCode.usage);
        // A second enrollment of the same listed key: the device is certified already.
        await refused(
          store.enroll({
            handle: first.handle,
            publicKey: first.publicKey,
            certificate: newEnrollment().certificate,
            listed: true,
            at: at(8),
          }),
          "device-exists",
        );
        // An import run again skips the listed and the certified alike.
        assert.deepEqual(await store.importDevices({ devices: listed, at: at(9) }), {
          imported: 0,
          skipped: 3,
        });

        // A listed device renews nothing and succeeds to nothing: it has no certificate yet.
        await refused(
          store.renew({ handle: second.handle, certificate: newEnrollment().certificate, at: at(9) }),
          "device-not-active",
        );
        await refused(store.succeed(newSuccession(second.handle, at(9))), "device-not-active");
        // Revoked while listed: no certificate revoked, and it is never certified after.
        const revoked = await store.revoke({ handle: second.handle, reason: "keyCompromise", at: at(10) });
        assert.deepEqual(revoked.data, { reason: "keyCompromise" });
        const gone = await store.device(second.handle);
        assert.equal(gone?.status, "revoked");
        assert.equal(gone?.certificateSerial, null);
        await refused(
          store.enroll({
            handle: second.handle,
            publicKey: second.publicKey,
            certificate: newEnrollment().certificate,
            listed: true,
            at: at(11),
          }),
          "device-exists",
        );
        assert.deepEqual(await store.revokedCertificates(at(11)), []);
      });
    },

  "the database itself holds a listed device without a serial and an active one with it": async (fixture) => {
    await withStore(fixture, async (store) => {
      const [listed] = newImported(1).map(({ handle, publicKey }) => ({ handle, publicKey }));
      await store.importDevices({ devices: [listed as ImportedDevice], at: at(5) });
      const enrolled = newEnrollment();
      await store.enroll(enrolled);
      // Through the fixture's raw SQL: a listed row with a serial, an active one without.
      await assert.rejects(
        fixture.sql(`UPDATE devices SET certificate_serial = 'ab' WHERE handle = '${listed?.handle}'`),
        /devices_listed|CHECK constraint/,
      );
      await assert.rejects(
        fixture.sql(`UPDATE devices SET certificate_serial = NULL WHERE handle = '${enrolled.handle}'`),
        /devices_certified|CHECK constraint/,
      );
    });
  },

  "an import batch with a handle the registry holds with another key is refused whole": async (fixture) => {
    await withStore(fixture, async (store) => {
      const enrolled = newEnrollment();
      await store.enroll(enrolled);
      const before = await snapshot(store, [enrolled.handle]);
      const [fresh, other] = newImported(2) as [CertifiedImport, CertifiedImport];
      const clash = { ...other, handle: enrolled.handle };
      await refused(
        store.importDevices({ devices: [fresh, clash], at: at(5) }),
        "device-exists",
        ExitCode.state,
      );
      assert.deepEqual(await snapshot(store, [enrolled.handle, fresh.handle]), {
        ...before,
        asked: [...before.asked, null],
      });
      assert.equal(await store.certificate(fresh.certificate.serial), null);
    });
  },

  "an import batch commits all or nothing: a failure of one event's insert leaves none of it": async (
    fixture,
  ) => {
    await withStore(fixture, async (store) => {
      const before = await snapshot(store, []);
      await fixture.failEvents();
      const devices = newImported(3);
      await assert.rejects(store.importDevices({ devices, at: at(5) }));
      assert.deepEqual(
        await snapshot(
          store,
          devices.map((d) => d.handle),
        ),
        {
          ...before,
          asked: [null, null, null],
        },
      );
    });
  },

  "an import of more rows than one statement takes writes them all, and pages list them in handle order":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        // Over the driver's rows per statement and per read: every chunk's edge is crossed.
        const devices = newImported(2_100);
        const outcome = await store.importDevices({ devices, at: at(5) });
        assert.deepEqual(outcome, { imported: devices.length, skipped: 0 });
        const listed: string[] = [];
        for (let page = await store.devices(); page.length > 0; ) {
          listed.push(...page.map((device) => device.handle));
          page = await store.devices({ after: page.at(-1)?.handle });
        }
        assert.deepEqual(listed, devices.map((device) => device.handle).sort());
        assert.equal(await store.lastEventSequence(), devices.length);
        const again = await store.importDevices({ devices, at: at(6) });
        assert.deepEqual(again, { imported: 0, skipped: devices.length });
      });
    },

  "a bad import batch is refused before anything is written": async (fixture) => {
    await withStore(fixture, async (store) => {
      const [device] = newImported(1) as [ImportedDevice];
      const bad: [string, ImportedDevice[]][] = [
        ["empty", []],
        ["too many", newImported(IMPORT_BATCH_LIMIT + 1)],
        ["a handle twice", [device, { ...device, certificate: newEnrollment().certificate }]],
        ["a bad handle", [{ ...device, handle: device.handle.toUpperCase() }]],
        ["an empty key", [{ ...device, publicKey: new Uint8Array() }]],
        ["an empty label", [{ ...device, label: "" }]],
      ];
      for (const [why, devices] of bad) {
        await refused(store.importDevices({ devices, at: at(5) }), "usage", ExitCode.usage).catch((error) => {
          throw new Error(`${why}: ${(error as Error).message}`);
        });
      }
      await refused(store.importDevices({ devices: [device], at: "yesterday" }), "usage");
      assert.deepEqual(await store.devices(), []);
      assert.equal(await store.lastEventSequence(), 0);
    });
  },

  "every event takes the next leaf of the log, dense from 0 in the order of events, none given twice, even around refused changes of a group":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        assert.equal(await store.logSize(), 0);
        assert.deepEqual(await store.eventsByLeaf(0, 10), []);
        const first = newEnrollment();
        const events = [await store.enroll(first)];
        assert.equal(events[0]?.leaf, 0);
        const taken = newEnrollment();
        events.push(await store.enroll(taken));
        // Asked in one breath: the refused ones sit between the others in the group.
        const outcomes = await Promise.allSettled([
          store.enroll(newEnrollment({ at: at(5) })),
          store.enroll({ ...newEnrollment({ at: at(5) }), handle: taken.handle }),
          store.succeed(newSuccession(first.handle, at(6))),
          store.revoke({ handle: newHandle(), reason: "key-compromise", at: at(7) }),
          store.succeed(newSuccession(first.handle, at(6))),
          store.renew(newRenewal(taken.handle, at(8))),
        ]);
        assert.deepEqual(
          outcomes.map((outcome) => outcome.status),
          ["fulfilled", "rejected", "fulfilled", "rejected", "rejected", "fulfilled"],
        );
        for (const outcome of outcomes) if (outcome.status === "fulfilled") events.push(outcome.value);
        events.push(await store.revoke({ handle: taken.handle, reason: "key-compromise", at: at(9) }));
        const all = await store.eventsSince(0);
        assert.deepEqual(
          all.map((event) => event.leaf),
          all.map((_, index) => index),
          "leaves are not 0, 1, 2… in the order of events",
        );
        assert.deepEqual(
          [...events].sort((a, b) => a.leaf - b.leaf),
          all,
          "an answered event is not the stored one",
        );
        assert.equal(await store.logSize(), all.length);
        assert.deepEqual(await store.eventsByLeaf(0, all.length), all);
        assert.deepEqual(await store.eventsByLeaf(2, 4), all.slice(2, 4));
        assert.deepEqual(await store.eventsByLeaf(all.length, all.length + 5), []);
        assert.deepEqual(await store.eventsByLeaf(3, 3), []);
      });
      // Another connection (a second process) goes on where this one stopped.
      await withStore(fixture, async (store) => {
        const size = await store.logSize();
        assert.equal((await store.enroll(newEnrollment())).leaf, size);
      });
    },

  "the log's passes: hashes and a checkpoint stored together, read back by leaf; a pass from another size is refused and writes nothing":
    async (fixture) => {
      await withStore(fixture, async (store) => {
        assert.equal(await store.newestCheckpoint(), null);
        const hash = (i: number) => new Uint8Array(createHash("sha256").update(`leaf ${i}`).digest());
        const checkpoint = (size: number) => ({
          size,
          root: hash(-size - 1),
          note: `reid-registry/test\n${size}\n…\n\n— signature\n`,
          at: at(size),
        });
        await store.appendLog({ start: 0, hashes: [], checkpoint: checkpoint(0) });
        assert.deepEqual(await store.newestCheckpoint(), checkpoint(0));
        const hashes = Array.from({ length: 1234 }, (_, i) => hash(i));
        await store.appendLog({ start: 0, hashes: hashes.slice(0, 3), checkpoint: checkpoint(3) });
        await store.appendLog({ start: 3, hashes: hashes.slice(3), checkpoint: checkpoint(1234) });
        assert.deepEqual(await store.newestCheckpoint(), checkpoint(1234));
        assert.deepEqual(await store.logHashes(0, 1234), hashes);
        assert.deepEqual(await store.logHashes(500, 502), hashes.slice(500, 502));
        assert.deepEqual(await store.logHashes(1234, 2000), []);
        // Behind the stored log, or ahead of it: a second integrator, or a hole.
        for (const start of [3, 1233, 1235]) {
          await refused(
            store.appendLog({ start, hashes: [hash(start)], checkpoint: checkpoint(start + 1) }),
            "log-moved",
          );
        }
        assert.deepEqual(await store.newestCheckpoint(), checkpoint(1234));
        assert.deepEqual(await store.logHashes(1234, 1240), []);
        assert.deepEqual(await store.logHashes(1200, 1234), hashes.slice(1200));
        const bad = [
          { start: 1234, hashes: [new Uint8Array(31)], checkpoint: checkpoint(1235) },
          { start: 1234, hashes: [hash(1234)], checkpoint: checkpoint(1236) },
          { start: 1234, hashes: [hash(1234)], checkpoint: { ...checkpoint(1235), root: new Uint8Array(8) } },
          { start: 1234, hashes: [hash(1234)], checkpoint: { ...checkpoint(1235), at: "yesterday" } },
          { start: -1, hashes: [hash(0)], checkpoint: checkpoint(0) },
          {
            start: 1234,
            hashes: Array.from({ length: 10_001 }, () => hash(0)),
            checkpoint: checkpoint(11_235),
          },
        ];
        for (const append of bad) await refused(store.appendLog(append), "usage", ExitCode.usage);
        for (const [start, end] of [
          [-1, 3],
          [5, 4],
          [0, 10_001],
          [0.5, 2],
        ] as const) {
          await refused(store.eventsByLeaf(start, end), "usage", ExitCode.usage);
          await refused(store.logHashes(start, end), "usage", ExitCode.usage);
        }
        assert.deepEqual(await store.newestCheckpoint(), checkpoint(1234));
      });
    },

  "operator tokens are known by their hash only": async (fixture) => {
    await withStore(fixture, async (store) => {
      const hash = tokenHash("operator secret");
      assert.equal(await store.isOperatorToken(hash), false);
      await store.addOperatorToken(hash, at(0));
      assert.equal(await store.isOperatorToken(hash), true);
      assert.equal(await store.isOperatorToken(tokenHash("operator secreT")), false);
    });
  },
};

export function describeRegistryStore(backend: RegistryBackend): void {
  describe(`RegistryStore conformance: ${backend.name}`, () => {
    for (const [name, check] of Object.entries(CHECKS)) {
      test(name, async (t) => check(await backend.fixture(t), t));
    }
  });
}
