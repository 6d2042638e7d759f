import { parseDeviceAddress } from "../binding/address.js";

/** A device's HOST:PORT on the command line, checked before anything opens. */
export function deviceAddress(text: string): string {
  return parseDeviceAddress(text, "device address").address;
}
