// The registry's read-only commands on a streaming replica (docs/spec.md §10.3, §10.6): a real
// PostgreSQL primary and a hot standby made from it with pg_basebackup -R, both on loopback.
// Written through the primary, `devices`, `show`, `events` (followed too) and `crl` read the same
// through --db-read; a write through the replica is refused and changes nothing; and with the
// primary stopped the reads still answer, so they came from the replica.
import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as x509 from "@peculiar/x509";
import { openPostgresRegistry } from "../../src/registry/store/postgres/open.js";
import { postgresTarget } from "../../src/registry/store/postgres/url.js";
import type { RegistryStore } from "../../src/registry/store/store.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { caughtUp, type Postgres, startPostgres } from "../helpers/postgres.js";
import { type Authority, enrollChain, follower, type Identity, registryAuthority } from "./fleet-fixture.js";

describe("read-only commands on a streaming replica (--db-read)", () => {
  let primary: Postgres;
  let replica: Postgres;
  let root = "";
  let dir = "";
  let onPrimary = "";
  let onReplica = "";
  let store: RegistryStore;
  let authority: Authority;
  const chain: Identity[] = [];

  before(async () => {
    primary = await startPostgres();
    onPrimary = await primary.newDatabase();
    replica = await startPostgres(primary);
    onReplica = replica.url(new URL(onPrimary).pathname.slice(1));
    root = mkdtempSync(join(tmpdir(), "reid-replica-"));
    dir = join(root, "registry");
    await reidJson(["registry", "init", "--dir", dir, "--db", onPrimary]);
    store = await openPostgresRegistry(postgresTarget(onPrimary));
    authority = await registryAuthority(dir);
    chain.push(...(await enrollChain(store, authority, 3)));
    for (let i = 0; i < 4; i++) await enrollChain(store, authority, 1, 1000 + i);
  });

  after(async () => {
    await store?.close();
    await replica?.stop();
    await primary?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const read = (args: readonly string[]) => reidOk([...args, "--dir", dir, "--db-read", onReplica]);
  const fromPrimary = (args: readonly string[]) => reidOk([...args, "--dir", dir]);

  /** The serials a CRL in PEM lists. */
  const crlSerials = (pem: string) =>
    new x509.X509Crl(pem).entries.map((entry) => entry.serialNumber.toLowerCase()).sort();

  test("written through the primary, devices, show, events and crl read the same from the replica", async () => {
    const gone = chain.at(-1) as Identity;
    await reidOk(["registry", "revoke", gone.handle, "--reason", "keyCompromise", "--dir", dir]);
    await caughtUp(primary, replica);
    for (const args of [
      ["registry", "devices", "--json"],
      ["registry", "devices", "--status", "superseded"],
      ["registry", "show", (chain[1] as Identity).handle],
      ["registry", "events", "--json"],
    ]) {
      const [there, here] = [await fromPrimary(args), await read(args)];
      assert.equal(here.stdout, there.stdout, args.join(" "));
    }
    const listed = (await read(["registry", "devices", "--json"])).stdout.trim().split("\n");
    assert.equal(listed.length, 7);
    const [there, here] = [await fromPrimary(["registry", "crl"]), await read(["registry", "crl"])];
    assert.deepEqual(crlSerials(here.stdout), crlSerials(there.stdout));
    assert.equal(crlSerials(here.stdout).length, 3, "two superseded certificates and the revoked one");
  });

  test("events --follow on the replica prints what the primary commits, in order, none missed", async () => {
    const before = (await store.eventsSince(0)).length;
    const following = follower(["registry", "events", "--follow", "--dir", dir, "--db-read", onReplica]);
    try {
      await following.lines(before);
      for (let i = 0; i < 5; i++) await enrollChain(store, authority, 1, 2000 + i);
      const lines = await following.lines(before + 5);
      const printed = lines.map((line) => Number(line.trim().split(/\s+/)[0]));
      const committed = (await store.eventsSince(0)).map((event) => event.sequence);
      assert.deepEqual(printed.slice(0, before + 5), committed);
      assert.equal((await following.stop("SIGTERM")).code, 0);
    } finally {
      following.kill();
    }
  });

  test("a write through the replica is refused (registry-failure, no writes there) and changes nothing", async () => {
    await caughtUp(primary, replica);
    const devices = await fromPrimary(["registry", "devices", "--json"]);
    const lone = JSON.parse(devices.stdout.trim().split("\n").at(-1) as string).handle;
    const revoke = ["registry", "revoke", lone, "--reason", "unspecified", "--dir", dir];
    assertOneLineError(await reid([...revoke, "--db", onReplica]), 6, /takes no writes \(a replica\?\)/);
    assertOneLineError(
      await reid(["registry", "token", "create", "--dir", dir, "--db", onReplica]),
      6,
      /takes no writes/,
    );
    assert.equal((await fromPrimary(["registry", "devices", "--json"])).stdout, devices.stdout);
  });

  test("with the primary stopped the reads still answer from the replica; the primary's commands cannot reach it", async () => {
    await caughtUp(primary, replica);
    const listed = (await read(["registry", "devices", "--json"])).stdout;
    await primary.stop();
    assert.equal((await read(["registry", "devices", "--json"])).stdout, listed);
    assert.match((await read(["registry", "crl"])).stdout, /^-----BEGIN X509 CRL-----/);
    const direct = await reid(["registry", "devices", "--dir", dir]);
    assertOneLineError(direct, 7, new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${primary.port}`));
  });
});
