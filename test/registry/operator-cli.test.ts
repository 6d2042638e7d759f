// The operator's commands (docs/spec.md §10.6) run as the built CLI against registries made by
// `reid registry init`, holding devices with certificates from their own CA: the fleet listed in
// handle order as a table or JSON lines, across more than one page; a device shown with its whole
// succession chain from any link, and the flags (refused forks) on it; a revocation recorded with its certificate and event; events
// printed and followed while another process revokes; every refusal one line with its exit and
// code, leaving the database as it was; and a damaged chain (a loop, a broken link, a chain past
// the cap) refused instead of walked for ever.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DeviceReport, DeviceView, EventView } from "../../src/registry/views.js";
import { assertOneLineError, reid, reidJson, reidOk } from "../helpers/cli.js";
import {
  type Authority,
  bulkEnroll,
  databaseRows,
  enrollChain,
  follower,
  type Identity,
  makeRegistry,
  openStore,
  rawSql,
  registryAuthority,
  removeRegistry,
  time,
} from "./fleet-fixture.js";

const HEADER =
  "HANDLE                            STATUS      SERIAL                            ENROLLED                  PREVIOUS  NEXT";
const REASONS = "keyCompromise, affiliationChanged, cessationOfOperation, privilegeWithdrawn, unspecified";

/** The JSON lines of a command's stdout, parsed. */
function jsonLines<T>(stdout: string): T[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as T);
}

function isSorted(values: readonly string[]): boolean {
  return values.every((value, i) => i === 0 || (values[i - 1] as string) < value);
}

describe("reid registry devices, show and revoke", () => {
  let dir = "";
  let authority: Authority;
  /** Four identities of one device: three successions. */
  const chain: Identity[] = [];
  const fleet: Record<string, Identity> = {};
  const views = new Map<string, DeviceView>();

  before(async () => {
    dir = await makeRegistry();
    authority = await registryAuthority(dir);
    const store = await openStore(dir);
    try {
      chain.push(...(await enrollChain(store, authority, 4)));
      for (const [name, at] of [
        ["lone", 10],
        ["spare", 20],
        ["gone", 30],
      ] as const) {
        fleet[name] = await authority.issue(time(at));
        await store.enroll({ ...(fleet[name] as Identity), at: time(at) });
      }
      await store.revoke({ handle: fleet.gone?.handle as string, reason: "keyCompromise", at: time(40) });
      for (const device of await store.devices()) {
        const { publicKey: _, ...view } = device;
        views.set(device.handle, view);
      }
    } finally {
      await store.close();
    }
  });
  after(() => removeRegistry(dir));

  const handle = (name: "lone" | "spare" | "gone") => fleet[name]?.handle as string;
  const link = (i: number) => chain[i] as Identity;

  test("devices: a table in handle order with a count, or one JSON object a line; --status filters", async () => {
    const expected = [...views.values()].sort((a, b) => (a.handle < b.handle ? -1 : 1));
    const short = (h: string | null) => (h ? h.slice(0, 8) : "-");
    const row = (d: DeviceView) =>
      [
        d.handle,
        d.status.padEnd(10),
        (d.certificateSerial ?? "-").padEnd(32),
        d.enrolledAt,
        short(d.predecessor).padEnd(8),
        short(d.successor),
      ].join("  ");
    const [text, json, superseded, revoked] = await Promise.all([
      reidOk(["registry", "devices", "--dir", dir]),
      reidOk(["registry", "devices", "--dir", dir, "--json"]),
      reidOk(["registry", "devices", "--dir", dir, "--status", "superseded"]),
      reidOk(["registry", "devices", "--dir", dir, "--status=revoked", "--json"]),
    ]);
    assert.equal(text.stdout, [HEADER, ...expected.map(row), "7 devices", ""].join("\n"));
    // The chain's middle: the short forms of both neighbours.
    assert.ok(
      text.stdout.includes(`${link(1).handle}  superseded`) &&
        text.stdout.includes(`${link(0).handle.slice(0, 8)}  ${link(2).handle.slice(0, 8)}\n`),
    );
    assert.deepEqual(jsonLines(json.stdout), expected);
    const oldOnes = expected.filter((d) => d.status === "superseded");
    assert.equal(superseded.stdout, [HEADER, ...oldOnes.map(row), "3 superseded devices", ""].join("\n"));
    assert.deepEqual(
      oldOnes.map((d) => d.handle).sort(),
      chain
        .slice(0, 3)
        .map((c) => c.handle)
        .sort(),
    );
    assert.deepEqual(jsonLines(revoked.stdout), [views.get(handle("gone"))]);
    assert.equal(text.stderr + json.stderr, "");
  });

  test("show: the device, its certificate and its whole chain from any link, the one asked marked", async () => {
    const reports = await Promise.all(
      chain.map((c) =>
        reidJson<{
          device: DeviceView & { publicKey: string };
          certificate: Record<string, unknown>;
          chain: { handle: string; status: string; enrolledAt: string; updatedAt: string; asked: boolean }[];
          flags: unknown[];
          earlierFlags: boolean;
        }>(["registry", "show", c.handle, "--dir", dir]),
      ),
    );
    for (const [i, report] of reports.entries()) {
      const asked = link(i);
      assert.deepEqual([report.flags, report.earlierFlags], [[], false], "a chain without flags has none");
      assert.deepEqual(report.device, {
        ...views.get(asked.handle),
        publicKey: Buffer.from(asked.publicKey).toString("base64"),
      });
      assert.deepEqual(report.certificate, {
        serial: asked.certificate.serial,
        notBefore: asked.certificate.notBefore,
        notAfter: asked.certificate.notAfter,
        status: i === 3 ? "valid" : "superseded",
        revocationReason: i === 3 ? null : "superseded",
        revokedAt: i === 3 ? null : time((i + 1) * 100),
      });
      assert.deepEqual(
        report.chain,
        chain.map((c, j) => ({
          handle: c.handle,
          status: j === 3 ? "active" : "superseded",
          enrolledAt: time(j * 100),
          updatedAt: time(j === 3 ? 300 : (j + 1) * 100),
          asked: j === i,
        })),
      );
    }

    const { stdout } = await reidOk(["registry", "show", link(2).handle, "--dir", dir]);
    const c = link(2).certificate;
    assert.equal(
      stdout,
      [
        `device      ${link(2).handle}`,
        "status      superseded",
        `enrolled    ${time(200)}`,
        `updated     ${time(300)}`,
        `certificate ${c.serial} (superseded)`,
        `valid       ${c.notBefore} to ${c.notAfter}`,
        `revoked     ${time(300)} (superseded)`,
        "chain       4 identities, this is 3",
        `  1  ${link(0).handle}  superseded  enrolled ${time(0)}  superseded ${time(100)}`,
        `  2  ${link(1).handle}  superseded  enrolled ${time(100)}  superseded ${time(200)}`,
        `* 3  ${link(2).handle}  superseded  enrolled ${time(200)}  superseded ${time(300)}`,
        `  4  ${link(3).handle}  active      enrolled ${time(300)}`,
        "",
      ].join("\n"),
    );
    const lone = await reidOk(["registry", "show", handle("gone"), "--dir", dir]);
    assert.match(lone.stdout, /^revoked {5}\S+ \(keyCompromise\)$/m);
    assert.match(
      lone.stdout,
      new RegExp(`chain {7}1 identity, this is 1\\n\\* 1  ${handle("gone")}  revoked`),
    );
  });

  test("revoke: an active device and its certificate, with its event; prints what it did", async () => {
    const started = new Date().toISOString();
    const { stdout } = await reidOk([
      "registry",
      "revoke",
      handle("lone"),
      "--reason",
      "keyCompromise",
      "--dir",
      dir,
    ]);
    const printed = new RegExp(
      `^revoked ${handle("lone")}\\nserial  ${fleet.lone?.certificate.serial}\\nreason  keyCompromise\\nat      (\\S+)\\nevent   (\\d+)\\n$`,
    ).exec(stdout);
    assert.ok(printed, `unexpected output:\n${stdout}`);
    const [, at, sequence] = printed as unknown as [string, string, string];
    assert.ok(at >= started && at <= new Date().toISOString(), `revoked at ${at}`);

    const json = await reidJson<Record<string, unknown>>([
      "registry",
      "revoke",
      handle("spare"),
      "--dir",
      dir,
      "--reason=cessationOfOperation",
    ]);
    assert.deepEqual(Object.keys(json), ["handle", "serial", "reason", "revokedAt", "sequence", "logIndex"]);
    assert.equal(json.handle, handle("spare"));
    assert.equal(json.serial, fleet.spare?.certificate.serial);
    assert.equal(json.reason, "cessationOfOperation");
    assert.equal(json.sequence, Number(sequence) + 1);

    const store = await openStore(dir);
    try {
      assert.equal((await store.device(handle("lone")))?.status, "revoked");
      const [event] = await store.eventsSince(Number(sequence), 1);
      assert.equal(json.logIndex, event?.leaf, "the answer's log index is not its event's leaf");
      const certificate = await store.certificate(fleet.lone?.certificate.serial as string);
      assert.deepEqual(
        [certificate?.status, certificate?.revocationReason, certificate?.revokedAt],
        ["revoked", "keyCompromise", at],
      );
      const events = await store.eventsSince(Number(sequence) - 1);
      assert.deepEqual(
        events.map((e) => [e.sequence, e.type, e.handle, e.data, e.at]),
        [
          [
            Number(sequence),
            "revoked",
            handle("lone"),
            { serial: fleet.lone?.certificate.serial, reason: "keyCompromise" },
            at,
          ],
          [
            Number(sequence) + 1,
            "revoked",
            handle("spare"),
            { serial: fleet.spare?.certificate.serial, reason: "cessationOfOperation" },
            json.revokedAt,
          ],
        ],
      );
    } finally {
      await store.close();
    }
  });

  test("every refusal is one line with its exit and code, and leaves the database as it was", async () => {
    const before = databaseRows(dir);
    const unknown = "0123456789abcdef0123456789abcdef";
    const cases: [string[], number, string, RegExp][] = [
      [
        ["devices", "--status", "lost"],
        2,
        "usage",
        /bad --status 'lost': one of listed, active, superseded, revoked/,
      ],
      [
        ["devices", "--reason", "keyCompromise"],
        2,
        "usage",
        /'--reason' does not go with 'reid registry devices'/,
      ],
      [["devices", "extra"], 2, "usage", /takes 0 operand/],
      [["show", "ABCDEF0123456789ABCDEF0123456789"], 2, "usage", /bad handle 'ABCDEF/],
      [["show", unknown.slice(1)], 2, "usage", /expected 32 lowercase hex digits/],
      [["show"], 2, "usage", /'reid registry show' takes 1 operand/],
      [["show", unknown, "--follow"], 2, "usage", /'--follow' does not go with/],
      [["show", unknown], 3, "unknown-device", new RegExp(`no device ${unknown} in the registry`)],
      [
        ["revoke", handle("gone"), "--reason", "unspecified"],
        3,
        "device-not-active",
        /is revoked, not active/,
      ],
      [
        ["revoke", handle("lone"), "--reason", "unspecified"],
        3,
        "device-not-active",
        /is revoked, not active/,
      ],
      [
        ["revoke", link(1).handle, "--reason", "unspecified"],
        3,
        "device-not-active",
        /is superseded, not active/,
      ],
      [["revoke", unknown, "--reason", "keyCompromise"], 3, "unknown-device", /no device/],
      [
        ["revoke", link(3).handle, "--reason", "superseded"],
        2,
        "usage",
        new RegExp(`bad --reason 'superseded': one of ${REASONS}$`),
      ],
      [["revoke", link(3).handle, "--reason", "KeyCompromise"], 2, "usage", /bad --reason 'KeyCompromise'/],
      [["revoke", link(3).handle, "--reason", "removeFromCRL"], 2, "usage", /bad --reason 'removeFromCRL'/],
      [["revoke", link(3).handle], 2, "usage", /needs --reason REASON: one of keyCompromise/],
      [["revoke", "nothex", "--reason", "unspecified"], 2, "usage", /bad handle 'nothex'/],
      [
        ["revoke", link(3).handle, "--reason", "unspecified", "--status", "active"],
        2,
        "usage",
        /'--status' does not go/,
      ],
      [["events", "--since", "-1"], 2, "usage", /needs a value/],
      [["events", "--since=-1"], 2, "usage", /bad --since '-1'/],
      [["events", "--since", "1.5"], 2, "usage", /bad --since '1.5'/],
      [["events", "--since", "99999999999999999"], 2, "usage", /bad --since/],
      [
        ["events", "--reason", "unspecified"],
        2,
        "usage",
        /'--reason' does not go with 'reid registry events'/,
      ],
    ];
    const results = await Promise.all(
      cases.map(([args]) => reid(["registry", ...args, "--dir", dir, "--json"])),
    );
    for (const [i, [args, exit, code, message]] of cases.entries()) {
      const result = results[i] as Awaited<ReturnType<typeof reid>>;
      assertOneLineError(result, exit, message);
      assert.equal(JSON.parse(result.stderr).error.code, code, args.join(" "));
    }
    // The same refusals in text: `reid: MESSAGE`, one line.
    const text = await Promise.all([
      reid(["registry", "revoke", link(3).handle, "--reason", "superseded", "--dir", dir]),
      reid(["registry", "show", "0".repeat(32), "--dir", dir]),
      reid(["registry", "devices"]),
    ]);
    assertOneLineError(
      text[0] as Awaited<ReturnType<typeof reid>>,
      2,
      /^reid: bad --reason 'superseded': one of/,
    );
    assertOneLineError(
      text[1] as Awaited<ReturnType<typeof reid>>,
      3,
      /^reid: no device 0{32} in the registry$/,
    );
    assertOneLineError(text[2] as Awaited<ReturnType<typeof reid>>, 2, /needs --dir DIR/);
    assert.deepEqual(databaseRows(dir), before);
  });
});

describe("a fleet larger than a page", () => {
  let dir = "";
  let fleet: { all: string[]; revoked: string[] };
  before(async () => {
    dir = await makeRegistry();
    fleet = await bulkEnroll(dir, await registryAuthority(dir), 2500, (i) => i % 2 === 0);
  });
  after(() => removeRegistry(dir));

  test("devices streams every device once, in handle order, in text and JSON, with or without --status", async () => {
    const [text, json, revoked] = await Promise.all([
      reidOk(["registry", "devices", "--dir", dir]),
      reidOk(["registry", "devices", "--dir", dir, "--json"]),
      reidOk(["registry", "devices", "--dir", dir, "--json", "--status", "revoked"]),
    ]);
    const lines = text.stdout.split("\n");
    assert.equal(lines[0], HEADER);
    assert.deepEqual(lines.slice(-2), ["2500 devices", ""]);
    const rows = lines.slice(1, -2);
    const sorted = [...fleet.all].sort();
    assert.deepEqual(
      rows.map((row) => row.slice(0, 32)),
      sorted,
    );
    const gone = new Set(fleet.revoked);
    for (const row of rows) {
      assert.equal(row.slice(34, 44).trim(), gone.has(row.slice(0, 32)) ? "revoked" : "active", row);
    }
    const devices = jsonLines<DeviceView>(json.stdout);
    assert.deepEqual(
      devices.map((d) => d.handle),
      sorted,
    );
    const revokedHandles = jsonLines<DeviceView>(revoked.stdout).map((d) => d.handle);
    assert.equal(revokedHandles.length, 1250);
    assert.ok(isSorted(revokedHandles));
    assert.deepEqual(revokedHandles, [...fleet.revoked].sort());
  });

  test("the store answers at most 1,000 devices a page unless asked for fewer", async () => {
    const store = await openStore(dir);
    try {
      const first = await store.devices();
      assert.equal(first.length, 1000);
      const second = await store.devices({ after: first.at(-1)?.handle });
      const third = await store.devices({ after: second.at(-1)?.handle });
      assert.deepEqual([second.length, third.length], [1000, 500]);
      assert.deepEqual(
        [...first, ...second, ...third].map((d) => d.handle),
        [...fleet.all].sort(),
      );
    } finally {
      await store.close();
    }
  });

  test("events pages through every event in sequence order; --since starts after its number", async () => {
    const [all, tail] = await Promise.all([
      reidOk(["registry", "events", "--dir", dir, "--json"]),
      reidOk(["registry", "events", "--dir", dir, "--since", "3000"]),
    ]);
    const events = jsonLines<{ sequence: number; type: string }>(all.stdout);
    assert.deepEqual(
      events.map((e) => e.sequence),
      Array.from({ length: 3750 }, (_, i) => i + 1),
    );
    assert.equal(events.filter((e) => e.type === "revoked").length, 1250);
    const lines = tail.stdout.split("\n").filter((line) => line !== "");
    assert.equal(lines.length, 750);
    assert.match(lines[0] as string, /^ {2}3001 {2}/);
  });
});

describe("reid registry events", () => {
  let dir = "";
  const ids: Identity[] = [];
  before(async () => {
    dir = await makeRegistry();
    const authority = await registryAuthority(dir);
    const store = await openStore(dir);
    try {
      for (const at of [0, 60, 120]) ids.push(await authority.issue(time(at)));
      const [a, b, c] = ids as [Identity, Identity, Identity];
      await store.enroll({ ...a, at: time(0) });
      await store.succeed({ ...b, predecessor: a.handle, at: time(60) });
      await store.enroll({ ...c, at: time(120) });
      await store.revoke({ handle: c.handle, reason: "unspecified", at: time(180) });
    } finally {
      await store.close();
    }
  });
  after(() => removeRegistry(dir));

  test("one line an event, oldest first, in text and JSON; --since N starts after N", async () => {
    const [a, b, c] = ids as [Identity, Identity, Identity];
    const [text, json, since, none] = await Promise.all([
      reidOk(["registry", "events", "--dir", dir]),
      reidOk(["registry", "events", "--dir", dir, "--json"]),
      reidOk(["registry", "events", "--dir", dir, "--since", "2"]),
      reidOk(["registry", "events", "--dir", dir, "--since", "4"]),
    ]);
    const lines = [
      `     1  ${time(0)}  enrolled   ${a.handle}  serial=${a.certificate.serial}`,
      `     2  ${time(60)}  succeeded  ${b.handle}  predecessor=${a.handle} serial=${b.certificate.serial}`,
      `     3  ${time(120)}  enrolled   ${c.handle}  serial=${c.certificate.serial}`,
      `     4  ${time(180)}  revoked    ${c.handle}  serial=${c.certificate.serial} reason=unspecified`,
    ];
    assert.equal(text.stdout, `${lines.join("\n")}\n`);
    assert.deepEqual(jsonLines(json.stdout), [
      {
        sequence: 1,
        type: "enrolled",
        handle: a.handle,
        data: { serial: a.certificate.serial },
        at: time(0),
      },
      {
        sequence: 2,
        type: "succeeded",
        handle: b.handle,
        data: { predecessor: a.handle, serial: b.certificate.serial },
        at: time(60),
      },
      {
        sequence: 3,
        type: "enrolled",
        handle: c.handle,
        data: { serial: c.certificate.serial },
        at: time(120),
      },
      {
        sequence: 4,
        type: "revoked",
        handle: c.handle,
        data: { serial: c.certificate.serial, reason: "unspecified" },
        at: time(180),
      },
    ]);
    assert.equal(since.stdout, `${lines.slice(2).join("\n")}\n`);
    assert.equal(none.stdout, "");
  });

  test("--follow prints what another process commits, until SIGTERM or SIGINT (exit 0)", async () => {
    const [a, b] = ids as [Identity, Identity];
    const json = follower(["registry", "events", "--dir", dir, "--follow", "--json"]);
    const text = follower(["registry", "events", "--dir", dir, "--follow", "--since", "3"]);
    try {
      await json.lines(4);
      await text.lines(1);
      const revoked = await reidJson<{ sequence: number; revokedAt: string }>([
        "registry",
        "revoke",
        b.handle,
        "--reason",
        "privilegeWithdrawn",
        "--dir",
        dir,
      ]);
      // A refused revocation commits nothing, so neither follower prints anything for it.
      assertOneLineError(
        await reid(["registry", "revoke", a.handle, "--reason", "unspecified", "--dir", dir]),
        3,
      );
      const seen = await json.lines(5);
      assert.deepEqual(JSON.parse(seen[4] as string), {
        sequence: 5,
        type: "revoked",
        handle: b.handle,
        data: { serial: b.certificate.serial, reason: "privilegeWithdrawn" },
        at: revoked.revokedAt,
      });
      assert.equal(revoked.sequence, 5);
      assert.equal(
        (await text.lines(2))[1],
        `     5  ${revoked.revokedAt}  revoked    ${b.handle}  serial=${b.certificate.serial} reason=privilegeWithdrawn`,
      );
      const [jsonEnd, textEnd] = await Promise.all([json.stop("SIGTERM"), text.stop("SIGINT")]);
      assert.deepEqual(jsonEnd, { code: 0, signal: null, stderr: "", lines: 5 });
      assert.deepEqual(textEnd, { code: 0, signal: null, stderr: "", lines: 2 });
    } finally {
      json.kill();
      text.kill();
    }
  });
});

describe("registry show: the flags on a chain", () => {
  let dir = "";
  const chain: Identity[] = [];
  let lone: Identity;
  const refused: string[] = [];

  before(async () => {
    dir = await makeRegistry();
    const authority = await registryAuthority(dir);
    const store = await openStore(dir);
    const flag = (handle: string, data: Record<string, string>, at: string) =>
      store.flag({ type: "fork-refused", handle, data, at });
    try {
      chain.push(...(await enrollChain(store, authority, 3)));
      lone = await authority.issue(time(50));
      await store.enroll({ ...lone, at: time(50) });
      // The oldest flag, on the second identity, falls outside the newest 100.
      await flag(chain[1]?.handle as string, { successor: "f".repeat(32), status: "superseded" }, time(400));
      for (let i = 0; i < 99; i++) {
        refused.push(`${String(i).padStart(2, "0")}${"e".repeat(30)}`);
        const data = { successor: refused[i] as string, status: "superseded", source: "192.0.2.7" };
        await flag(chain[0]?.handle as string, data, time(500 + i));
      }
      // Recorded without where it came from, or without anything: each line says what is known.
      await flag(chain[1]?.handle as string, { successor: "d".repeat(32), status: "superseded" }, time(700));
      await flag(lone.handle, {}, time(800));
    } finally {
      await store.close();
    }
  });
  after(() => removeRegistry(dir));

  test("the newest 100 on any identity of the chain, oldest first, numbered as the chain; what was not recorded is left out", async () => {
    const events = jsonLines<EventView>(
      (await reidOk(["registry", "events", "--json", "--dir", dir])).stdout,
    );
    const flags = events.filter((event) => event.type === "fork-refused");
    assert.equal(flags.length, 102);
    const report = await reidJson<DeviceReport>([
      "registry",
      "show",
      chain[2]?.handle as string,
      "--dir",
      dir,
    ]);
    assert.equal(report.earlierFlags, true);
    assert.deepEqual(
      report.flags,
      flags.slice(1, 101).map((event) => ({
        sequence: event.sequence,
        type: "fork-refused",
        handle: event.handle,
        at: event.at,
        successor: event.data.successor,
        status: "superseded",
        source: event.data.source ?? null,
      })),
    );

    const { stdout } = await reidOk(["registry", "show", chain[2]?.handle as string, "--dir", dir]);
    const lines = stdout.trimEnd().split("\n");
    const at = lines.indexOf("flags       the newest 100 refused forks (registry events lists all)");
    assert.ok(lines[at - 1]?.startsWith(`* 3  ${chain[2]?.handle}  active`), stdout);
    assert.equal(lines.length, at + 101);
    assert.equal(
      lines[at + 1],
      `! 1  ${time(500)}  successor ${refused[0]} refused: identity 1 was already superseded; from 192.0.2.7; event ${flags[1]?.sequence}`,
    );
    assert.equal(
      lines.at(-1),
      `! 2  ${time(700)}  successor ${"d".repeat(32)} refused: identity 2 was already superseded; event ${flags[100]?.sequence}`,
    );

    const single = await reidOk(["registry", "show", lone.handle, "--dir", dir]);
    const tail = [
      `* 1  ${lone.handle}  active      enrolled ${time(50)}`,
      "flags       1 refused fork",
      `! 1  ${time(800)}  a successor refused; event ${flags[101]?.sequence}`,
      "",
    ].join("\n");
    assert.ok(single.stdout.endsWith(tail), single.stdout);
    const quiet = await reidJson<DeviceReport>(["registry", "show", lone.handle, "--dir", dir]);
    assert.deepEqual(
      quiet.flags.map((flag) => [flag.successor, flag.status, flag.source]),
      [[null, null, null]],
    );
  });
});

describe("a damaged succession chain is refused, not walked for ever", () => {
  let dir = "";
  let authority: Authority;
  before(async () => {
    dir = await makeRegistry();
    authority = await registryAuthority(dir);
  });
  after(() => removeRegistry(dir));

  /** Devices written straight into the table, as damage would leave them. */
  async function insert(
    rows: { handle: string; status: string; predecessor: string | null; successor: string | null }[],
  ) {
    const identity = await authority.issue(time(0));
    rawSql(dir, (db) => {
      db.pragma("foreign_keys = OFF");
      const device = db.prepare(
        "INSERT INTO devices VALUES (@handle, @status, @key, @serial, @predecessor, @successor, @at, @at)",
      );
      const certificate = db.prepare(
        "INSERT INTO certificates VALUES (@serial, @handle, @der, @at, @notAfter, 'valid', NULL, NULL)",
      );
      db.transaction(() => {
        for (const [i, row] of rows.entries()) {
          const serial = `7${row.handle.slice(0, 12)}${i.toString(16).padStart(8, "0")}`;
          const common = { ...row, serial, at: time(i), key: identity.publicKey };
          device.run(common);
          certificate.run({
            ...common,
            der: identity.certificate.der,
            notAfter: identity.certificate.notAfter,
          });
        }
      })();
    });
  }

  const hex = (prefix: string, i = 0) => `${prefix}${i.toString(16).padStart(32 - prefix.length, "0")}`;

  test("a loop and a link that does not name its neighbour back are registry-corrupt (exit 6)", async () => {
    const [a, b] = [hex("aa"), hex("bb")];
    await insert([
      { handle: a, status: "superseded", predecessor: b, successor: b },
      { handle: b, status: "superseded", predecessor: a, successor: a },
    ]);
    const [p, q] = [hex("cc"), hex("dd")];
    await insert([
      { handle: p, status: "superseded", predecessor: null, successor: q },
      { handle: q, status: "active", predecessor: null, successor: null },
    ]);
    const before = databaseRows(dir);
    const [loop, broken, fine] = await Promise.all([
      reid(["registry", "show", a, "--dir", dir, "--json"]),
      reid(["registry", "show", p, "--dir", dir]),
      reidJson<{ chain: unknown[] }>(["registry", "show", q, "--dir", dir]),
    ]);
    assertOneLineError(loop, 6, new RegExp(`the succession chain of ${a} loops back to ${a}`));
    assert.equal(JSON.parse(loop.stderr).error.code, "registry-corrupt");
    assertOneLineError(
      broken,
      6,
      new RegExp(`chain of ${p} is broken: ${q} does not name ${p} as its predecessor`),
    );
    // Seen from q alone, the chain is q: q names no neighbour.
    assert.equal(fine.chain.length, 1);
    assert.deepEqual(databaseRows(dir), before);
  });

  test("a chain of 10,000 identities is shown; one more is refused", async () => {
    const handles = Array.from({ length: 10_000 }, (_, i) => hex("ee", i));
    await insert(
      handles.map((handle, i) => ({
        handle,
        status: i === handles.length - 1 ? "active" : "superseded",
        predecessor: handles[i - 1] ?? null,
        successor: handles[i + 1] ?? null,
      })),
    );
    const last = handles.at(-1) as string;
    const shown = await reidJson<{ chain: { handle: string; asked: boolean }[] }>([
      "registry",
      "show",
      last,
      "--dir",
      dir,
    ]);
    assert.deepEqual(
      shown.chain.map((l) => l.handle),
      handles,
    );
    assert.deepEqual(
      shown.chain.filter((l) => l.asked).map((l) => l.handle),
      [last],
    );

    const next = await authority.issue(time(20_000));
    const store = await openStore(dir);
    try {
      await store.succeed({ ...next, predecessor: last, at: time(20_000) });
    } finally {
      await store.close();
    }
    const [fromEnd, fromStart] = await Promise.all([
      reid(["registry", "show", next.handle, "--dir", dir, "--json"]),
      reid(["registry", "show", handles[0] as string, "--dir", dir]),
    ]);
    assertOneLineError(fromEnd, 6, /the succession chain of \S+ is longer than 10,000 identities/);
    assert.equal(JSON.parse(fromEnd.stderr).error.code, "registry-corrupt");
    assertOneLineError(fromStart, 6, /is longer than 10,000 identities/);
  });
});
