import assert from "node:assert/strict";
import { resolve } from "node:path";
import { test } from "node:test";
import { ExitCode, UsageError } from "../../src/errors.js";
import { backend } from "../../src/storage/pkcs11/backend.js";

const MODULE = "/usr/lib/softhsm/libsofthsm2.so";

test("--pkcs11 text parses in any order, formats with every parameter spelled out, and round-trips", () => {
  const spec = backend.parse(`token=reid token,pin-file=/run/pin,module=${MODULE}`);
  assert.deepEqual(spec, { module: MODULE, token: "reid token", pinFile: "/run/pin" });
  assert.equal(backend.format(spec), `module=${MODULE},token=reid token,pin-file=/run/pin`);
  assert.deepEqual(backend.parse(backend.format(spec)), spec);
  const bare = backend.parse(`module=${MODULE},token=t`);
  assert.equal(backend.format(bare), `module=${MODULE},token=t`);
  // A relative PIN file is the one in the directory reid was started in, remembered as such.
  assert.equal(backend.parse(`module=${MODULE},token=t,pin-file=pin`).pinFile, resolve("pin"));
  assert.equal(backend.kind, "pkcs11");
  assert.equal(backend.defaultSource, "pkcs11+os");
});

test("two specs name the same place when module and token agree, wherever the PIN comes from", () => {
  const a = backend.parse(`module=${MODULE},token=t,pin-file=/a`);
  assert.ok(backend.samePlace(a, backend.parse(`module=${MODULE},token=t`)));
  assert.ok(!backend.samePlace(a, backend.parse(`module=${MODULE},token=u`)));
  assert.ok(!backend.samePlace(a, backend.parse("module=/opt/hsm/lib.so,token=t")));
});

test("bad --pkcs11 text is a usage error (exit 2) naming what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["", /expected module=PATH,token=LABEL/],
    ["softhsm", /expected module=PATH,token=LABEL/],
    [`module=${MODULE}`, /token= is missing/],
    ["token=t", /module= is missing/],
    ["module=libsofthsm2.so,token=t", /module= must be an absolute path/],
    [`module=${MODULE},token=`, /token= is missing/],
    [`module=${MODULE},token=${"x".repeat(33)}`, /at most 32 bytes/],
    [`module=${MODULE},token=a\tb`, /without control characters/],
    [`module=${MODULE},token=t,pin-file=`, /pin-file= needs a path/],
    [`module=${MODULE},token=t,token=u`, /'token' is given twice/],
    [`module=${MODULE},token=t,pin=1234`, /unknown parameter 'pin'/],
  ];
  for (const [text, why] of cases) {
    assert.throws(
      () => backend.parse(text),
      (error: unknown) =>
        error instanceof UsageError && error.exitCode === ExitCode.usage && why.test(error.message),
      `'${text}'`,
    );
  }
  // The checker is not refusing everything: a label of exactly 32 bytes is fine.
  assert.equal(backend.parse(`module=${MODULE},token=${"x".repeat(32)}`).token.length, 32);
});
