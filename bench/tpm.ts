// The TPM backend's cost (issue 6), all on one real swtpm started here, in the same run:
// - the reset flow a shell script would run with Debian's tpm2-tools, one process per command
//   (getrandom 32, nvundefine, nvdefine, nvwrite, nvread + compare), in cycles per second;
// - the same five commands through our client (src/tpm/) on one connection, as a ratio to it, and
//   the floor swtpm itself sets for them: the same commands as fixed bytes on a raw socket;
// - reid's own reset on the TPM: the store's part (GetRandom(32) and the A/B commit on two NV
//   indices, openTpmStore on our connection) and the element's whole reset (the TPM default source
//   tpm+os, commit, handle derivation, audit), against the same element on area files;
// - GetRandom(32) round trips per second on one connection, against the raw socket's floor: the
//   same precomputed command bytes sent and the reply awaited, without marshal or unmarshal;
// - encrypted sessions (issue 16, the default) against password sessions: the element's reset on
//   the same store and the client flow, each both ways in the same run (goal: encrypted costs at
//   most 1.5x the time, and its client flow stays >= 50x tpm2-tools).
// swtpm serves one client at a time, so each way holds its own connection only for its turn; the
// ways take turns in every round (in a rotating order), so each sees the same swtpm and the same
// neighbours. Rates are totals over all rounds. swtpm rewrites its NV state file (open, write,
// rename; no fsync) on every NV_DefineSpace, NV_UndefineSpace and NV_Write, which every way pays
// alike: its state lives under $TMPDIR (test/helpers/swtpm.ts), so on a busy disk that rewrite,
// not the client, sets the floor of the NV figures; TMPDIR=/dev/shm takes the disk out of them
// (and out of the file backend's fdatasync too).
// Usage: node --import tsx bench/tpm.ts [--dir DIR] [--rounds 6] [--seconds 0.5] [--tools-cycles 6]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openElement } from "../src/element/element.js";
import { DualAreaStore } from "../src/storage/dual-area-store.js";
import { NvArea, REID_NV_ATTRIBUTES } from "../src/storage/tpm/nv-area.js";
import { marshalCommand, password } from "../src/tpm/command.js";
import { NV_DefineSpace, NV_Read, NV_UndefineSpace, NV_Write } from "../src/tpm/commands/nv.js";
import { GetRandom } from "../src/tpm/commands/random.js";
import { TPM_ALG, TPM_RH, TPMA_NV } from "../src/tpm/constants.js";
import { nvName } from "../src/tpm/names.js";
import { DEFAULT_NV_INDEX, parseTpmSpec } from "../src/tpm/spec.js";
import type { SessionMode, Tpm } from "../src/tpm/tpm.js";
import { connectTpm } from "../src/tpm/transport/open.js";
import { tpmStore } from "../test/helpers/stores.js";
import { type Swtpm, startSwtpm } from "../test/helpers/swtpm.js";
import { argument, ms, percentile, since } from "./stats.js";

const rounds = Number(argument("rounds", "6"));
const seconds = Number(argument("seconds", "0.5"));
const toolsCycles = Number(argument("tools-cycles", "6"));

/** The index both flows cycle (not reid's: the element keeps its pair at DEFAULT_NV_INDEX). */
const FLOW_INDEX = 0x01524f00;
const FLOW_SIZE = 256;
const OWNER = password(TPM_RH.OWNER);
/** The flow index's own authValue, as reid's indices carry one derived from the owner's PIN. */
const AUTH = new Uint8Array(32).map((_, i) => 0x41 + i);
const AUTH_ARG = `hex:${Buffer.from(AUTH).toString("hex")}`;

// A writer on a store not made yet holds its parent's lock (docs/spec.md §5.5): each store here
// has a parent of its own.
const base = mkdtempSync(join(argument("dir", tmpdir()), "reid-bench-tpm-"));
const swtpm: Swtpm = await startSwtpm();
const tools = { PATH: process.env.PATH, TPM2TOOLS_TCTI: swtpm.tcti };
const hexIndex = `0x${FLOW_INDEX.toString(16)}`;

/** Runs one tpm2-tools command (a process, as a shell script runs it); its stdout. */
function tpm2(args: readonly string[], input?: Uint8Array): Buffer {
  const result = spawnSync(args[0] as string, args.slice(1), { env: tools, input, maxBuffer: 1 << 20 });
  if (result.status !== 0) {
    throw new Error(
      `${args[0]} exited ${result.status ?? result.signal}: ${result.stderr.toString().trim()}`,
    );
  }
  return result.stdout;
}

/** What the flows write: 32 fresh random bytes at the front of a record-sized buffer. */
function payload(random: Uint8Array): Uint8Array {
  if (random.length !== 32) throw new Error(`GetRandom returned ${random.length} bytes, not 32`);
  const data = new Uint8Array(FLOW_SIZE);
  data.set(random);
  return data;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** One reset cycle with tpm2-tools: five processes. The index is defined when it starts and ends. */
function toolsCycle(): void {
  const data = payload(tpm2(["tpm2_getrandom", "32"]));
  tpm2(["tpm2_nvundefine", "-C", "o", hexIndex]);
  tpm2([
    "tpm2_nvdefine",
    "-C",
    "o",
    "-s",
    String(FLOW_SIZE),
    "-a",
    "authread|authwrite",
    "-p",
    AUTH_ARG,
    hexIndex,
  ]);
  tpm2(["tpm2_nvwrite", "-P", AUTH_ARG, "-i", "-", hexIndex], data);
  const back = tpm2(["tpm2_nvread", "-P", AUTH_ARG, "-s", String(FLOW_SIZE), hexIndex]);
  if (!same(back, data)) throw new Error("tpm2_nvread did not return what tpm2_nvwrite wrote");
}

/** NV_DefineSpace of the flow's index, shaped as reid defines its own (tpm2_nvdefine's -a below). */
const DEFINE = {
  authHandle: OWNER,
  auth: AUTH,
  publicInfo: {
    nvIndex: FLOW_INDEX,
    nameAlg: TPM_ALG.SHA256,
    attributes: REID_NV_ATTRIBUTES,
    authPolicy: new Uint8Array(0),
    dataSize: FLOW_SIZE,
  },
};

async function define(tpm: Tpm): Promise<void> {
  await tpm.run(NV_DefineSpace, DEFINE);
}

/** The flow's index with its name (what an encrypted session's cpHash binds), unwritten and written. */
const FLOW_DEFINED = { handle: FLOW_INDEX, name: nvName(DEFINE.publicInfo) };
const FLOW_WRITTEN = {
  handle: FLOW_INDEX,
  name: nvName({ ...DEFINE.publicInfo, attributes: (REID_NV_ATTRIBUTES | TPMA_NV.WRITTEN) >>> 0 }),
};

/** The same cycle through our client on one connection (password or encrypted sessions). */
async function clientCycle(tpm: Tpm): Promise<void> {
  const data = payload((await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes);
  await tpm.run(NV_UndefineSpace, { authHandle: OWNER, nvIndex: FLOW_WRITTEN });
  await define(tpm);
  // Authorized by the index itself with its authValue, as reid's areas are (docs/spec.md §5.7).
  await tpm.run(NV_Write, {
    authHandle: { ...FLOW_DEFINED, password: AUTH },
    nvIndex: FLOW_DEFINED,
    data,
    offset: 0,
  });
  const { data: back } = await tpm.run(NV_Read, {
    authHandle: { ...FLOW_WRITTEN, password: AUTH },
    nvIndex: FLOW_WRITTEN,
    size: FLOW_SIZE,
    offset: 0,
  });
  if (!same(back, data)) throw new Error("NV_Read did not return what NV_Write wrote");
}

/**
 * swtpm's raw framing on a plain socket: writes `command`, resolves with the response once the
 * header's size has arrived. The floor the client's round trip is measured against.
 */
class RawSocket {
  private received: Buffer = Buffer.alloc(0);
  private waiting: { resolve(response: Buffer): void; reject(error: Error): void } | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
      if (this.received.length < 6 || this.received.length < this.received.readUInt32BE(2)) return;
      const response = this.received;
      this.received = Buffer.alloc(0);
      this.waiting?.resolve(response);
      this.waiting = null;
    });
    const fail = () => this.waiting?.reject(new Error("the raw connection to swtpm failed or closed"));
    socket.on("error", fail);
    socket.on("close", fail);
  }

  static open(port: number): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.setNoDelay(true);
        resolve(new RawSocket(socket));
      });
    });
  }

  exchange(command: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(command);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.end(resolve));
  }
}

/** Calls `step` back to back for `seconds`; returns how many completed and the time they took. */
async function during(step: () => Promise<unknown>): Promise<{ count: number; took: number }> {
  let count = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < deadline) {
    await step();
    count++;
  }
  return { count, took: since(start) };
}

/** A tally of one way: operations and seconds over all rounds, and each round's rate. */
class Tally {
  count = 0;
  took = 0;
  readonly rates: number[] = [];
  add({ count, took }: { count: number; took: number }): void {
    this.count += count;
    this.took += took;
    this.rates.push(count / took);
  }
  get rate(): number {
    return this.count / this.took;
  }
  get spread(): string {
    return `[rounds ${this.rates.map((rate) => fixed(rate)).join(", ")}]`;
  }
}

function fixed(rate: number): string {
  return rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
}

/** A connection of our client for one turn, closed before the next way needs the TPM. */
async function withClient<T>(use: (tpm: Tpm) => Promise<T>, sessions: SessionMode = "password"): Promise<T> {
  const tpm = await connectTpm(swtpm.address, undefined, { sessions });
  try {
    return await use(tpm);
  } finally {
    await tpm.close();
  }
}

const port = swtpm.address.kind === "tcp" ? swtpm.address.port : 0;
const hex8 = (index: number) => `0x${index.toString(16).padStart(8, "0")}`;
/** The element's store with encrypted sessions (the default) and, for the comparison, password ones. */
const tpmSpec = parseTpmSpec(`${swtpm.spec},nv-index=${hex8(DEFAULT_NV_INDEX)}`);
const passwordSpec = parseTpmSpec(`${swtpm.spec},nv-index=${hex8(DEFAULT_NV_INDEX)},sessions=password`);
/** The store the commit figure cycles (openTpmStore on a connection of ours): the next store's pair (a store takes four indices: two areas, its counter and its audit key). */
const COMMIT_INDEX = DEFAULT_NV_INDEX + 4;

/** The five commands of a cycle as fixed bytes, for the raw socket floor (written data fixed too). */
const rawFlow = [
  marshalCommand(GetRandom, { bytesRequested: 32 }),
  marshalCommand(NV_UndefineSpace, { authHandle: OWNER, nvIndex: FLOW_INDEX }),
  marshalCommand(NV_DefineSpace, DEFINE),
  marshalCommand(NV_Write, {
    authHandle: password(FLOW_INDEX, AUTH),
    nvIndex: FLOW_INDEX,
    data: new Uint8Array(FLOW_SIZE).fill(0x5a),
    offset: 0,
  }),
  marshalCommand(NV_Read, {
    authHandle: password(FLOW_INDEX, AUTH),
    nvIndex: FLOW_INDEX,
    size: FLOW_SIZE,
    offset: 0,
  }),
];
const getRandom = rawFlow[0] as Uint8Array;

async function rawCycle(raw: RawSocket): Promise<void> {
  for (const command of rawFlow) {
    const response = await raw.exchange(command);
    if (response.readUInt32BE(6) !== 0)
      throw new Error(`raw command failed: 0x${response.readUInt32BE(6).toString(16)}`);
  }
}

async function withRaw<T>(use: (raw: RawSocket) => Promise<T>): Promise<T> {
  const raw = await RawSocket.open(port);
  try {
    return await use(raw);
  } finally {
    await raw.close();
  }
}

/**
 * The element as `reid reset` opens it: on the TPM (its default source, tpm+os; encrypted sessions,
 * or password ones for "tpm-password", on the same store) or on files (os).
 */
async function element(backend: "tpm" | "tpm-password" | "files") {
  return openElement({
    storeDirectory: join(base, backend === "files" ? "files" : "tpm", "store"),
    store: backend === "files" ? null : await tpmStore(backend === "tpm" ? tpmSpec : passwordSpec),
    write: true,
    lockTimeoutMs: 5000,
  });
}

async function resets(
  backend: "tpm" | "tpm-password" | "files",
  tally: Tally | null,
  count = 0,
): Promise<void> {
  // Opened and closed outside the timing: the element holds the TPM connection while open.
  const opened = await element(backend);
  try {
    if (tally) {
      // One reset before the timing: what the element starts lazily (the TPM session) starts here.
      await opened.control.submit({ type: "reset" });
      tally.add(await during(() => opened.control.submit({ type: "reset" })));
    } else {
      // The password-session element opens the store the TPM warm-up initialized.
      if (backend !== "tpm-password") await opened.control.submit({ type: "init" });
      for (let i = 0; i < count; i++) await opened.control.submit({ type: "reset" });
    }
  } finally {
    await opened.close();
  }
}

let committed = 0;
/** The TPM part of a reset: GetRandom(32), then a crash-safe A/B commit of a fresh record. */
async function commits(tally: Tally | null, count = 0): Promise<void> {
  await withClient(async (tpm) => {
    const area = await NvArea.open(tpm, { nvIndex: COMMIT_INDEX, write: true, lockTimeoutMs: 5000 });
    const store = new DualAreaStore(area, {
      directory: join(base, "commits"),
      description: "bench",
      storeId: new Uint8Array(16).fill(1),
    });
    const commitOnce = async () => {
      const { randomBytes: identifier } = await tpm.run(GetRandom, { bytesRequested: 32 });
      committed++;
      await store.commit({
        state: "set",
        generation: committed,
        format: { kind: "raw", length: 32 },
        singleType: false,
        // Any handle will do for the storage's cost; the element's reset derives the real one.
        handle: "5eed5eed5eed5eed5eed5eed5eed5eed",
        identifier,
      });
      identifier.fill(0);
    };
    try {
      if (tally) tally.add(await during(commitOnce));
      else for (let i = 0; i < count; i++) await commitOnce();
    } finally {
      await store.close();
    }
  });
}

const ways = {
  tools: new Tally(),
  client: new Tally(),
  clientEncrypted: new Tally(),
  rawFlow: new Tally(),
  commit: new Tally(),
  tpmReset: new Tally(),
  tpmResetPassword: new Tally(),
  fileReset: new Tally(),
  getRandom: new Tally(),
  rawGetRandom: new Tally(),
};
const cycleLatencies: number[] = [];

/** Each way's turn in a round; the order rotates from round to round. */
const turns: (() => Promise<void>)[] = [
  async () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < toolsCycles; i++) toolsCycle();
    ways.tools.add({ count: toolsCycles, took: since(start) });
  },
  () =>
    withClient(async (tpm) => {
      ways.client.add(
        await during(async () => {
          const begin = process.hrtime.bigint();
          await clientCycle(tpm);
          cycleLatencies.push(since(begin));
        }),
      );
    }),
  () =>
    withClient(async (tpm) => {
      // The session starts outside the timing, as the element's starts when it opens.
      await tpm.run(GetRandom, { bytesRequested: 32 });
      ways.clientEncrypted.add(await during(() => clientCycle(tpm)));
    }, "encrypted"),
  () => withRaw(async (raw) => ways.rawFlow.add(await during(() => rawCycle(raw)))),
  () => commits(ways.commit),
  () => resets("tpm", ways.tpmReset),
  () => resets("tpm-password", ways.tpmResetPassword),
  () => resets("files", ways.fileReset),
  () =>
    withClient(async (tpm) => {
      ways.getRandom.add(await during(() => tpm.run(GetRandom, { bytesRequested: 32 })));
    }),
  () => withRaw(async (raw) => ways.rawGetRandom.add(await during(() => raw.exchange(getRandom)))),
];

try {
  // Warm-up, each way a little: the flow's index defined (as every cycle leaves it), the stores
  // initialized, the JIT and swtpm's caches warm.
  await withClient(async (tpm) => {
    await define(tpm);
    for (let i = 0; i < 50; i++) await clientCycle(tpm);
  });
  await withRaw(async (raw) => {
    for (let i = 0; i < 50; i++) await rawCycle(raw);
  });
  toolsCycle();
  await commits(null, 20);
  await resets("tpm", null, 20);
  await withClient(async (tpm) => {
    for (let i = 0; i < 20; i++) await clientCycle(tpm);
  }, "encrypted");
  await resets("tpm-password", null, 20);
  await resets("files", null, 20);

  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < turns.length; i++) await (turns[(round + i) % turns.length] as () => Promise<void>)();
  }
  await withClient((tpm) => tpm.run(NV_UndefineSpace, { authHandle: OWNER, nvIndex: FLOW_INDEX }));

  const t = ways.tools.rate;
  const vsTools = (tally: Tally) => `${(tally.rate / t).toFixed(1)}x tpm2-tools`;
  console.log(
    `tpm2-tools flow: ${fixed(t)} cycles/s (getrandom, nvundefine, nvdefine, nvwrite, nvread + compare:` +
      ` a process each) ${ways.tools.spread}`,
  );
  console.log(
    `reid client flow: ${fixed(ways.client.rate)} cycles/s = ${vsTools(ways.client)} (goal >= 50x)` +
      ` ${ways.client.spread}; cycle p50 ${ms(percentile(cycleLatencies, 50))} p99 ${ms(percentile(cycleLatencies, 99))}`,
  );
  console.log(
    `  raw socket floor, same five commands as fixed bytes: ${fixed(ways.rawFlow.rate)} cycles/s` +
      ` = ${vsTools(ways.rawFlow)}; the client runs at ${(ways.client.rate / ways.rawFlow.rate).toFixed(2)} of the floor`,
  );
  console.log(
    `reid store reset on the TPM (GetRandom + A/B commit on two NV indices): ${fixed(ways.commit.rate)}/s` +
      ` = ${vsTools(ways.commit)} ${ways.commit.spread}`,
  );
  console.log(
    `reid element reset on the TPM (encrypted sessions, tpm+os source, commit, handle, audit): ${fixed(ways.tpmReset.rate)}/s` +
      ` = ${vsTools(ways.tpmReset)}; on area files (os source): ${fixed(ways.fileReset.rate)}/s,` +
      ` TPM/files ${(ways.tpmReset.rate / ways.fileReset.rate).toFixed(2)} ${ways.tpmReset.spread}`,
  );
  const cost = (password: Tally, encrypted: Tally) => (password.rate / encrypted.rate).toFixed(2);
  console.log(
    `encrypted sessions (salted HMAC, AES-128-CFB) against password sessions, same run:` +
      ` element reset ${fixed(ways.tpmReset.rate)}/s against ${fixed(ways.tpmResetPassword.rate)}/s =` +
      ` ${cost(ways.tpmResetPassword, ways.tpmReset)}x the time (goal <= 1.5x) ${ways.tpmResetPassword.spread};` +
      ` client flow ${fixed(ways.clientEncrypted.rate)} against ${fixed(ways.client.rate)} cycles/s =` +
      ` ${cost(ways.client, ways.clientEncrypted)}x, still ${vsTools(ways.clientEncrypted)} (goal >= 50x)` +
      ` ${ways.clientEncrypted.spread}`,
  );
  console.log(
    `GetRandom(32): ${fixed(ways.getRandom.rate)}/s, raw socket floor ${fixed(ways.rawGetRandom.rate)}/s` +
      ` = ${(ways.getRandom.rate / ways.rawGetRandom.rate).toFixed(2)} of the floor` +
      ` (round trip ${ms(1 / ways.getRandom.rate)}, floor ${ms(1 / ways.rawGetRandom.rate)})`,
  );
  console.log(
    `(${rounds} rounds of ${seconds} s a way, one swtpm: ${ways.tools.count} tpm2-tools cycles,` +
      ` ${ways.client.count} client cycles, ${ways.commit.count} store resets,` +
      ` ${ways.tpmReset.count} + ${ways.fileReset.count} element resets)`,
  );
} finally {
  await swtpm.stop();
  rmSync(swtpm.stateDir, { recursive: true, force: true });
  rmSync(base, { recursive: true, force: true });
}
