import type { TpmAddress } from "../spec.js";
import { Tpm, type TpmOptions } from "../tpm.js";
import { DeviceTransport } from "./device.js";
import { SocketTransport } from "./socket.js";
import type { TpmTransport } from "./transport.js";

export function openTransport(address: TpmAddress, timeoutMs?: number): Promise<TpmTransport> {
  switch (address.kind) {
    case "tcp":
      return SocketTransport.connect({ host: address.host, port: address.port }, timeoutMs);
    case "unix":
      return SocketTransport.connect({ path: address.path }, timeoutMs);
    case "device":
      return DeviceTransport.open(address.path, timeoutMs);
  }
}

/** A client on `address`; with password sessions unless `options` ask for encrypted ones. */
export async function connectTpm(
  address: TpmAddress,
  timeoutMs?: number,
  options?: TpmOptions,
): Promise<Tpm> {
  return new Tpm(await openTransport(address, timeoutMs), options);
}
