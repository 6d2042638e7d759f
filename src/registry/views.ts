import type { CertificateStatus, Device, DeviceStatus, IssuedCertificate, RegistryEvent } from "./store.js";

/**
 * What the operator's commands answer, as plain JSON (docs/spec.md §10.6): the CLI prints these
 * from the store today, and a server will send the same objects, so one renderer prints both.
 */

export interface DeviceView {
  readonly handle: string;
  readonly status: DeviceStatus;
  readonly certificateSerial: string;
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

export interface DeviceReport {
  /** The device, with its public key (SubjectPublicKeyInfo DER, base64). */
  readonly device: DeviceView & { readonly publicKey: string };
  readonly certificate: CertificateView;
  /** The whole chain, first identity first. */
  readonly chain: readonly ChainLink[];
}

export interface RevokedView {
  readonly handle: string;
  readonly serial: string;
  readonly reason: string;
  readonly revokedAt: string;
  /** The sequence of its `revoked` event. */
  readonly sequence: number;
}

export type EventView = RegistryEvent;

export function deviceView(device: Device): DeviceView {
  const { handle, status, certificateSerial, predecessor, successor, enrolledAt, updatedAt } = device;
  return { handle, status, certificateSerial, predecessor, successor, enrolledAt, updatedAt };
}

export function certificateView(certificate: IssuedCertificate): CertificateView {
  const { serial, notBefore, notAfter, status, revocationReason, revokedAt } = certificate;
  return { serial, notBefore, notAfter, status, revocationReason, revokedAt };
}
