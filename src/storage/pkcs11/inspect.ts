import { type Pkcs11Info, readPkcs11Info } from "../../pkcs11/info.js";
import { Pkcs11Token } from "../../pkcs11/token.js";
import type { BackendOpenOptions } from "../backend.js";
import { AREA_SIZE, decodeArea } from "../record.js";
import type { AreaIndex } from "../storage-area.js";
import { AREA_LABELS, lookUpArea } from "./objects.js";
import { userPin, userPinAtHand } from "./pin.js";
import type { Pkcs11Spec } from "./spec.js";

/** Whether reid's object for an area is there, and whose it is. */
export interface AreaObjectState {
  readonly label: string;
  /** "unchecked": no user PIN was given, and private objects show only to the logged-in user. */
  readonly state: "free" | "reid" | "foreign" | "unchecked";
  readonly detail: string;
}

export interface Pkcs11Report extends Pkcs11Info {
  readonly objects: readonly AreaObjectState[];
}

/**
 * What `reid pkcs11 info` shows: the module's and token's info, and reid's two objects, looked at
 * (never changed) in a session logged in as the user when a PIN is at hand. No PIN is no failure:
 * the objects are then reported unchecked. A wrong PIN fails (exit 4), as a store's open does.
 */
export async function inspectPkcs11(
  spec: Pkcs11Spec,
  options: Pick<BackendOpenOptions, "env" | "prompt">,
): Promise<Pkcs11Report> {
  const token = await Pkcs11Token.open(spec.module, spec.token);
  try {
    const session = token.openSession();
    try {
      const info = readPkcs11Info(token, session);
      if (!userPinAtHand(spec, options) || info.state.userPinLocked) {
        const detail = info.state.userPinLocked
          ? "not checked: the user PIN is locked"
          : "not checked: give the user PIN (pin-file= or REID_PKCS11_PIN_FILE) to see private objects";
        return { ...info, objects: AREA_LABELS.map((label) => ({ label, state: "unchecked", detail })) };
      }
      session.login(await userPin(spec, options, token.info.label));
      return { ...info, objects: ([0, 1] as const).map((area) => objectState(session, area)) };
    } finally {
      session.close();
    }
  } finally {
    token.close();
  }
}

function objectState(session: Parameters<typeof lookUpArea>[0], area: AreaIndex): AreaObjectState {
  const label = AREA_LABELS[area];
  const found = lookUpArea(session, area, AREA_SIZE);
  if (found.kind === "free") return { label, state: "free", detail: "free" };
  if (found.kind === "foreign") return { label, state: "foreign", detail: `someone else's: ${found.why}` };
  const decoded = decodeArea(found.value);
  found.value.fill(0);
  if (decoded.kind === "record") decoded.record.identifier?.fill(0);
  const detail =
    decoded.kind === "record"
      ? "reid's, holds a record"
      : decoded.kind === "erased"
        ? "reid's, empty"
        : `reid's, corrupt: ${decoded.reason}`;
  return { label, state: "reid", detail };
}
