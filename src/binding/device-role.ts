import type { ControlUnit } from "../element/control-unit.js";
import { StateError } from "../errors.js";
import { startDeviceEndpoint } from "./endpoint.js";
import { PairingWindow } from "./pairing.js";
import type { Sensor } from "./sensor.js";

export interface DeviceOptions {
  readonly host: string;
  readonly port: number;
  readonly sensor: Sensor;
  /** Sample the sensor into the history this often (`--sample-every`); never when absent. */
  readonly sampleEveryMs?: number;
  /** Advertise `_reid._tcp` over mDNS (off for tests outside a private network namespace). */
  readonly advertise: boolean;
  /** Where an mDNS failure is reported (the daemon's stderr). */
  readonly report?: (message: string) => void;
}

export interface DeviceRoleServer {
  readonly address: string;
  readonly handle: string;
  /** The pairing window the owner opens with `reid pair` (docs/spec.md §7.9). */
  readonly pairing: PairingWindow;
  close(): Promise<void>;
}

/**
 * The daemon's device role: the binding endpoint, advertised over mDNS with the handle. The
 * element must hold an identifier: a blank device has no key to prove, so it cannot be bound.
 * A reset changes the handle: the advertisement follows it.
 */
export async function serveDeviceRole(
  control: ControlUnit,
  directory: string,
  options: DeviceOptions,
): Promise<DeviceRoleServer> {
  const { handle } = await control.status();
  if (!handle)
    throw new StateError("blank", "a device needs an identifier to be bound: run 'reid init' first");
  const pairing = new PairingWindow();
  const endpoint = await startDeviceEndpoint(control, directory, { ...options, pairing });
  let advert: { update(handle: string): void; close(): Promise<void> } | null = null;
  let stopWatching = () => {};
  if (options.advertise) {
    const { advertise } = await import("./mdns.js");
    advert = advertise(handle, endpoint.port, options.host, options.report ?? (() => {}));
    let current = handle;
    stopWatching = control.onNotification((notification) => {
      if (notification.handle && notification.handle !== current) {
        current = notification.handle;
        advert?.update(current);
      }
    });
  }
  return {
    address: endpoint.address,
    handle,
    pairing,
    close: async () => {
      stopWatching();
      await advert?.close();
      await endpoint.close();
    },
  };
}
