import { resolve } from "node:path";
import { OwnerPin } from "../auth/owner-pin.js";
import { parseSourceSpec, type SourceSpec, sourceName } from "../entropy/source-spec.js";
import { checkGenerator, GENERATORS } from "../storage/backends.js";
import { type OpenedStore, openStore } from "../storage/open.js";
import { AesGcmSealer } from "../storage/sealer.js";
import { TpmOwnerAuth } from "../storage/tpm-owner-auth.js";
import type { ElementOptions } from "./element.js";

/** The store's side of an element: the opened store, the owner's PIN state and the source it names. */
export interface ElementStore {
  readonly opened: OpenedStore;
  /** The owner PIN kept in the store directory. */
  readonly owner: OwnerPin;
  /** Where a proven PIN's authValue for the TPM's NV indices is held, in memory only. */
  readonly ownerAuth: TpmOwnerAuth;
  readonly source: SourceSpec;
  /** Closes the store (its area, connection and lock) and forgets the authValue. */
  close(): Promise<void>;
}

/**
 * Opens the store an element works on, and what its reads need beside it: the element composes its
 * units over this (element.ts), and a status read of a store no daemon serves reads through it alone
 * (status-read.ts). The PIN's state lives in the store directory; a proven PIN hands the TPM's
 * authValue to the store's NV area through `ownerAuth`, for as long as the store is open.
 */
export async function openElementStore(options: ElementOptions): Promise<ElementStore> {
  const ownerAuth: TpmOwnerAuth = new TpmOwnerAuth((): boolean => owner.isSet());
  const owner: OwnerPin = new OwnerPin(resolve(options.storeDirectory), options.now, ownerAuth);
  const opened = await openStore(options.storeDirectory, options.store ?? null, {
    ownerAuth,
    write: options.write,
    lockTimeoutMs: options.lockTimeoutMs,
    claim: options.claim === true,
    sealer: options.kek ? new AesGcmSealer(options.kek) : null,
    newSealer: options.newKek ? new AesGcmSealer(options.newKek) : null,
    ...(options.env ? { env: options.env } : {}),
    ...(options.prompt ? { prompt: options.prompt } : {}),
  });
  let source: SourceSpec;
  try {
    source = elementSource(options.source ?? null, opened);
  } catch (error) {
    await opened.store.close();
    throw error;
  }
  return {
    opened,
    owner,
    ownerAuth,
    source,
    close: async () => {
      try {
        await opened.store.close();
      } finally {
        ownerAuth.clear();
      }
    },
  };
}

/**
 * The source the options name, else the backend's default; a backend's generator only from the
 * backend the store opened ("--source tpm needs the TPM backend (--tpm)").
 */
export function elementSource(
  named: SourceSpec | null,
  opened: Pick<OpenedStore, "spec" | "backend">,
): SourceSpec {
  const source = named ?? parseSourceSpec(opened.spec.backend.defaultSource, GENERATORS);
  if (source.kind === "backend") {
    const generator = opened.backend.randomSource !== undefined;
    checkGenerator(sourceName(source), source.backend, opened.spec.kind, generator);
  }
  return source;
}
