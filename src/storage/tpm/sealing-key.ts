import { randomBytes } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describeOsError, StorageError, UsageError } from "../../errors.js";
import { password } from "../../tpm/command.js";
import { CreatePrimary, FlushContext } from "../../tpm/commands/object.js";
import { Create, Load, Unseal } from "../../tpm/commands/sealing.js";
import { TPM_ALG, TPM_HT, TPM_RH, TPMA_OBJECT } from "../../tpm/constants.js";
import { TpmIntegrityError, TpmResponseError } from "../../tpm/errors.js";
import { TpmReader, TpmWriter } from "../../tpm/marshal/buffer.js";
import { OUT_OF_OBJECTS, reclaiming } from "../../tpm/session/start.js";
import { private2b } from "../../tpm/structures/private.js";
import { type PublicArea, public2b } from "../../tpm/structures/public.js";
import { eccP256StorageTemplate } from "../../tpm/templates.js";
import type { Tpm } from "../../tpm/tpm.js";
import { readOptionalFile, replaceFile, syncDirectory } from "../durable-file.js";
import { AesGcmSealer, KEK_LENGTH, type Sealer } from "../sealer.js";
import type { SealingKeyHome } from "../sealing/key-home.js";

/**
 * A sealed data object: a keyedhash object with neither sign nor decrypt, whose data only
 * TPM2_Unseal gives back, fixed to this TPM and its parent, its (empty) authValue outside
 * dictionary-attack counting. The data is the AES-256 key, which reid chooses: a sealed data
 * object's data comes from the caller (sensitiveDataOrigin clear), inside the encrypted inSensitive.
 */
const SEALED_KEY_TEMPLATE: PublicArea = {
  type: TPM_ALG.KEYEDHASH,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes:
    TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.noDA,
  authPolicy: new Uint8Array(0),
  parameters: { scheme: { scheme: TPM_ALG.NULL } },
  unique: new Uint8Array(0),
};

const EMPTY = new Uint8Array(0);

/**
 * The TPM's home for sealing keys: each key is a sealed data object under the owner hierarchy's
 * storage primary (the ECC P-256 SRK template, made afresh at each use: the same seed and template
 * give the same key, and nothing stays loaded). Create's wrapped blobs live in the store directory
 * as `tpm-sealing-key-ID.json` (0600, replaced durably; ID is the key's random id, which a swapped
 * file does not change: a key that is not the store's fails to open its record); only this TPM can
 * load them. Each use is
 * CreatePrimary, Load, Unseal (the key leaves the TPM encrypted by the session), FlushContext.
 * Specified in docs/spec.md §5.4.
 */
export class TpmSealingKeys implements SealingKeyHome {
  readonly kind = "tpm" as const;
  private readonly ownerAuth: Uint8Array;

  constructor(
    private readonly tpm: Tpm,
    private readonly directory: string,
    ownerAuth: Uint8Array = EMPTY,
  ) {
    this.ownerAuth = Uint8Array.from(ownerAuth);
  }

  async create(id: string): Promise<Sealer> {
    this.requireEncryptedSession();
    const key = randomBytes(KEK_LENGTH);
    try {
      const created = await this.underPrimary((parent) =>
        this.tpm.run(Create, {
          parentHandle: parent,
          inSensitive: { userAuth: EMPTY, data: key },
          inPublic: SEALED_KEY_TEMPLATE,
          outsideInfo: EMPTY,
          creationPCR: [],
        }),
      );
      const w = new TpmWriter();
      public2b.write(w, created.outPublic);
      private2b.write(w, created.outPrivate);
      const blob = Buffer.from(w.finish()).toString("hex");
      const path = blobPath(this.directory, id);
      try {
        replaceFile(path, `${JSON.stringify({ v: 1, blob })}\n`);
      } catch (error) {
        throw new StorageError(`cannot write ${path}: ${describeOsError(error)}`);
      }
      return new AesGcmSealer(key, id);
    } finally {
      key.fill(0);
    }
  }

  async open(id: string): Promise<Sealer> {
    this.requireEncryptedSession();
    const path = blobPath(this.directory, id);
    const { inPublic, inPrivate } = readBlob(path, id);
    let data: Uint8Array | null = null;
    try {
      data = await this.underPrimary(async (parent) => {
        let loaded: number | null = null;
        try {
          const object = await this.tpm.run(Load, { parentHandle: parent, inPrivate, inPublic });
          loaded = object.objectHandle;
          const { outData } = await this.tpm.run(Unseal, {
            itemHandle: { ...password(loaded), name: object.name },
          });
          return outData;
        } finally {
          if (loaded !== null) await this.flush(loaded);
        }
      });
    } catch (error) {
      if (
        error instanceof TpmIntegrityError ||
        !(error instanceof TpmResponseError) ||
        error.command !== Load.name ||
        OUT_OF_OBJECTS.has(error.rc)
      ) {
        throw error;
      }
      throw new StorageError(
        `the TPM does not load the sealing key kept in ${path} (${error.message}): it was made by another TPM, for another owner seed (TPM2_Clear), or damaged`,
        "store-key-wrong",
      );
    } finally {
      inPrivate.fill(0);
    }
    try {
      if (data.length !== KEK_LENGTH) {
        throw new StorageError(
          `the TPM sealing key kept in ${path} is not an AES-256 key`,
          "store-key-wrong",
        );
      }
      return new AesGcmSealer(data, id);
    } finally {
      data.fill(0);
    }
  }

  async destroy(id: string): Promise<void> {
    const path = blobPath(this.directory, id);
    try {
      rmSync(path, { force: true });
      syncDirectory(this.directory);
    } catch (error) {
      throw new StorageError(`cannot remove ${path}: ${describeOsError(error)}`);
    }
  }

  async sweep(keep: string | null): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.directory);
    } catch (error) {
      // A store whose directory its first commit has not made yet keeps no keys.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new StorageError(`cannot list ${this.directory}: ${describeOsError(error)}`);
    }
    for (const name of names) {
      const id = BLOB_NAME.exec(name)?.[1];
      if (id !== undefined && id !== keep) await this.destroy(id);
    }
  }

  close(): void {
    this.ownerAuth.fill(0);
  }

  /**
   * Runs `use` with the storage primary loaded (and named, for the session), then flushes it. A
   * TPM without a resource manager (swtpm) keeps what a killed client loaded: out of object room,
   * the leftovers are flushed and it runs once more, as the session's salt key does (§5.7).
   */
  private underPrimary<T>(
    use: (parent: { handle: number; password: Uint8Array; name: Uint8Array }) => Promise<T>,
  ): Promise<T> {
    return reclaiming(
      (spec, input) => this.tpm.run(spec, input),
      OUT_OF_OBJECTS,
      [TPM_HT.TRANSIENT],
      () => this.underPrimaryOnce(use),
    );
  }

  private async underPrimaryOnce<T>(
    use: (parent: { handle: number; password: Uint8Array; name: Uint8Array }) => Promise<T>,
  ): Promise<T> {
    const primary = await this.tpm.run(CreatePrimary, {
      primaryHandle: password(TPM_RH.OWNER, this.ownerAuth),
      inSensitive: { userAuth: EMPTY, data: EMPTY },
      inPublic: eccP256StorageTemplate(),
      outsideInfo: EMPTY,
      creationPCR: [],
    });
    try {
      return await use({ ...password(primary.objectHandle), name: primary.name });
    } finally {
      await this.flush(primary.objectHandle);
    }
  }

  private async flush(handle: number): Promise<void> {
    await this.tpm.run(FlushContext, { flushHandle: handle }).catch(() => undefined);
  }

  /** On password sessions the unsealed key would cross the bus in clear: refused. */
  private requireEncryptedSession(): void {
    if (this.tpm.sessions !== "encrypted") {
      throw new UsageError(
        "a sealing key in the TPM is used only over an encrypted session: the store's --tpm says sessions=password, under which the unsealed key would cross the bus in clear",
      );
    }
  }
}

const BLOB_NAME = /^tpm-sealing-key-([0-9a-f]{16})\.json$/;

/** Where key `id`'s blobs are kept. */
export function blobPath(directory: string, id: string): string {
  return join(directory, `tpm-sealing-key-${id}.json`);
}

function readBlob(path: string, id: string): { inPublic: PublicArea; inPrivate: Uint8Array } {
  let text: string | null;
  try {
    text = readOptionalFile(path);
  } catch (error) {
    throw new StorageError(`cannot read ${path}: ${describeOsError(error)}`);
  }
  if (text === null) {
    throw new StorageError(
      `the store is sealed under TPM sealing key ${id}, whose blob ${path} is missing: restore it from a backup`,
      "store-key-missing",
    );
  }
  try {
    const file = JSON.parse(text) as { v?: unknown; blob?: unknown };
    if (file.v !== 1 || typeof file.blob !== "string" || !/^(?:[0-9a-f]{2})+$/.test(file.blob)) {
      throw new Error("not a version 1 key file");
    }
    const r = new TpmReader(Buffer.from(file.blob, "hex"));
    const inPublic = public2b.read(r);
    const inPrivate = private2b.read(r);
    r.end("the key file");
    return { inPublic, inPrivate };
  } catch (error) {
    throw new StorageError(
      `${path} is corrupt (${(error as Error).message}): the TPM sealing key ${id} cannot be loaded; restore it from a backup`,
      "store-key-wrong",
    );
  }
}
