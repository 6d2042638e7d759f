// `reid enroll` and `reid renew` are owner operations (docs/spec.md §2.8, §10.8), met by the owner
// of an element with a PIN and a registry behind a TCP relay that counts every connection to it:
// without a proof each is refused in one line, exit 4, and the registry hears nothing; with
// --pin-file they run; through the daemon, inside `reid unlock --for`, they run without the PIN and
// are recorded as `cli:unlocked`, until `reid lock`. Each is in the audit log, refusals too.
import assert from "node:assert/strict";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import { serve } from "../helpers/daemon.js";
import { newToken, registryForSuite } from "../helpers/registry.js";
import { secretFile } from "../helpers/temp.js";

const PIN = "owner pin 24680";

/**
 * The network in front of the registry: every TCP connection passed on as it is (TLS end to end,
 * the client certificate of a renewal too) and counted. The element opens one for each request.
 */
async function countingRelay(port: number) {
  let connections = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    connections++;
    const registry = connect(port, "127.0.0.1");
    for (const socket of [client, registry]) {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
    }
    client.pipe(registry).pipe(client);
    client.on("error", () => registry.destroy());
    registry.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}

interface Record {
  readonly request: string;
  readonly principal: string;
  readonly outcome: string;
  readonly detail?: { readonly registry?: string };
}

describe("enroll and renew take the owner's proof once a PIN is set", () => {
  const fixture = registryForSuite();
  let relay: Awaited<ReturnType<typeof countingRelay>>;

  before(async () => {
    relay = await countingRelay(fixture.served.port);
  });
  after(async () => {
    await relay?.close();
  });

  /** An element with a PIN, a token for it, and its `reid enroll` through the counting relay. */
  async function pinnedElement(name: string) {
    const store = join(fixture.root, name);
    await reidOk(["--store", store, "init"]);
    const pinFile = secretFile(fixture.root, `${name}.pin`, `${PIN}\n`);
    await reidOk(["--store", store, "pin", "set", "--new-pin-file", pinFile]);
    const tokenFile = secretFile(fixture.root, `${name}.token`, `${await newToken(fixture.dir)}\n`);
    const enroll = ["--store", store, "enroll", relay.base, "--ca-fingerprint", fixture.pin];
    return { store, pin: ["--pin-file", pinFile], enroll: [...enroll, "--token-file", tokenFile] };
  }

  const serialOf = async (store: string) =>
    (await reidJson<{ enrollment: { serial: string } | null }>(["--store", store, "status"])).enrollment
      ?.serial;
  const records = async (store: string) =>
    (await reidJson<{ records: Record[] }>(["--store", store, "log"])).records.filter((record) =>
      ["enroll", "renew"].includes(record.request),
    );

  test("directly: refused without the PIN before the registry hears anything; with --pin-file it enrolls and renews", async () => {
    const { store, pin, enroll } = await pinnedElement("direct");
    const asked = relay.requests();
    assertOneLineError(await reid(enroll), 4, /a PIN is set: give it/);
    assert.equal(relay.requests(), asked, "the registry heard nothing");
    assert.equal(await serialOf(store), undefined);

    const enrolled = await reid([...enroll, ...pin]);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    assert.ok(relay.requests() > asked);
    const first = await serialOf(store);
    assert.match(first ?? "", /^[0-9a-f]+$/);

    const before = relay.requests();
    assertOneLineError(await reid(["--store", store, "renew"]), 4, /a PIN is set: give it/);
    assert.equal(relay.requests(), before, "the registry heard nothing");
    assert.equal(await serialOf(store), first);
    const renewed = await reid(["--store", store, ...pin, "renew"]);
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.notEqual(await serialOf(store), first);

    assert.deepEqual(
      (await records(store)).map(({ request, principal, outcome, detail }) => [
        request,
        principal,
        outcome,
        detail?.registry,
      ]),
      [
        ["enroll", "cli", "pin-required", relay.base],
        ["enroll", "cli", "ok", relay.base],
        ["renew", "cli", "pin-required", undefined],
        ["renew", "cli", "ok", undefined],
      ],
    );
  });

  test("through the daemon: refused without the PIN; inside reid unlock --for it enrolls and renews without it, until reid lock", async (t) => {
    const { store, pin, enroll } = await pinnedElement("unlocked");
    await serve(t, store);
    const asked = relay.requests();
    assertOneLineError(await reid(enroll), 4, /a PIN is set: give it/);
    assert.equal(relay.requests(), asked, "the registry heard nothing");

    await reidOk(["--store", store, ...pin, "unlock", "--for", "5m"]);
    const enrolled = await reid(enroll);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const first = await serialOf(store);
    const renewed = await reid(["--store", store, "renew"]);
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.notEqual(await serialOf(store), first);

    await reidOk(["--store", store, "lock"]);
    const before = relay.requests();
    assertOneLineError(await reid(["--store", store, "renew"]), 4, /a PIN is set: give it/);
    assert.equal(relay.requests(), before, "the registry heard nothing");

    assert.deepEqual(
      (await records(store)).map(({ request, principal, outcome }) => [request, principal, outcome]),
      [
        ["enroll", "cli", "pin-required"],
        ["enroll", "cli:unlocked", "ok"],
        ["renew", "cli:unlocked", "ok"],
        ["renew", "cli", "pin-required"],
      ],
    );
  });
});
