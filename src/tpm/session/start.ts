import { randomBytes } from "node:crypto";
import { type CommandInput, type CommandOutput, type CommandSpec, password } from "../command.js";
import { GetCapability } from "../commands/capability.js";
import { CreatePrimary, FlushContext } from "../commands/object.js";
import { StartAuthSession, TPM_SE } from "../commands/session.js";
import { TPM_ALG, TPM_CAP, TPM_HT, TPM_RH } from "../constants.js";
import { TpmIntegrityError, TpmResponseError } from "../errors.js";
import { TpmWriter } from "../marshal/buffer.js";
import { objectName } from "../names.js";
import { type PublicArea, publicArea } from "../structures/public.js";
import { eccP256Template, rsa2048DecryptTemplate } from "../templates.js";
import { HmacSession } from "./hmac-session.js";
import { kdfa } from "./kdf.js";
import { makeSalt } from "./salt.js";

/** Runs one command without a session of its own (the commands that make the session). */
export type Runner = <C extends CommandSpec>(spec: C, input: CommandInput<C>) => Promise<CommandOutput<C>>;

/** Which kind of salt key: ECC P-256 unless the TPM has no ECC (auto), or one of them (tests). */
export type SaltKind = "auto" | "ecc" | "rsa";

/** What a TPM without ECC (or without P-256) answers a CreatePrimary of an ECC key with. */
const NO_ECC = new Set(["TPM_RC_TYPE", "TPM_RC_ASYMMETRIC", "TPM_RC_CURVE", "TPM_RC_KEY_SIZE"]);
/** Out of room for objects or sessions: what leftovers of killed clients cause on a TPM without a resource manager. */
export const OUT_OF_OBJECTS: ReadonlySet<string> = new Set(["TPM_RC_OBJECT_MEMORY", "TPM_RC_OBJECT_HANDLES"]);
const OUT_OF_SESSIONS = new Set(["TPM_RC_SESSION_MEMORY", "TPM_RC_SESSION_HANDLES"]);

/**
 * Starts reid's session on a TPM (docs/spec.md §5.7): an ephemeral primary decryption key under
 * the null hierarchy (no authorization needed, nothing left in the TPM), checked against the
 * template and its name, salts an unbound HMAC session with SHA-256 and AES-128-CFB; the key is
 * flushed as soon as the session exists, and the session key is KDFa(SHA-256, salt, "ATH",
 * nonceTPM, nonceCaller, 256).
 */
export async function startSession(run: Runner, kind: SaltKind = "auto"): Promise<HmacSession> {
  const key = await saltKey(run, kind);
  try {
    const { salt, encryptedSalt } = makeSalt(key.public);
    const nonceCaller = randomBytes(32);
    const input = {
      tpmKey: key.handle,
      bind: TPM_RH.NULL,
      nonceCaller,
      encryptedSalt,
      sessionType: TPM_SE.HMAC,
      symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB },
      authHash: TPM_ALG.SHA256,
    } as const;
    try {
      const { sessionHandle, nonceTPM } = await reclaiming(
        run,
        OUT_OF_SESSIONS,
        [TPM_HT.HMAC_SESSION, TPM_HT.POLICY_SESSION],
        () => run(StartAuthSession, input),
      );
      const sessionKey = kdfa("sha256", salt, "ATH", nonceTPM, nonceCaller, 256);
      return new HmacSession(sessionHandle, sessionKey, nonceTPM);
    } finally {
      salt.fill(0);
    }
  } finally {
    await run(FlushContext, { flushHandle: key.handle }).catch(() => undefined);
  }
}

/** Creates the salt key and checks that the TPM answered with a key of the template's kind and its own name. */
async function saltKey(run: Runner, kind: SaltKind): Promise<{ handle: number; public: PublicArea }> {
  const create = (template: PublicArea) =>
    reclaiming(run, OUT_OF_OBJECTS, [TPM_HT.TRANSIENT], () =>
      run(CreatePrimary, {
        primaryHandle: password(TPM_RH.NULL),
        inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
        inPublic: template,
        outsideInfo: new Uint8Array(0),
        creationPCR: [],
      }),
    );
  let template = kind === "rsa" ? rsa2048DecryptTemplate() : eccP256Template("decrypt");
  let created: Awaited<ReturnType<typeof create>>;
  try {
    created = await create(template);
  } catch (error) {
    if (!(kind === "auto" && error instanceof TpmResponseError && NO_ECC.has(error.rc))) throw error;
    template = rsa2048DecryptTemplate();
    created = await create(template);
  }
  const { objectHandle, outPublic, name } = created;
  // Everything but the key itself (`unique`) must be the template's.
  const sameShape =
    outPublic.type === template.type &&
    equal(encoded({ ...outPublic, unique: template.unique } as PublicArea), encoded(template));
  if (!sameShape || !equal(name, objectName(outPublic))) {
    await run(FlushContext, { flushHandle: objectHandle }).catch(() => undefined);
    throw new TpmIntegrityError(
      "the TPM's salt key is not the key asked for (another template, or a name that is not its public area's)",
    );
  }
  return { handle: objectHandle, public: outPublic };
}

/**
 * Runs `attempt`; if the TPM is out of room for objects or sessions, flushes the ones of `types`
 * it holds and tries once more. Called only while this connection holds none of its own: swtpm
 * serves one client at a time and /dev/tpm0 one opener, so whatever is loaded then was left by a
 * client that is gone (a killed process); /dev/tpmrm0 shows each connection only its own.
 */
export async function reclaiming<T>(
  run: Runner,
  codes: ReadonlySet<string>,
  types: readonly number[],
  attempt: () => Promise<T>,
): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!(error instanceof TpmResponseError && codes.has(error.rc))) throw error;
    for (const type of types) {
      const first = type * 2 ** 24;
      const { capabilityData } = await run(GetCapability, {
        capability: TPM_CAP.HANDLES,
        property: first,
        propertyCount: 256,
      });
      if (capabilityData.capability !== TPM_CAP.HANDLES) continue;
      for (const handle of capabilityData.handles) {
        if (handle >>> 24 !== type) continue;
        await run(FlushContext, { flushHandle: handle }).catch(() => undefined);
      }
    }
    return attempt();
  }
}

function encoded(area: PublicArea): Uint8Array {
  const w = new TpmWriter();
  publicArea.write(w, area);
  return w.finish();
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
