// The PKCS#11 backend's own tests beyond the conformance suite: a fixture of backends.ts on a fresh
// SoftHSM2 token (a store directory opened through the one opener), the token itself for OpenSC's
// pkcs11-tool, and a session of the test's own on it (the module's objects, bypassing the store).
import type { TestContext } from "node:test";
import { CKA } from "../../src/pkcs11/constants.js";
import type { Pkcs11Session } from "../../src/pkcs11/session.js";
import { Pkcs11Token } from "../../src/pkcs11/token.js";
import { backend } from "../../src/storage/pkcs11/backend.js";
import { AREA_LABELS } from "../../src/storage/pkcs11/objects.js";
import type { Sealer } from "../../src/storage/sealer.js";
import type { SoftHsmToken } from "../helpers/softhsm.js";
import { type BackendFixture, backendFixture, pkcs11Spec, storesSoftHsm } from "./backends.js";

/** This test file's SoftHSM2 (the one the fixtures' tokens are made in). */
export const softhsm = storesSoftHsm;

/** Opens the token the way the backend does (module, label, user login) for `use`, then closes it. */
export async function withTokenSession<T>(
  token: SoftHsmToken,
  use: (session: Pkcs11Session) => T,
): Promise<T> {
  const spec = backend.parse(token.spec);
  const opened = await Pkcs11Token.open(spec.module, spec.token);
  const session = opened.openSession();
  try {
    session.login(token.pin);
    return use(session);
  } finally {
    session.close();
    opened.close();
  }
}

/** The value of each object labelled as one of reid's areas, by label (to see whether a reader changed any). */
export function areaObjects(token: SoftHsmToken): Promise<string[]> {
  return withTokenSession(token, (session) =>
    AREA_LABELS.flatMap((label) =>
      session
        .find([{ type: CKA.LABEL, value: label }])
        .map(
          (handle) =>
            `${label}:${(session.attributes(handle, [CKA.VALUE])[0] ?? Buffer.alloc(0)).toString("hex")}`,
        ),
    ),
  );
}

export interface Pkcs11Fixture extends BackendFixture {
  readonly token: SoftHsmToken;
}

/** A store directory on a fresh token, as the conformance suite's PKCS#11 lines make it. */
export async function pkcs11Fixture(t: TestContext, sealer: Sealer | null = null): Promise<Pkcs11Fixture> {
  const token = await (await softhsm()).token();
  return { ...backendFixture(t, await pkcs11Spec(token), sealer), token };
}
