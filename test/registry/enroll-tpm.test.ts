// `reid enroll`, `cert --issued` and `reid renew` (docs/spec.md §10.7, §10.8) on a store whose
// identifier a real swtpm keeps under the owner PIN's authValue (§5.7), against a real registry on
// loopback: the key is derived from the identifier, which the TPM gives only to the PIN's
// authValue, so enrolling and renewing need the PIN; without it, or with a wrong one, each is one
// line (exit 4) and neither the store nor the registry changes. With it, the certificate names the
// store's handle, chains to the CA, and a renewal replaces it for the same key, directly and
// through a daemon that holds no proof of its own.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assertOneLineError, type CliResult, reid } from "../helpers/cli.js";
import { startServe } from "../helpers/daemon.js";
import { newToken, openssl, registryForSuite, registryTables, showDevice } from "../helpers/registry.js";
import { startSwtpm } from "../helpers/swtpm.js";
import { secretFile } from "../helpers/temp.js";

const PIN = "correct horse 42";

describe("enroll, cert --issued and renew on a TPM store with a PIN", () => {
  const fixture = registryForSuite();

  test("each needs the PIN the TPM answers to; with it, the certificate is the handle's and renews for the same key", async (t) => {
    const swtpm = await startSwtpm();
    t.after(() => swtpm.stop());
    const store = join(fixture.root, "tpm-pin");
    const pinFile = secretFile(fixture.root, "tpm-pin.pin", PIN);
    const wrongPin = secretFile(fixture.root, "tpm-pin.wrong", "not the pin 9");
    const run = (args: readonly string[], env?: NodeJS.ProcessEnv) =>
      reid(["--store", store, ...args], env ? { env } : {});
    const ok = async (args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> => {
      const result = await run(args, env);
      assert.equal(result.code, 0, `reid ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
      return result;
    };
    await ok(["--tpm", `${swtpm.spec},nv-index=0x01525c00`, "init"]);
    await ok(["pin", "set"], { REID_PIN_NEW: PIN });
    const { handle, protectedBy } = JSON.parse(
      (await ok(["--pin-file", pinFile, "--json", "status"])).stdout,
    );
    assert.equal(protectedBy, "tpm-pin");
    const tokenFile = join(fixture.root, "tpm-pin.token");
    writeFileSync(tokenFile, `${await newToken(fixture.dir)}\n`, { mode: 0o600 });
    const enroll = [
      "enroll",
      fixture.served.base,
      "--ca-fingerprint",
      fixture.pin,
      "--token-file",
      tokenFile,
    ];

    // Without the PIN the identifier stays in the TPM: nothing is asked of the registry.
    const tables = registryTables(fixture.dir);
    assertOneLineError(await run(enroll), 4, /pin-required|PIN/);
    assertOneLineError(await run(["--pin-file", wrongPin, ...enroll]), 4, /wrong-pin|wrong PIN/);
    assert.ok(!existsSync(join(store, "enrollment.json")), "a refused enroll wrote enrollment.json");
    assert.equal(registryTables(fixture.dir), tables, "a refused enroll changed the registry");
    // A wrong PIN backs off for a second before the next try counts.
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const enrolled = JSON.parse((await ok(["--pin-file", pinFile, "--json", ...enroll])).stdout) as {
      handle: string;
      serial: string;
    };
    assert.equal(enrolled.handle, handle);
    const issued = (await ok(["--pin-file", pinFile, "cert", "--issued"])).stdout;
    const pem = join(fixture.root, "tpm-pin.pem");
    writeFileSync(pem, issued);
    const verified = openssl(["verify", "-CAfile", join(fixture.dir, "ca.pem"), pem]);
    assert.ok(verified.ok, verified.out);
    assert.match(openssl(["x509", "-in", pem, "-noout", "-subject"]).out, new RegExp(`CN ?= ?${handle}`));
    assert.equal((await showDevice(fixture, handle)).device.certificateSerial, enrolled.serial);

    // A renewal signs with the derived key over mTLS: the PIN again.
    const before = readFileSync(join(store, "enrollment.json"), "utf8");
    assertOneLineError(await run(["renew"]), 4, /pin-required|PIN/);
    assert.equal(readFileSync(join(store, "enrollment.json"), "utf8"), before, "a refused renew changed it");
    const renewed = JSON.parse((await ok(["--pin-file", pinFile, "--json", "renew"])).stdout) as {
      serial: string;
    };
    assert.notEqual(renewed.serial, enrolled.serial);
    const again = (await ok(["--pin-file", pinFile, "cert", "--issued"])).stdout;
    assert.notEqual(again, issued);
    const publicKey = (text: string) => openssl(["x509", "-noout", "-pubkey"], text).out;
    assert.equal(publicKey(again), publicKey(issued), "the renewal is not for the same key");
    assert.equal((await showDevice(fixture, handle)).device.certificateSerial, renewed.serial);

    // Through a daemon that holds no proof: the PIN the request carries proves the owner there.
    const daemon = await startServe(store);
    t.after(() => daemon.stop());
    assertOneLineError(await run(["renew"]), 4, /pin-required|PIN/);
    const served = JSON.parse((await ok(["--pin-file", pinFile, "--json", "renew"])).stdout) as {
      serial: string;
    };
    assert.notEqual(served.serial, renewed.serial);
    assert.equal((await showDevice(fixture, handle)).device.certificateSerial, served.serial);
  });
});
