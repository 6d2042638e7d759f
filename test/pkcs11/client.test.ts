// The PKCS#11 client's own rooms: its constants against pkcs11js's, the CKR_* table, and one
// initialized module per process shared by its holders (on a real SoftHSM2).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { AuthError, ExitCode, StorageError } from "../../src/errors.js";
import { CKA, CKF_SESSION, CKF_TOKEN, CKO, CKU_USER } from "../../src/pkcs11/constants.js";
import { describePkcs11Error } from "../../src/pkcs11/errors.js";
import { loadModule } from "../../src/pkcs11/module.js";
import { Pkcs11Token } from "../../src/pkcs11/token.js";
import { SOFTHSM_MODULE, softhsmForFile } from "../helpers/softhsm.js";

const softhsm = softhsmForFile();

test("reid's PKCS#11 numbers are pkcs11js's", () => {
  const pkcs11js = createRequire(import.meta.url)("pkcs11js") as Record<string, number>;
  const ours: [string, Record<string, number>][] = [
    ["CKA_", CKA],
    ["CKO_", CKO],
    ["CKF_", CKF_SESSION],
    ["CKF_", CKF_TOKEN],
  ];
  for (const [prefix, table] of ours) {
    for (const [name, value] of Object.entries(table)) {
      assert.equal(value, pkcs11js[`${prefix}${name}`], `${prefix}${name}`);
    }
  }
  assert.equal(CKU_USER, pkcs11js.CKU_USER);
});

/** A failure as pkcs11js raises it: the CKR_* name as message, the function in `method`. */
function pkcs11Failure(ckr: string, method: string): Error {
  return Object.assign(new Error(ckr), { name: "Pkcs11Error", method });
}

test("CKR_* failures map to one line with what to do: PIN problems exit 4, the rest exit 6", () => {
  const auth = ["CKR_PIN_INCORRECT", "CKR_PIN_LOCKED", "CKR_PIN_EXPIRED", "CKR_USER_PIN_NOT_INITIALIZED"];
  for (const ckr of auth) {
    const error = describePkcs11Error(pkcs11Failure(ckr, "C_Login"), "token 't'");
    assert.ok(error instanceof AuthError, ckr);
    assert.equal(error.exitCode, ExitCode.auth);
    assert.match(error.message, new RegExp(`^C_Login on token 't': ${ckr} \\(.+\\)$`));
  }
  const locked = describePkcs11Error(pkcs11Failure("CKR_PIN_LOCKED", "C_Login"), "token 't'");
  assert.equal(locked.code, "pkcs11-pin-locked");
  assert.match(locked.message, /security officer/);
  for (const [ckr, code] of [
    ["CKR_TOKEN_NOT_PRESENT", "pkcs11-token-missing"],
    ["CKR_DEVICE_MEMORY", "pkcs11-token-full"],
    ["CKR_SESSION_HANDLE_INVALID", "pkcs11-session-lost"],
    ["CKR_VENDOR_DEFINED", "pkcs11-failure"],
  ] as const) {
    const error = describePkcs11Error(pkcs11Failure(ckr, "C_CreateObject"), "token 't'");
    assert.ok(error instanceof StorageError, ckr);
    assert.equal(error.code, code);
    assert.equal(error.exitCode, ExitCode.storage);
  }
  // Not a CKR_* failure: its first line only.
  const native = describePkcs11Error(new Error("dlopen failed\n  at native frame"), "module m");
  assert.equal(native.message, "module m: dlopen failed");
});

test("one initialized module per process: holders share it, the last release finalizes, and a new load sees new tokens", async () => {
  const hsm = await softhsm();
  const first = await hsm.token();
  const a = await loadModule(SOFTHSM_MODULE);
  const b = await loadModule(SOFTHSM_MODULE);
  assert.equal(a.api, b.api, "a second holder initialized the module again");
  a.release();
  // b still holds it: the module is still initialized for b.
  assert.ok(b.api.C_GetSlotList(true).length > 0);
  // A token made now is not seen by the initialized module (SoftHSM2 reads its directory at C_Initialize)...
  const second = await hsm.token();
  const labels = (api: typeof b.api) =>
    api.C_GetSlotList(true).map((slot) => api.C_GetTokenInfo(slot).label.trim());
  assert.ok(labels(b.api).includes(first.label));
  assert.ok(!labels(b.api).includes(second.label), "SoftHSM2 saw a new token without C_Initialize");
  b.release();
  // ...and is once the last holder let go and the module is loaded anew.
  const token = await Pkcs11Token.open(SOFTHSM_MODULE, second.label);
  try {
    assert.equal(token.info.label, second.label);
    assert.match(token.info.serial, /^[0-9a-f]{16}$/);
  } finally {
    token.close();
  }
});
