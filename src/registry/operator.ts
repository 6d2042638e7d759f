import { type FollowOptions, pollEvents } from "./follow.js";
import { registryCorrupt, unknownDevice } from "./registry-errors.js";
import type { RevocationReason } from "./revocation.js";
import type { DeviceQuery, RegistryStore } from "./store/store.js";
import { successionChain } from "./succession.js";
import { type IssuedToken, issueEnrollmentToken } from "./tokens.js";
import {
  certificateView,
  type DeviceReport,
  type DeviceView,
  deviceView,
  type EventView,
  eventView,
  flagView,
  type RevokedView,
} from "./views.js";

/**
 * A report shows this many flags at most, the newest: a key used against its chain again and
 * again is one finding, and `registry events` has them all.
 */
export const REPORT_FLAGS = 100;

/**
 * What the operator's commands ask of a registry (docs/spec.md §10.6), in pages and plain views:
 * answered here from the store in the registry's directory, and by the same questions over HTTPS
 * (api/remote.ts), so the commands print either without knowing which.
 */
export interface Operator {
  /** One page of devices in handle order (RegistryStore.devices). */
  devices(query: DeviceQuery): Promise<DeviceView[]>;
  /** The device, its current certificate and its whole succession chain; `unknown-device`. */
  report(handle: string): Promise<DeviceReport>;
  /** Revokes an active device and its certificate; `unknown-device`, `device-not-active`. */
  revoke(handle: string, reason: RevocationReason): Promise<RevokedView>;
  /** Up to `limit` events after sequence `after`, oldest first. */
  events(after: number, limit: number): Promise<EventView[]>;
  /** The events after `after`, then each as it commits, until `options.until` is aborted. */
  follow(after: number, options: FollowOptions): AsyncIterable<EventView>;
  /** A new single-use enrollment token (§10.5), the one time it is shown. */
  createToken(ttlSeconds: number, label: string | null): Promise<IssuedToken>;
  close(): Promise<void>;
}

/** The Operator over a store, with the registry's clock for the times it records. */
export function storeOperator(store: RegistryStore, now: () => Date = () => new Date()): Operator {
  return {
    async devices(query) {
      return (await store.devices(query)).map(deviceView);
    },

    async report(handle) {
      const device = await store.device(handle);
      if (!device) throw unknownDevice(handle);
      const chain = await successionChain(store, device);
      const serial = device.certificateSerial;
      const certificate = serial === null ? null : await store.certificate(serial);
      if (serial !== null && !certificate) {
        throw registryCorrupt(
          `device ${handle}'s certificate ${device.certificateSerial} is not in the registry`,
        );
      }
      const flags = await store.flags(
        chain.map((link) => link.handle),
        REPORT_FLAGS + 1,
      );
      return {
        device: { ...deviceView(device), publicKey: Buffer.from(device.publicKey).toString("base64") },
        certificate: certificate && certificateView(certificate),
        chain: chain.map(({ handle: link, status, enrolledAt, updatedAt }) => ({
          handle: link,
          status,
          enrolledAt,
          updatedAt,
          asked: link === handle,
        })),
        flags: flags.slice(-REPORT_FLAGS).map(flagView),
        earlierFlags: flags.length > REPORT_FLAGS,
      };
    },

    async revoke(handle, reason) {
      const event = await store.revoke({ handle, reason, at: now().toISOString() });
      return {
        handle,
        // A listed device had no certificate to revoke.
        serial: typeof event.data.serial === "string" ? event.data.serial : null,
        reason,
        revokedAt: event.at,
        sequence: event.sequence,
        logIndex: event.leaf,
      };
    },

    events: async (after, limit) => (await store.eventsSince(after, limit)).map(eventView),

    follow: (after, { until }) =>
      pollEvents(async (from, limit) => (await store.eventsSince(from, limit)).map(eventView), after, until),

    createToken: (ttlSeconds, label) => issueEnrollmentToken(store, { ttlSeconds, label, now: now() }),

    close: () => store.close(),
  };
}
