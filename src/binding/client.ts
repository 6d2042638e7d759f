import type { BindingApi, BindingEntry, BindResult, CommandResult, TelemetryResult } from "./api.js";

type Call = <T>(method: string, path: string, body?: object) => Promise<T>;

/** The binding operations asked of the daemon that owns the store (see bindingRoutes). */
export class RemoteBinding implements BindingApi {
  constructor(private readonly call: Call) {}

  bind(address: string, expectHandle: string) {
    return this.call<BindResult>("POST", "/v1/binding/bind", { address, expectHandle });
  }

  command(address: string, name: string, args: readonly string[]) {
    return this.call<CommandResult>("POST", "/v1/binding/command", { address, name, args });
  }

  telemetry(address: string, count: number) {
    return this.call<TelemetryResult>("POST", "/v1/binding/telemetry", { address, count });
  }

  bindings() {
    return this.call<{ handle: string; bindings: readonly BindingEntry[] }>("GET", "/v1/binding");
  }

  unbind(handle: string) {
    return this.call<{ removed: BindingEntry; notified: boolean }>(
      "DELETE",
      `/v1/binding/${encodeURIComponent(handle)}`,
    );
  }
}
