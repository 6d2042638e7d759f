import { StateError } from "../../errors.js";
import { checkRequest } from "../csr.js";
import type { Device, RegistryStore } from "../store/store.js";

/** What a replayed listed enrollment answers: the certificate first issued, and its event's leaf. */
export interface ListedAnswer {
  readonly der: Uint8Array;
  readonly leaf: number;
}

/**
 * A token-less enrollment of a device that is no longer `listed` (docs/spec.md §10.7): the same
 * listed key asking again, its first answer lost (a connection cut after the commit), gets that
 * answer again, the certificate and its `enrolled` leaf, so the element finishes as it would have.
 * Anything else is `device-exists`. The key is compared first, as the request carries it, so a
 * request naming the handle with another key costs nothing; then the request's signature is
 * checked, the proof that its sender holds the listed key, before anything is read for it: a
 * stranger who knows the handle and the key (both public) learns no more than `device-exists`
 * says, and no signature is made for anyone.
 */
export async function listedReplay(
  store: RegistryStore,
  device: Device,
  publicKey: Uint8Array,
  der: Uint8Array,
): Promise<ListedAnswer> {
  const refused = (why: string) =>
    new StateError("device-exists", `device ${device.handle} is enrolled already: ${why}`);
  if (device.status !== "active") throw refused(`it is ${device.status} and is not certified again`);
  if (!Buffer.from(publicKey).equals(Buffer.from(device.publicKey)) || device.certificateSerial === null) {
    throw refused("with another key than this request's");
  }
  checkRequest(der);
  const [event, certificate] = await Promise.all([
    store.listedEnrollment(device.handle),
    store.certificate(device.certificateSerial),
  ]);
  if (event === null)
    throw refused("it was not certified by its listing: only that enrollment is answered again");
  if (event.data.serial !== device.certificateSerial || certificate?.status !== "valid") {
    throw refused("its certificate was renewed since: it renews with its current one");
  }
  return { der: certificate.der, leaf: event.leaf };
}
