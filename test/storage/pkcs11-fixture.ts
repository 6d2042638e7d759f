// The PKCS#11 backend as the IdentifierStore conformance suite sees it: each fixture is a fresh
// SoftHSM2 token, opened through the backend's open() and wrapped in DualAreaStore (sealed or not),
// with raw access through a session of its own (the module's objects, bypassing the store).
import { randomBytes } from "node:crypto";
import { CKA, CKO } from "../../src/pkcs11/constants.js";
import type { Pkcs11Session } from "../../src/pkcs11/session.js";
import { Pkcs11Token } from "../../src/pkcs11/token.js";
import { DualAreaStore } from "../../src/storage/dual-area-store.js";
import type { IdentifierStore } from "../../src/storage/identifier-store.js";
import { backend } from "../../src/storage/pkcs11/backend.js";
import { AREA_LABELS, areaTemplate } from "../../src/storage/pkcs11/objects.js";
import { AREA_SIZE } from "../../src/storage/record.js";
import { AesGcmSealer, KEK_LENGTH, type Sealer } from "../../src/storage/sealer.js";
import { type SoftHsmToken, softhsmForFile } from "../helpers/softhsm.js";
import { tempDir } from "../helpers/temp.js";
import type { StoreBackend, StoreFixture } from "./conformance.js";

const softhsm = softhsmForFile();

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

/** The value of the object labelled for `area`, or zeros when there is none. */
function readArea(session: Pkcs11Session, area: 0 | 1): Uint8Array {
  const [handle] = session.find([{ type: CKA.LABEL, value: AREA_LABELS[area] }]);
  if (!handle) return new Uint8Array(AREA_SIZE);
  return Uint8Array.from(session.attributes(handle, [CKA.VALUE])[0] ?? []);
}

/** Every data object's value on the token: reid's two areas first (zeros when absent), then the rest. */
function readAll(session: Pkcs11Session): Uint8Array[] {
  const others = session
    .find([{ type: CKA.CLASS, value: CKO.DATA }])
    .map((handle) => session.attributes(handle, [CKA.LABEL, CKA.VALUE]) as [Buffer, Buffer])
    .filter(([label]) => !AREA_LABELS.includes(label.toString()))
    .map(([, value]) => Uint8Array.from(value))
    .sort((a, b) => Buffer.compare(a, b));
  return [readArea(session, 0), readArea(session, 1), ...others];
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

/** Replaces the area's object behind the store's back with one shaped as reid makes them. */
function replaceArea(session: Pkcs11Session, area: 0 | 1, bytes: Uint8Array): void {
  for (const handle of session.find([{ type: CKA.LABEL, value: AREA_LABELS[area] }])) session.destroy(handle);
  session.create(areaTemplate(area, Buffer.from(bytes)));
}

/** A store over the backend's areas that also ends the backend's session when it closes. */
async function openStore(
  token: SoftHsmToken,
  directory: string,
  sealer: Sealer | null,
  lockTimeoutMs: number,
): Promise<IdentifierStore> {
  const opened = await backend.open(directory, backend.parse(token.spec), {
    write: true,
    lockTimeoutMs,
    env: {},
  });
  const store = new DualAreaStore(opened.area, sealer);
  return {
    location: store.location,
    capacity: store.capacity,
    sealingKeyId: store.sealingKeyId,
    info: () => store.info(),
    load: (options) => store.load(options),
    commit: (next) => store.commit(next),
    close: async () => {
      try {
        await store.close();
      } finally {
        await opened.close();
      }
    },
  };
}

export interface Pkcs11Fixture extends StoreFixture {
  readonly token: SoftHsmToken;
}

/** A fresh token as a conformance fixture. */
export async function pkcs11Fixture(
  t: import("node:test").TestContext,
  sealer: Sealer | null = null,
): Promise<Pkcs11Fixture> {
  const token = await (await softhsm()).token();
  const { store } = tempDir(t, "reid-pkcs11-store-");
  return {
    token,
    open: (options) => openStore(token, store, sealer, options?.lockTimeoutMs ?? 5000),
    raw: () => withTokenSession(token, readAll),
    area: (index) => withTokenSession(token, (session) => readArea(session, index)),
    damage: (index, bytes) => withTokenSession(token, (session) => replaceArea(session, index, bytes)),
  };
}

export { softhsm };

export const pkcs11StoreBackend: StoreBackend = {
  name: "PKCS#11 data objects (SoftHSM2)",
  fixture: (t) => pkcs11Fixture(t),
};

export const sealedPkcs11StoreBackend: StoreBackend = {
  name: "PKCS#11 data objects (SoftHSM2), sealed",
  sealed: true,
  fixture: (t) => {
    const kek = randomBytes(KEK_LENGTH);
    const sealer = new AesGcmSealer(kek);
    kek.fill(0);
    return pkcs11Fixture(t, sealer);
  },
};
