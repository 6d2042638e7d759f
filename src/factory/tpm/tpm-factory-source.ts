import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { FactoryError, ReidError } from "../../errors.js";
import { password } from "../../tpm/command.js";
import { CreatePrimary, ECDH_ZGen, FlushContext } from "../../tpm/commands/object.js";
import { TPM_RH } from "../../tpm/constants.js";
import { TpmIntegrityError } from "../../tpm/errors.js";
import type { PublicArea } from "../../tpm/structures/public.js";
import { eccP256Template } from "../../tpm/templates.js";
import type { Tpm } from "../../tpm/tpm.js";
import type { FactorySource } from "../factory-source.js";
import { FACTORY_POINT } from "./factory-point.js";

const SALT = new TextEncoder().encode("reid/factory/tpm/v1");
const INFO = new TextEncoder().encode("root");

/**
 * The reid factory key's template: an ECC P-256 decryption key under the endorsement hierarchy,
 * fixed to the TPM, its private part made inside it. A primary key is a function of its
 * hierarchy's seed and its template, so this key is the same on every CreatePrimary of one TPM
 * (across restarts and TPM2_Clear, which keeps the endorsement seed) and different on every other
 * TPM, exactly like the endorsement key (EK) the manufacturer certifies. Its `unique` field names
 * reid, so it is not the EK itself.
 */
export const FACTORY_KEY_TEMPLATE: PublicArea = eccP256Template(
  "decrypt",
  sha256(new TextEncoder().encode("reid factory key v1")),
);

/**
 * The TPM as a factory source. The identity is anchored in the endorsement seed like the EK,
 * but the EK's public area is public (EK certificates are shared for attestation), so a root made
 * from it could be computed by anyone. Instead the TPM multiplies a fixed point (hashed to the
 * curve, so nobody knows its discrete log) by the reid factory key's private scalar
 * (TPM2_ECDH_ZGen): the product is as fixed as the key and known only inside this TPM. The root
 * is HKDF-SHA-256 of its x-coordinate.
 */
export class TpmFactorySource implements FactorySource {
  readonly kind = "tpm" as const;

  constructor(
    private readonly tpm: Tpm,
    private readonly endorsementAuth: Uint8Array = new Uint8Array(0),
  ) {}

  async provision(): Promise<void> {
    (await this.root()).fill(0);
  }

  async root(): Promise<Uint8Array> {
    let handle: number | null = null;
    try {
      const created = await this.tpm.run(CreatePrimary, {
        primaryHandle: password(TPM_RH.ENDORSEMENT, this.endorsementAuth),
        inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
        inPublic: FACTORY_KEY_TEMPLATE,
        outsideInfo: new Uint8Array(0),
        creationPCR: [],
      });
      handle = created.objectHandle;
      const { outPoint } = await this.tpm.run(ECDH_ZGen, {
        // The key's name binds the session's HMAC to this key (encrypted sessions, docs/spec.md §5.7).
        keyHandle: { ...password(handle), name: created.name },
        inPoint: FACTORY_POINT,
      });
      try {
        return hkdf(sha256, outPoint.x, SALT, INFO, 32);
      } finally {
        outPoint.x.fill(0);
        outPoint.y.fill(0);
      }
    } catch (error) {
      if (error instanceof TpmIntegrityError) throw error;
      const why = error instanceof ReidError ? error.message : String(error);
      throw new FactoryError(`the TPM could not give its factory identity: ${why}`, "tpm-factory-failed");
    } finally {
      if (handle !== null) await this.tpm.run(FlushContext, { flushHandle: handle }).catch(() => undefined);
    }
  }
}
