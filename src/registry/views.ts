import type {
  CertificateStatus,
  Device,
  DeviceStatus,
  Flag,
  IssuedCertificate,
  RegistryEvent,
} from "./store/store.js";

/**
 * What the operator's commands answer, as plain JSON (docs/spec.md §10.6): the CLI prints these
 * from the store today, and a server will send the same objects, so one renderer prints both.
 */

export interface DeviceView {
  readonly handle: string;
  readonly status: DeviceStatus;
  /** Null while the device is listed, and on one revoked while listed (docs/spec.md §10.6). */
  readonly certificateSerial: string | null;
  readonly predecessor: string | null;
  readonly successor: string | null;
  readonly enrolledAt: string;
  readonly updatedAt: string;
}

export interface CertificateView {
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly status: CertificateStatus;
  readonly revocationReason: string | null;
  readonly revokedAt: string | null;
}

/** One identity of a succession chain; `asked` marks the one the report is about. */
export interface ChainLink {
  readonly handle: string;
  readonly status: DeviceStatus;
  readonly enrolledAt: string;
  readonly updatedAt: string;
  readonly asked: boolean;
}

/**
 * A flag on an identity of the chain (docs/spec.md §10.9): a second successor refused. What the
 * registry did not record (flags from before it recorded the source) is null.
 */
export interface FlagView {
  readonly sequence: number;
  readonly type: Flag["type"];
  /** The identity flagged: the one a second successor was refused. */
  readonly handle: string;
  readonly at: string;
  /** The new handle the refused statement named. */
  readonly successor: string | null;
  /** The flagged identity's status then: `superseded` or `revoked`. */
  readonly status: string | null;
  /** The address the refused statement came from, as the registry's server saw it. */
  readonly source: string | null;
}

export interface DeviceReport {
  /** The device, with its public key (SubjectPublicKeyInfo DER, base64). */
  readonly device: DeviceView & { readonly publicKey: string };
  /** Its current certificate; null while it has none (listed). */
  readonly certificate: CertificateView | null;
  /** The whole chain, first identity first. */
  readonly chain: readonly ChainLink[];
  /** The newest flags on any identity of the chain (at most REPORT_FLAGS), oldest first. */
  readonly flags: readonly FlagView[];
  /** More flags than these, older: `registry events` lists them all. */
  readonly earlierFlags: boolean;
}

export interface RevokedView {
  readonly handle: string;
  /** The certificate revoked with it; null for a listed device, which had none. */
  readonly serial: string | null;
  readonly reason: string;
  readonly revokedAt: string;
  /** The sequence of its `revoked` event. */
  readonly sequence: number;
  /** Its `revoked` event's index in the identity log (docs/spec.md §10.12). */
  readonly logIndex: number;
}

/** An event as `registry events` prints it: its index in the identity log is the log's to show (§10.12). */
export type EventView = Omit<RegistryEvent, "leaf">;

export function eventView(event: RegistryEvent): EventView {
  const { sequence, type, handle, data, at } = event;
  return { sequence, type, handle, data, at };
}

export function deviceView(device: Device): DeviceView {
  const { handle, status, certificateSerial, predecessor, successor, enrolledAt, updatedAt } = device;
  return { handle, status, certificateSerial, predecessor, successor, enrolledAt, updatedAt };
}

export function certificateView(certificate: IssuedCertificate): CertificateView {
  const { serial, notBefore, notAfter, status, revocationReason, revokedAt } = certificate;
  return { serial, notBefore, notAfter, status, revocationReason, revokedAt };
}

/** A flag event as the report shows it: its data's words, null where it has none. */
export function flagView(event: RegistryEvent): FlagView {
  const word = (name: string) => {
    const value = event.data[name];
    return typeof value === "string" ? value : null;
  };
  return {
    sequence: event.sequence,
    type: event.type as Flag["type"],
    handle: event.handle,
    at: event.at,
    successor: word("successor"),
    status: word("status"),
    source: word("source"),
  };
}
