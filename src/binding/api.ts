/** A binding as `reid bindings` lists it: public keys and handles only. */
export interface BindingEntry {
  /** "user": a user bound to this element (device role); "device": a device this element is bound to. */
  readonly role: "user" | "device";
  readonly handle: string;
  readonly bound: string;
  readonly address?: string;
}

export interface BindResult {
  readonly device: string;
  readonly address: string;
  readonly user: string;
  readonly bound: string;
}

export interface CommandResult {
  readonly device: string;
  readonly name: string;
  readonly counter: number;
}

export interface Reading {
  readonly sensor: string;
  readonly time: string;
  readonly value: string;
}

export interface TelemetryResult {
  readonly device: string;
  readonly readings: readonly Reading[];
}

/** A pairing window opened on this device (`reid pair`): the code is for the owner who asked. */
export interface PairingResult {
  readonly handle: string;
  /** Where the device serves binding, HOST:PORT as it listens. */
  readonly address: string;
  readonly code: string;
  readonly until: string;
  readonly tries: number;
}

/**
 * What the CLI asks of the element about bindings (the user role, and the listing of both roles):
 * answered by the element directly (BindingService) or by the daemon (RemoteBinding), alike.
 */
export interface BindingApi {
  /** `code`: the setup code the device's owner was shown (docs/spec.md §7.9). */
  bind(address: string, expectHandle: string, code: string): Promise<BindResult>;
  /** Opens this device's pairing window for `seconds` (an owner operation; the daemon must serve the device role). */
  pair(seconds: number): Promise<PairingResult>;
  command(address: string, name: string, args: readonly string[]): Promise<CommandResult>;
  /** The fresh reading, preceded by up to `count - 1` of the latest sampled ones (count 1..64). */
  telemetry(address: string, count: number): Promise<TelemetryResult>;
  bindings(): Promise<{ handle: string; bindings: readonly BindingEntry[] }>;
  /** Removes the binding with `handle`; a device is told first (best effort) when this element is its user. */
  unbind(handle: string): Promise<{ removed: BindingEntry; notified: boolean }>;
}
