// `reid registry events --follow --url` (docs/spec.md §10.6, §10.10) across a registry that dies:
// the built CLI follows a real `registry serve`, which is SIGKILLed between events while another
// process goes on writing to the database, and started again on the same port. The follower
// reconnects by itself with the last id it printed and prints every event once, in order, as
// `registry events --dir` lists them; it says once per outage that it lost the registry; a refusal
// on reconnecting (the operator token gone meanwhile) ends it with that refusal.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { reidOk } from "../helpers/cli.js";
import { type ServedRegistry, serveRegistry } from "../helpers/registry.js";
import { secretFile } from "../helpers/temp.js";
import {
  type Authority,
  follower,
  type Identity,
  makeRegistry,
  openStore,
  rawSql,
  registryAuthority,
  removeRegistry,
  time,
} from "./fleet-fixture.js";

const LOST = /following again once it answers$/;

describe("registry events --follow --url across a registry killed and started again", () => {
  let dir = "";
  let server: ServedRegistry;
  let authority: Authority;
  let remote: string[] = [];
  const devices: Identity[] = [];

  /** A new device enrolled straight into the database, as a second process writing beside the server. */
  async function enroll(i: number): Promise<void> {
    const identity = await authority.issue(time(i));
    const store = await openStore(dir);
    try {
      await store.enroll({ ...identity, at: time(i) });
    } finally {
      await store.close();
    }
    devices.push(identity);
  }
  const revoke = (i: number) =>
    reidOk(["registry", "revoke", devices[i]?.handle as string, "--reason", "unspecified", "--dir", dir]);

  before(async () => {
    dir = await makeRegistry();
    authority = await registryAuthority(dir);
    for (let i = 0; i < 3; i++) await enroll(i);
    server = await serveRegistry(dir);
    const tokenFile = secretFile(dirname(dir), "operator.token", readFileSync(join(dir, "operator.token")));
    remote = ["--url", server.base, "--ca", join(dir, "ca.pem"), "--token-file", tokenFile];
  });

  after(async () => {
    if (server) await server.stop();
    removeRegistry(dir);
  });

  test("SIGKILL between events: it resumes after the last id, no event missed or repeated; a refusal ends it", async () => {
    const follow = follower(["registry", "events", "--follow", "--json", ...remote]);
    try {
      await follow.lines(3);
      await revoke(0);
      await follow.lines(4);

      // The registry dies; meanwhile the database goes on: a revocation and an enrollment.
      await server.kill();
      await revoke(1);
      await enroll(3);
      server = await serveRegistry(dir, ["--listen", `127.0.0.1:${server.port}`]);
      await follow.lines(6);
      await revoke(2);
      const seen = await follow.lines(7);
      const listed = (await reidOk(["registry", "events", "--json", "--dir", dir])).stdout
        .trimEnd()
        .split("\n");
      assert.equal(listed.length, 7);
      assert.deepEqual(seen, listed, "the follower missed, repeated or reordered an event");

      // Killed again, and back without the operator token: the follower ends with the refusal.
      await server.kill();
      rawSql(dir, (db) => db.prepare("DELETE FROM operator_tokens").run());
      server = await serveRegistry(dir, ["--listen", `127.0.0.1:${server.port}`]);
      const end = await follow.ended();
      assert.equal(end.code, 4, end.stderr);
      assert.equal(end.lines, 7);
      const said = end.stderr.trimEnd().split("\n");
      assert.equal(said.length, 3, end.stderr);
      assert.match(said[0] as string, LOST);
      assert.match(said[0] as string, new RegExp(`^reid: .*127\\.0\\.0\\.1:${server.port}`));
      assert.match(said[1] as string, LOST);
      assert.equal(JSON.parse(said[2] as string).error.code, "operator-refused");
    } finally {
      follow.kill();
    }
  });
});
