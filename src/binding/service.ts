import type { Actor } from "../auth/actor.js";
import type { ControlUnit } from "../element/control-unit.js";
import { ExitCode, ReidError, StateError, UsageError } from "../errors.js";
import { reachableAddress } from "./address.js";
import type { BindingApi, BindingEntry, PairingResult, Reading } from "./api.js";
import { checkCommandShape } from "./command.js";
import { requestedCount } from "./history.js";
import { withIdentity } from "./identity.js";
import { handle as handleText } from "./messages.js";
import { checkPairingSeconds, type PairingWindow, setupCode } from "./pairing.js";
import { bindTo, boundDevice, fetchTelemetry, nextCommand, sendCommand } from "./user.js";

/**
 * The binding operations on an open element. Those that use the identifier's keys towards a device
 * are owner operations: gated by the PIN, audited, serialized with every request (a reset cannot
 * change the keys halfway through a bind).
 */
export class BindingService implements BindingApi {
  constructor(
    private readonly control: ControlUnit,
    private readonly directory: string,
    private readonly actor: Actor,
    /** The device role this element serves, when the daemon serves one: where its pairing window is. */
    private readonly device: () => {
      readonly pairing: PairingWindow;
      readonly address: string;
    } | null = () => null,
  ) {}

  async bind(address: string, expectHandle: string, code: string) {
    const device = handleOf(expectHandle, "--expect-handle");
    const given = setupCode(code);
    const bound = await this.owner("bind", { device, address }, (identity) =>
      bindTo(identity, address, device, given, this.control.time()).then((binding) => ({
        device: binding.handle,
        address,
        user: identity.party.handle,
        bound: binding.bound,
      })),
    );
    this.control.announce({ event: "bound", role: "user", peer: bound.device, address, time: bound.bound });
    return bound;
  }

  async command(address: string, name: string, args: readonly string[]) {
    checkCommandShape(name, args);
    if (name === "telemetry" || name === "unbind") {
      throw new UsageError(`'${name}' is not a command to send: use 'reid ${name}'`);
    }
    return this.owner(`command:${name}`, { address }, async (identity) => {
      const device = boundDevice(identity, address);
      const command = nextCommand(identity, device, name, args, this.control.time());
      await sendCommand(address, device, command);
      return { device: device.handle, name, counter: command.counter };
    });
  }

  async telemetry(address: string, count: number) {
    // Checked here, before a counter is spent; the device checks it again.
    const args = count === 1 ? [] : [String(count)];
    requestedCount(args);
    return this.owner("telemetry", { address }, async (identity) => {
      const device = boundDevice(identity, address);
      const command = nextCommand(identity, device, "telemetry", args, this.control.time());
      const opened = await fetchTelemetry(identity, device, command);
      return { device: device.handle, readings: opened.map(readingOf) };
    });
  }

  /**
   * Opens the pairing window of the device role this daemon serves: an owner operation (gated,
   * audited, the code never in the record), refused when no device role is served here.
   */
  async pair(seconds: number): Promise<PairingResult> {
    // Every surface's length is held to the same bounds before anything is asked of the owner.
    checkPairingSeconds(seconds);
    // The owner's gate first: without the PIN nothing is told, not even whether a device role runs.
    return this.owner("pair", { seconds: String(seconds) }, async ({ party }) => {
      const device = this.device();
      if (!device) {
        throw new StateError(
          "no-device-role",
          "this element serves no device role: run 'reid serve --device' on it, then 'reid pair'",
        );
      }
      // A wildcard --listen names no host: the user is shown one it can reach.
      return { ...device.pairing.open(party.handle, seconds), address: reachableAddress(device.address) };
    });
  }

  bindings() {
    return this.control.readAs(this.actor, () => this.listBindings());
  }

  private listBindings() {
    return this.control.useIdentifier((identifier) =>
      withIdentity(this.directory, identifier, ({ party, file }) => {
        const { users, devices } = file.read();
        const entries: BindingEntry[] = [
          ...users.map((u) => ({ role: "user" as const, handle: u.handle, bound: u.bound })),
          ...devices.map((d) => ({
            role: "device" as const,
            handle: d.handle,
            bound: d.bound,
            address: d.address,
          })),
        ];
        return { handle: party.handle, bindings: entries };
      }),
    );
  }

  /**
   * A user of this device is removed here; a device this element uses is first told with a signed
   * `unbind` (so it refuses our key from now on), then forgotten even if it could not be reached.
   */
  async unbind(target: string) {
    const handle = handleOf(target, "HANDLE");
    const result = await this.owner("unbind", { peer: handle }, async (identity) => {
      const bindings = identity.file.read();
      const user = bindings.users.find((u) => u.handle === handle);
      if (user) {
        identity.file.write({ ...bindings, users: bindings.users.filter((u) => u !== user) });
        return { removed: { role: "user" as const, handle, bound: user.bound }, notified: false };
      }
      const device = bindings.devices.find((d) => d.handle === handle);
      if (!device) throw new ReidError("not-bound", ExitCode.state, `no binding with handle ${handle}`);
      const command = nextCommand(identity, device, "unbind", [], this.control.time());
      const notified = await sendCommand(device.address, device, command).then(
        () => true,
        () => false,
      );
      const now = identity.file.read();
      identity.file.write({ ...now, devices: now.devices.filter((d) => d.handle !== handle) });
      return {
        removed: { role: "device" as const, handle, bound: device.bound, address: device.address },
        notified,
      };
    });
    this.control.announce({
      event: "unbound",
      role: result.removed.role === "user" ? "device" : "user",
      peer: handle,
      time: this.control.time().toISOString(),
    });
    return result;
  }

  private owner<T>(
    name: string,
    detail: Record<string, string>,
    task: (identity: Parameters<Parameters<typeof withIdentity>[2]>[0]) => Promise<T>,
  ): Promise<T> {
    return this.control.ownerUse(
      name,
      this.actor,
      (identifier) => withIdentity(this.directory, identifier, task),
      () => detail,
    );
  }
}

function handleOf(text: string, what: string): string {
  try {
    return handleText.read(text, "handle");
  } catch {
    throw new UsageError(`bad ${what} '${text.slice(0, 40)}': a handle is 32 lowercase hex digits`);
  }
}

function readingOf(bytes: Uint8Array): Reading {
  try {
    const { sensor, time, value } = JSON.parse(Buffer.from(bytes).toString("utf8"));
    if ([sensor, time, value].every((field) => typeof field === "string")) return { sensor, time, value };
  } catch {}
  throw new ReidError("device-protocol", ExitCode.internal, "the device sealed a reading that is not one");
}
