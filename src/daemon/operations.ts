import { MAX_UNLOCK_SECONDS } from "../auth/actor.js";
import { PROOF_REFUSAL_REASONS } from "../auth/proofs.js";
import type { ElementApi } from "../element/api.js";
import {
  certificateDays,
  MAX_CERTIFICATE_DAYS,
  MAX_SCHEDULE_ID,
  passkeyName,
  passkeyRegistration,
  REQUEST_TYPES,
  URL_SAFE_ID,
} from "../element/inputs.js";
import { UsageError } from "../errors.js";
import { FACTORY_KINDS } from "../factory/factory-source.js";
import { algorithmField as algorithm } from "../http/algorithm-field.js";
import { defineOperations, inPath, inQuery, rawBody } from "../http/operation.js";
import { bytes, custom, flag, oneOf, optional, pin, refine, text, whole } from "../http/schema.js";
import type { ElementMode } from "../storage/record.js";
import { SEALING_KEY_KINDS } from "../storage/sealing/key-home.js";
import type { PageApi } from "../web/links.js";

/** As much as `reid sign` reads from a file. */
const MESSAGE_LIMIT = 256 * 2 ** 20;
const MODES: readonly ElementMode[] = ["random", "factory"];

const type = oneOf(REQUEST_TYPES);
const format = optional(text({ max: 1024 }));

/** Days as a client sent them: a whole number (or its digits), checked as the CLI checks --days. */
const days = custom(
  `whole days, 1 to ${MAX_CERTIFICATE_DAYS} (default 365)`,
  (value) => {
    if (value === undefined || (typeof value === "number" && Number.isFinite(value)))
      return certificateDays(value);
    if (typeof value === "string" && value.length <= 32) return certificateDays(value);
    throw new UsageError(`'days' must be whole days from 1 to ${MAX_CERTIFICATE_DAYS}`);
  },
  { optional: true },
);

/** The page's origin a passkey was made on: http(s)://host[:port], nothing more. */
const origin = text({
  max: 256,
  pattern: /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?$/,
  message: (name) => `'${name}' must be an origin such as http://localhost:8080`,
});

/**
 * The element's API on the daemon's Unix socket, one operation per ElementApi method: the routes
 * (daemon/routes.ts) and RemoteElement (daemon/client.ts) are both made from this table.
 * Specified in docs/spec.md §6.4.
 */
export const ELEMENT_OPERATIONS = defineOperations<ElementApi>()({
  limit: 64 * 1024,
  operations: {
    status: { summary: "The element's status.", method: "GET", path: "/v1/status", owner: false },
    submit: {
      summary: "An init, reset or erase request, carried out now.",
      method: "POST",
      path: "/v1/requests",
      owner: true,
      input: { type, format, unlinkable: optional(flag) },
      args: ["type", "format", "unlinkable"],
    },
    initFactory: {
      summary: "init in factory mode: the identifier from a factory source.",
      method: "POST",
      path: "/v1/requests",
      owner: true,
      when: "factory",
      input: {
        type: refine(
          type,
          (value) => value === "init",
          () => "'factory' goes only with an init request",
        ),
        format,
        factory: oneOf(FACTORY_KINDS),
      },
      fixed: { type: "init" },
      args: ["factory", "format"],
    },
    switchMode: {
      summary: "The mode switch: random or factory.",
      method: "POST",
      path: "/v1/mode",
      owner: true,
      input: { mode: oneOf(MODES), unlinkable: optional(flag) },
      args: ["mode", "unlinkable"],
    },
    schedule: {
      summary: "A request to carry out at a time (ISO-8601 with a zone).",
      method: "POST",
      path: "/v1/schedule",
      owner: true,
      input: {
        type,
        format,
        at: text({ max: 64, message: () => "'at' must be an ISO-8601 time" }),
        unlinkable: optional(flag),
      },
      args: ["type", "format", "at", "unlinkable"],
    },
    cancelScheduled: {
      summary: "Removes a scheduled request before its time.",
      method: "DELETE",
      path: "/v1/schedule/:id",
      owner: true,
      input: { id: inPath(text({ max: MAX_SCHEDULE_ID })) },
      args: ["id"],
    },
    setSingleType: {
      summary: "Single-type mode on or off: every request becomes a reset.",
      method: "PUT",
      path: "/v1/config",
      owner: true,
      input: { singleType: flag },
      args: ["singleType"],
    },
    setPasskeysBypassLockout: {
      summary: "Whether passkeys pass while the element is locked after wrong PINs (default: no).",
      method: "PUT",
      path: "/v1/config",
      owner: true,
      when: "passkeysBypassLockout",
      input: { passkeysBypassLockout: flag },
      args: ["passkeysBypassLockout"],
    },
    seal: {
      summary:
        "Seals the store under the daemon's key-encryption key, or a new key in the TPM or token (key); rotate: re-seals it under a new key.",
      method: "POST",
      path: "/v1/seal",
      owner: true,
      input: { key: optional(oneOf(SEALING_KEY_KINDS)), rotate: optional(flag) },
      args: ["key", "rotate"],
    },
    unseal: {
      summary: "Commits the identifier in clear again and destroys the key that sealed it.",
      method: "POST",
      path: "/v1/unseal",
      owner: true,
    },
    keys: {
      summary: "The derived public keys and the handle.",
      method: "GET",
      path: "/v1/keys",
      owner: false,
    },
    certificate: {
      summary: "A self-signed X.509 certificate of the derived key (PEM).",
      method: "POST",
      path: "/v1/certificate",
      owner: false,
      input: { algorithm, days },
      args: ["algorithm", "days"],
      output: { field: "certificate" },
    },
    certificationRequest: {
      summary: "A PKCS#10 certification request of the derived key (PEM).",
      method: "POST",
      path: "/v1/csr",
      owner: false,
      input: { algorithm, subject: optional(text({ max: 1024 })) },
      args: ["algorithm", "subject"],
      output: { field: "request" },
    },
    sign: {
      summary: "Signs the request body with the derived key.",
      method: "POST",
      path: "/v1/sign",
      owner: false,
      input: { algorithm: inQuery(algorithm), message: rawBody },
      args: ["algorithm", "message"],
      output: { hex: ["signature"] },
      limit: MESSAGE_LIMIT,
    },
    verify: {
      summary: "Verifies a signature over the request body against the derived key.",
      method: "POST",
      path: "/v1/verify",
      owner: false,
      input: {
        algorithm: inQuery(algorithm),
        signature: inQuery(bytes({ max: 2048 }, () => "'signature' must be hex")),
        message: rawBody,
      },
      args: ["algorithm", "message", "signature"],
      limit: MESSAGE_LIMIT,
    },
    exportWrapped: {
      summary: "The identifier wrapped under a key-encryption key (RFC 5649).",
      method: "POST",
      path: "/v1/export",
      owner: true,
      input: { wrapKey: bytes({ length: 32 }, () => "'wrapKey' must be 32 bytes (64 hex digits)") },
      args: ["wrapKey"],
      output: { hex: ["wrapped"] },
    },
    setPin: {
      summary: "Sets the owner PIN, or changes it (with the present one).",
      method: "POST",
      path: "/v1/pin",
      owner: true,
      input: { newPin: pin },
      args: ["newPin"],
    },
    unlockPin: {
      summary: "Unlocks after too many wrong PINs, with the recovery code.",
      method: "POST",
      path: "/v1/pin/unlock",
      owner: false,
      input: { recoveryCode: text({ max: 64 }) },
      args: ["recoveryCode"],
    },
    unlock: {
      summary:
        "Opens the owner's unlock window: command and telemetry from the socket without the PIN until it ends.",
      method: "POST",
      path: "/v1/unlock",
      owner: true,
      input: {
        seconds: whole({
          min: 1,
          max: MAX_UNLOCK_SECONDS,
          message: () => `'seconds' must be 1 to ${MAX_UNLOCK_SECONDS}`,
        }),
      },
      args: ["seconds"],
    },
    lock: {
      summary: "Closes the owner's unlock window, if one is open.",
      method: "POST",
      path: "/v1/lock",
      owner: false,
    },
    auditLog: {
      summary: "The audit log and whether its chain is intact.",
      method: "GET",
      path: "/v1/log",
      owner: false,
    },
    events: {
      summary: "Every finished request ('request') and binding event ('binding'), as it happens.",
      method: "GET",
      path: "/events",
      owner: false,
      output: { events: ["ready", "request", "binding"] },
    },
    signIn: {
      summary: "A sign-in to the owner's page: the proof checked (and counted) and recorded.",
      method: "POST",
      path: "/v1/sign-in",
      owner: true,
    },
    refuseProof: {
      summary: "Records an owner operation refused for want of a fresh proof, and refuses it.",
      method: "POST",
      path: "/v1/refusals",
      owner: false,
      input: {
        operation: text({
          max: 64,
          pattern: /^[a-z][a-z0-9-]*$/,
          message: (name) => `'${name}' must name an owner operation (e.g. reset)`,
        }),
        reason: oneOf(PROOF_REFUSAL_REASONS),
      },
      args: ["operation", "reason"],
    },
    listPasskeys: {
      summary: "The owner's passkeys: ids, transports and dates.",
      method: "GET",
      path: "/v1/passkeys",
      owner: false,
      output: { field: "passkeys" },
    },
    passkeyUser: {
      summary: "The owner's WebAuthn user handle, made on first use.",
      method: "POST",
      path: "/v1/passkeys/user",
      owner: false,
    },
    addPasskey: {
      summary: "Registers a passkey from a WebAuthn registration (the PIN, never a passkey).",
      method: "POST",
      path: "/v1/passkeys",
      owner: true,
      input: {
        response: custom("a WebAuthn registration (RegistrationResponseJSON)", (value) =>
          passkeyRegistration(value),
        ),
        challenge: optional(text({ max: 1024 })),
        origin,
        name: optional(custom("a passkey's name, 1 to 64 characters", (value) => passkeyName(value))),
      },
    },
    removePasskey: {
      summary: "Removes a passkey.",
      method: "DELETE",
      path: "/v1/passkeys/:id",
      owner: true,
      input: {
        id: inPath(
          text({ max: 1024, pattern: URL_SAFE_ID, message: () => "'id' must be a passkey id (base64url)" }),
        ),
      },
      args: ["id"],
    },
  },
});

/**
 * What the socket serves of the owner's page: its one-time sign-in link (docs/spec.md §6.4, §8.2).
 * Reaching the 0600 socket is the proof (the owner's account), so no PIN is asked. The page
 * reaches the element in-process through ElementApi and the device endpoint serves its own table:
 * neither serves this one, so nothing that reaches the page can mint the capability to reach it.
 */
export const PAGE_OPERATIONS = defineOperations<PageApi>()({
  limit: 1024,
  operations: {
    pageLink: {
      summary: "A one-time sign-in link to the owner's page, valid for 5 minutes.",
      method: "POST",
      path: "/v1/page/link",
      owner: false,
    },
  },
});
