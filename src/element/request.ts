import type { FactoryKind } from "../factory/factory-source.js";
import type { IdentifierFormat } from "../format/format.js";
import type { ElementMode, ElementState } from "../storage/record.js";

/** The identifier configuration requests of the patent: initialize, erase, update/reset. */
export type RequestType = "init" | "reset" | "erase";

/** The mode switch (patent claim 20): to random erases the factory identifier; to factory restores it. */
export type ModeSwitch = "mode-random" | "mode-factory";

/** What a notification can announce: a request, or a mode switch. */
export type NotifiedRequest = RequestType | ModeSwitch;

export interface Request {
  readonly type: RequestType;
  /** The identifier's format for init/reset; the element's current one when absent. */
  readonly format?: IdentifierFormat;
  /** init only: initialize in factory mode, the identifier from this factory source. */
  readonly factory?: FactoryKind;
  /** reset only: nothing may link the new identity to the old (no succession, docs/spec.md §10.9). */
  readonly unlinkable?: boolean;
}

/** What the element tells the user when a request has finished (patent FIG. 2, step 210). */
export interface Notification {
  /** The request carried out (in single-type mode, always reset). */
  readonly request: NotifiedRequest;
  /** The request that was asked for. */
  readonly requested: NotifiedRequest;
  readonly state: ElementState;
  /** The mode after the request: where the identifier came from. */
  readonly mode: ElementMode;
  readonly generation: number;
  /** Public name of the identifier, from its derived Ed25519 key (docs/spec.md §4.2); null when blank. */
  readonly handle: string | null;
  readonly time: string;
  /** Set when a scheduled request was carried out: its id. */
  readonly scheduled?: string;
  /** A scheduled request that fell due while no daemon ran, carried out when one started. */
  readonly late?: boolean;
  /**
   * The devices this element was bound to as a user, told of the change with the outgoing key
   * before it (docs/spec.md §7.8): present when it had any.
   */
  readonly devices?: DevicesTold;
}

/** Which bound devices heard a revocation, and which could not be reached (they keep the old key). */
export interface DevicesTold {
  readonly told: readonly BoundDevice[];
  readonly unreachable: readonly BoundDevice[];
}

export interface BoundDevice {
  readonly handle: string;
  /** HOST:PORT, where it was bound. */
  readonly address: string;
}

/** What a lifecycle listener's `retire` adds to the request's notification. */
export type RetireNote = Pick<Notification, "devices">;

/**
 * What the element tells the user about its bindings (patent FIG. 3, steps 314 and 322): as a
 * device, a user bound, revoked or was unbound, or a bound user's command arrived; as a user, this
 * element bound to a device or was unbound from it.
 */
export interface BindingEvent {
  readonly event: "bound" | "unbound" | "revoked" | "command" | "telemetry";
  /** The role this element played: "device" (the IoT device) or "user" (the user's device). */
  readonly role: "device" | "user";
  /** The other side's handle. */
  readonly peer: string;
  /** Where the device was reached (user role). */
  readonly address?: string;
  /** A command's name and arguments (device role). */
  readonly command?: { readonly name: string; readonly args: readonly string[] };
  readonly time: string;
}
