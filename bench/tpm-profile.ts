// Where a client flow cycle's time goes, per command (issue 16's goal for the encrypted flow):
// the time from the command's write to its response (swtpm's work plus the loopback), against the
// whole call (the client's marshalling, session crypto and promise plumbing on top), with password
// and with encrypted sessions, and the same commands as fixed bytes on a raw socket (swtpm alone)
// and through the client's transport. Not one of `npm run bench`'s figures: a diagnosis, run alone.
// Usage: node --import tsx bench/tpm-profile.ts [--cycles 3000] [--only raw|transport|password|encrypted]
import { connect, type Socket } from "node:net";
import { REID_NV_ATTRIBUTES } from "../src/storage/tpm/nv-area.js";
import { marshalCommand, password } from "../src/tpm/command.js";
import { NV_DefineSpace, NV_Read, NV_UndefineSpace, NV_Write } from "../src/tpm/commands/nv.js";
import { GetRandom } from "../src/tpm/commands/random.js";
import { TPM_ALG, TPM_RH, TPMA_NV } from "../src/tpm/constants.js";
import { nvName } from "../src/tpm/names.js";
import type { SessionMode, Tpm } from "../src/tpm/tpm.js";
import { connectTpm } from "../src/tpm/transport/open.js";
import { SocketTransport } from "../src/tpm/transport/socket.js";
import { startSwtpm } from "../test/helpers/swtpm.js";
import { argument } from "./stats.js";

const cycles = Number(argument("cycles", "3000"));
const INDEX = 0x01524f00;
const SIZE = 256;
const OWNER = password(TPM_RH.OWNER);
const AUTH = new Uint8Array(32).map((_, i) => 0x41 + i);
const DEFINE = {
  authHandle: OWNER,
  auth: AUTH,
  publicInfo: {
    nvIndex: INDEX,
    nameAlg: TPM_ALG.SHA256,
    attributes: REID_NV_ATTRIBUTES,
    authPolicy: new Uint8Array(0),
    dataSize: SIZE,
  },
};
const DEFINED = { handle: INDEX, name: nvName(DEFINE.publicInfo) };
const WRITTEN = {
  handle: INDEX,
  name: nvName({ ...DEFINE.publicInfo, attributes: (REID_NV_ATTRIBUTES | TPMA_NV.WRITTEN) >>> 0 }),
};
const NAMES = ["GetRandom", "NV_UndefineSpace", "NV_DefineSpace", "NV_Write", "NV_Read"];

const swtpm = await startSwtpm();
const port = swtpm.address.kind === "tcp" ? swtpm.address.port : 0;

type Times = { total: number[]; wait: number[] };
/** Answers other than success the client saw (retried warnings), by response code. */
const retries = new Map<number, number>();
const fresh = (): Times[] => NAMES.map(() => ({ total: [], wait: [] }));

async function clientRun(
  mode: SessionMode,
  n: number,
): Promise<{ times: Times[]; cpu: number; wall: number }> {
  const tpm: Tpm = await connectTpm(swtpm.address, undefined, { sessions: mode });
  const times = fresh();
  const send = tpm.transport.send.bind(tpm.transport);
  let waited = 0;
  (tpm.transport as { send: typeof send }).send = async (bytes) => {
    const t = process.hrtime.bigint();
    const out = await send(bytes);
    const rc = new DataView(out.buffer, out.byteOffset).getUint32(6);
    if (rc !== 0) retries.set(rc, (retries.get(rc) ?? 0) + 1);
    waited += Number(process.hrtime.bigint() - t);
    return out;
  };
  const step = async (i: number, f: () => Promise<unknown>, record: boolean) => {
    waited = 0;
    const t = process.hrtime.bigint();
    await f();
    if (!record) return;
    (times[i] as Times).total.push(Number(process.hrtime.bigint() - t));
    (times[i] as Times).wait.push(waited);
  };
  await tpm.run(GetRandom, { bytesRequested: 32 });
  let cpu = 0;
  let wall = 0;
  for (let c = 0; c < n + 200; c++) {
    const record = c >= 200;
    if (c === 200) {
      cpu = process.cpuUsage().user + process.cpuUsage().system;
      wall = Number(process.hrtime.bigint());
    }
    let data = new Uint8Array(0);
    await step(
      0,
      async () => {
        data = new Uint8Array(SIZE);
        data.set((await tpm.run(GetRandom, { bytesRequested: 32 })).randomBytes);
      },
      record,
    );
    await step(1, () => tpm.run(NV_UndefineSpace, { authHandle: OWNER, nvIndex: WRITTEN }), record);
    await step(2, () => tpm.run(NV_DefineSpace, DEFINE), record);
    await step(
      3,
      () =>
        tpm.run(NV_Write, { authHandle: { ...DEFINED, password: AUTH }, nvIndex: DEFINED, data, offset: 0 }),
      record,
    );
    await step(
      4,
      async () => {
        const { data: back } = await tpm.run(NV_Read, {
          authHandle: { ...WRITTEN, password: AUTH },
          nvIndex: WRITTEN,
          size: SIZE,
          offset: 0,
        });
        if (!Buffer.from(back).equals(Buffer.from(data))) throw new Error("read back differs");
      },
      record,
    );
  }
  const u = process.cpuUsage();
  cpu = (u.user + u.system - cpu) / 1000;
  wall = (Number(process.hrtime.bigint()) - wall) / 1e6;
  await tpm.close();
  return { times, cpu, wall };
}

const rawFlow = [
  marshalCommand(GetRandom, { bytesRequested: 32 }),
  marshalCommand(NV_UndefineSpace, { authHandle: OWNER, nvIndex: INDEX }),
  marshalCommand(NV_DefineSpace, DEFINE),
  marshalCommand(NV_Write, {
    authHandle: password(INDEX, AUTH),
    nvIndex: INDEX,
    data: new Uint8Array(SIZE).fill(0x5a),
    offset: 0,
  }),
  marshalCommand(NV_Read, { authHandle: password(INDEX, AUTH), nvIndex: INDEX, size: SIZE, offset: 0 }),
];

type Exchange = (command: Uint8Array) => Promise<Uint8Array>;

/** The fixed bytes of the flow, `n` cycles through `exchange` (TPM_RC_RETRY answers sent again). */
async function fixedRun(
  n: number,
  exchange: Exchange,
): Promise<{ times: Times[]; cpu: number; wall: number }> {
  const times = fresh();
  let cpu = 0;
  let wall = 0;
  const rc = (r: Uint8Array) => new DataView(r.buffer, r.byteOffset).getUint32(6);
  for (let c = 0; c < n + 200; c++) {
    if (c === 200) {
      const u = process.cpuUsage();
      cpu = u.user + u.system;
      wall = Number(process.hrtime.bigint());
    }
    for (let i = 0; i < rawFlow.length; i++) {
      const t = process.hrtime.bigint();
      let r: Uint8Array;
      do r = await exchange(Uint8Array.from(rawFlow[i] as Uint8Array));
      while (rc(r) === 0x922);
      const d = Number(process.hrtime.bigint() - t);
      if (rc(r) !== 0) throw new Error(`${NAMES[i]} failed 0x${rc(r).toString(16)}`);
      if (c >= 200) {
        (times[i] as Times).total.push(d);
        (times[i] as Times).wait.push(d);
      }
    }
  }
  const u = process.cpuUsage();
  cpu = (u.user + u.system - cpu) / 1000;
  wall = (Number(process.hrtime.bigint()) - wall) / 1e6;
  return { times, cpu, wall };
}

/** swtpm's floor: the fixed bytes on a plain socket, the response taken once its size has arrived. */
async function rawRun(n: number): Promise<{ times: Times[]; cpu: number; wall: number }> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("error", reject);
    s.once("connect", () => {
      s.setNoDelay(true);
      resolve(s);
    });
  });
  let got: Buffer = Buffer.alloc(0);
  let waiting: ((b: Buffer) => void) | null = null;
  socket.on("data", (chunk: Buffer) => {
    got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
    if (got.length < 6 || got.length < got.readUInt32BE(2)) return;
    const r = got;
    got = Buffer.alloc(0);
    const w = waiting;
    waiting = null;
    w?.(r);
  });
  try {
    return await fixedRun(
      n,
      (command) =>
        new Promise((resolve) => {
          waiting = resolve;
          socket.write(command);
        }),
    );
  } finally {
    await new Promise<void>((resolve) => socket.end(resolve));
  }
}

/** The same fixed bytes through the client's transport alone (no marshalling, no sessions). */
async function transportRun(n: number): Promise<{ times: Times[]; cpu: number; wall: number }> {
  const transport = await SocketTransport.connect({ host: "127.0.0.1", port });
  try {
    return await fixedRun(n, (command) => transport.send(command));
  } finally {
    await transport.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const us = (ns: number) => (ns / 1000).toFixed(1).padStart(6);

try {
  const setup = await connectTpm(swtpm.address);
  await setup.run(NV_DefineSpace, DEFINE);
  // Written, as every cycle leaves it (its name is the written one).
  await setup.run(NV_Write, {
    authHandle: password(INDEX, AUTH),
    nvIndex: INDEX,
    data: new Uint8Array(SIZE),
    offset: 0,
  });
  await setup.close();
  const results: Record<string, Awaited<ReturnType<typeof rawRun>>> = {};
  const only = argument("only", "");
  for (let round = 0; round < 2; round++) {
    if (!only || only === "raw") results.raw = await rawRun(cycles);
    if (!only || only === "transport") results.transport = await transportRun(cycles);
    if (!only || only === "password") results.password = await clientRun("password", cycles);
    if (!only || only === "encrypted") results.encrypted = await clientRun("encrypted", cycles);
  }
  console.log(
    `answers other than success: ${[...retries].map(([rc, n]) => `0x${rc.toString(16)} x${n}`).join(", ") || "none"}`,
  );
  for (const [mode, r] of Object.entries(results)) {
    // The sum of the commands' medians: a cycle without the disk's and the neighbours' stalls.
    const sum = (pick: (t: Times) => number[]) => r.times.reduce((total, t) => total + median(pick(t)), 0);
    const clientOf = (t: Times) => t.total.map((x, j) => x - (t.wait[j] as number));
    console.log(
      `${mode}: ${(cycles / (r.wall / 1000)).toFixed(0)} cycles/s, cycle ${((r.wall / cycles) * 1000).toFixed(0)} us wall, ${((r.cpu / cycles) * 1000).toFixed(0)} us our CPU (user+sys);` +
        ` medians summed: call ${us(sum((t) => t.total))} wire ${us(sum((t) => t.wait))} client ${us(sum(clientOf))} us`,
    );
    for (let i = 0; i < NAMES.length; i++) {
      const t = r.times[i] as Times;
      const client = clientOf(t);
      console.log(
        `  ${(NAMES[i] as string).padEnd(17)} call mean ${us(mean(t.total))} med ${us(median(t.total))}  wire mean ${us(mean(t.wait))} med ${us(median(t.wait))}  client mean ${us(mean(client))} med ${us(median(client))}`,
      );
    }
  }
} finally {
  await swtpm.stop();
}
