import type { Certifier } from "../certify/certifier.js";
import { deviceExists } from "../registry-errors.js";
import type { ImportedDevice, NewCertificate, RegistryStore } from "../store/store.js";
import type { ListedDevice } from "./device-list.js";

/** Keys per message to a certifying thread: enough to pay for the message, few enough to share out. */
const CHUNK = 250;
/** Devices per page when the list is matched against the registry. */
const PAGE = 1000;

export interface ImportOptions {
  readonly store: RegistryStore;
  /** Every device of the list, checked (device-list.ts). */
  readonly devices: readonly ListedDevice[];
  /**
   * `--certify`: each device issued its certificate at once, by these threads, saying where the
   * CRL is (the registry's server, §10.7). Without it, each is listed, certified at first contact.
   */
  readonly certify?: { readonly certifier: Certifier; readonly crlUrl: string };
  /** Devices per transaction. */
  readonly batchSize: number;
  readonly now?: () => Date;
  /** After each batch is on disk: devices done (imported or skipped) of the list's. */
  readonly progress?: (done: number, total: number) => void;
}

export interface ImportResult {
  readonly imported: number;
  readonly skipped: number;
}

/**
 * Records a factory's device list in the registry (docs/spec.md §10.6 `registry import`): each
 * device listed (or, `certify`, issued its certificate by the certifying threads), stored in
 * batches of one transaction each (importDevices), in handle order, so that a crash leaves whole
 * batches and a run again finds them. Devices the registry holds with the same key are skipped
 * before anything is signed; one it holds with another key is `device-exists` before anything is
 * written. While a batch is stored, the next is being signed.
 */
export async function importDeviceList(options: ImportOptions): Promise<ImportResult> {
  const { store, devices, batchSize } = options;
  const sorted = [...devices].sort((a, b) => (a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0));
  const known = await knownOf(store, sorted);
  const todo = sorted.filter((device) => !known.has(device.handle));
  let skipped = known.size;
  let imported = 0;
  const batches: ListedDevice[][] = [];
  for (let start = 0; start < todo.length; start += batchSize)
    batches.push(todo.slice(start, start + batchSize));
  options.progress?.(skipped, devices.length);
  let signing = batches.length > 0 ? issued(options, batches[0] as ListedDevice[]) : null;
  for (let index = 0; signing !== null; index++) {
    const batch = await signing;
    const next = batches[index + 1];
    signing = next ? issued(options, next) : null;
    // Should this batch be refused, the next one's signing is left to end unheard.
    signing?.catch(() => {});
    const outcome = await store.importDevices(batch);
    imported += outcome.imported;
    skipped += outcome.skipped;
    options.progress?.(imported + skipped, devices.length);
  }
  return { imported, skipped };
}

/** A batch of one moment, with its certificates (`certify`) signed across the certifying threads. */
async function issued(
  options: ImportOptions,
  batch: readonly ListedDevice[],
): Promise<{ devices: ImportedDevice[]; at: string }> {
  const now = options.now?.() ?? new Date();
  const { certify } = options;
  if (!certify) {
    const devices = batch.map(({ handle, publicKey, label }) =>
      label === undefined ? { handle, publicKey } : { handle, publicKey, label },
    );
    return { devices, at: now.toISOString() };
  }
  const chunks: Promise<ImportedDevice[]>[] = [];
  for (let start = 0; start < batch.length; start += CHUNK) {
    const chunk = batch.slice(start, start + CHUNK);
    const keys = chunk.map(({ handle, publicKey, keyBits }) => ({ handle, publicKey, keyBits }));
    chunks.push(
      certify.certifier.issue(keys, { crlUrl: certify.crlUrl, now }).then((certificates) =>
        chunk.map(({ handle, publicKey, label }, i) => ({
          handle,
          publicKey,
          certificate: certificates[i] as NewCertificate,
          ...(label === undefined ? {} : { label }),
        })),
      ),
    );
  }
  return { devices: (await Promise.all(chunks)).flat(), at: now.toISOString() };
}

/**
 * The devices of the list (in handle order) that the registry already holds, each with the same
 * key; one held with another key is `device-exists`. Read in keyset pages from each next listed
 * handle, so a registry that holds none of them costs one page, not a walk through its fleet.
 */
async function knownOf(store: RegistryStore, sorted: readonly ListedDevice[]): Promise<Set<string>> {
  const known = new Set<string>();
  let index = 0;
  while (index < sorted.length) {
    const from = (sorted[index] as ListedDevice).handle;
    const page = await store.devices({ after: justBefore(from), limit: PAGE });
    for (const device of page) {
      while (index < sorted.length && (sorted[index] as ListedDevice).handle < device.handle) index++;
      const listed = sorted[index];
      if (listed?.handle !== device.handle) continue;
      if (Buffer.compare(device.publicKey, listed.publicKey) !== 0) throw deviceExists(device.handle);
      known.add(device.handle);
      index++;
    }
    if (page.length < PAGE) break;
    // Past this page: the next page starts at the next listed handle after it.
    const last = (page.at(-1) as { handle: string }).handle;
    while (index < sorted.length && (sorted[index] as ListedDevice).handle <= last) index++;
  }
  return known;
}

/** The handle one below `handle` (devices() lists those above `after`); none below the first. */
function justBefore(handle: string): string | undefined {
  const value = BigInt(`0x${handle}`);
  return value === 0n ? undefined : (value - 1n).toString(16).padStart(32, "0");
}
