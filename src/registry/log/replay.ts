import type { DeviceStatus } from "../store/store.js";
import type { DeviceView } from "../views.js";
import type { LeafEvent } from "./leaf.js";
import { logUntrusted } from "./log-errors.js";

/**
 * The fleet as the identity log tells it (docs/spec.md §10.12): the auditor replays every event
 * into this table, as the registry's store applied it (§10.4), and refuses a history no registry
 * could have written. Each device is the object `registry devices --json` prints, so the two can
 * be compared line for line.
 */
export type ReplayedDevice = DeviceView;

export type StatusCounts = Record<DeviceStatus, number>;

export class DeviceTable {
  private readonly devices: Map<string, ReplayedDevice>;

  constructor(
    devices: readonly ReplayedDevice[] = [],
    /** The sequence of the last event replayed: each next one must be above it. */
    public lastSequence = 0,
  ) {
    this.devices = new Map(devices.map((device) => [device.handle, device]));
  }

  /** A copy to replay into: the table itself changes only once a round has verified. */
  copy(): DeviceTable {
    return new DeviceTable([...this.devices.values()], this.lastSequence);
  }

  get size(): number {
    return this.devices.size;
  }

  /** Applies the event at leaf `index`; refuses one that no registry could have recorded. */
  apply(event: LeafEvent, index: number): void {
    const refuse = (why: string) =>
      logUntrusted(`leaf ${index} (event ${event.sequence}, ${event.type} of ${event.handle}): ${why}`);
    if (event.sequence <= this.lastSequence) {
      throw refuse(`its sequence is not above the last one's, ${this.lastSequence}`);
    }
    const data = event.data as Record<string, unknown>;
    const serial = typeof data.serial === "string" ? data.serial : null;
    const device = this.devices.get(event.handle);
    const { at } = event;
    switch (event.type) {
      case "listed":
        if (device) throw refuse("the handle is known already");
        this.devices.set(event.handle, {
          handle: event.handle,
          status: "listed",
          certificateSerial: null,
          predecessor: null,
          successor: null,
          enrolledAt: at,
          updatedAt: at,
        });
        break;
      case "enrolled":
        // A listed device's first certificate (`listed: true`), else a new device's.
        if (data.listed === true) {
          if (device?.status !== "listed") throw refuse("the handle is not listed");
        } else if (device) throw refuse("the handle is enrolled already");
        if (serial === null) throw refuse("it names no certificate serial");
        this.put(event.handle, null, serial, at);
        break;
      case "succeeded": {
        if (device) throw refuse("the successor's handle is known already");
        const from = typeof data.predecessor === "string" ? this.devices.get(data.predecessor) : undefined;
        if (!from) throw refuse("its predecessor is not a known device");
        if (from.status === "superseded")
          throw refuse(`${from.handle} has a successor already (${from.successor})`);
        if (from.status === "revoked") throw refuse(`its predecessor ${from.handle} is revoked`);
        if (serial === null) throw refuse("it names no certificate serial");
        this.devices.set(from.handle, {
          ...from,
          status: "superseded",
          successor: event.handle,
          updatedAt: at,
        });
        this.put(event.handle, from.handle, serial, at);
        break;
      }
      case "renewed": {
        const active = this.active(device, refuse);
        if (data.previous !== active.certificateSerial)
          throw refuse("it replaces another certificate than the current one");
        if (serial === null) throw refuse("it names no certificate serial");
        this.devices.set(active.handle, { ...active, certificateSerial: serial, updatedAt: at });
        break;
      }
      case "revoked": {
        // A listed device is revoked without a certificate: its event names none.
        const revoked = device?.status === "listed" ? device : this.active(device, refuse);
        if (serial !== revoked.certificateSerial)
          throw refuse("it revokes another certificate than the current one");
        this.devices.set(revoked.handle, { ...revoked, status: "revoked", updatedAt: at });
        break;
      }
      case "fork-refused":
        // A flag: it changes nothing, but only on a device the registry knows.
        if (!device) throw refuse("the device is unknown");
        break;
    }
    this.lastSequence = event.sequence;
  }

  counts(): StatusCounts {
    const counts: StatusCounts = { listed: 0, active: 0, superseded: 0, revoked: 0 };
    for (const device of this.devices.values()) counts[device.status]++;
    return counts;
  }

  /** In handle order, as `registry devices` lists them. */
  list(): ReplayedDevice[] {
    return [...this.devices.values()].sort((a, b) =>
      a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0,
    );
  }

  private put(handle: string, predecessor: string | null, serial: string, at: string): void {
    this.devices.set(handle, {
      handle,
      status: "active",
      certificateSerial: serial,
      predecessor,
      successor: null,
      enrolledAt: at,
      updatedAt: at,
    });
  }

  private active(device: ReplayedDevice | undefined, refuse: (why: string) => Error): ReplayedDevice {
    if (!device) throw refuse("the device is unknown");
    if (device.status !== "active") throw refuse(`the device is ${device.status}`);
    return device;
  }
}
