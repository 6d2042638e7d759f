// Binding throughput on one core (one Node thread, in-process, no network): binds/s (the whole
// three-message handshake with the setup code's proof, both sides' checks), signed-command verifications/s (parse + check, as
// the device does), telemetry seal+open/s (readings sealed by the device and opened by the user,
// HPKE Auth mode, 64 readings an answer as `reid telemetry --count 64` asks). Goals: >= 1,000,
// >= 5,000 and >= 10,000 per second. Each figure is printed with a floor or a peer measured in the
// same run. Binds and commands are measured in slices alternating with their floor's (--slices
// of each, --seconds in all for each side) and reported as medians, so a burst of load from
// another process on this shared machine lands in a slice or two of either, not in one whole
// figure.
// Usage: node --import tsx bench/binding.ts [--seconds 2] [--slices 8]
import { diffieHellman, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { checkCommand, parseCommand, signCommand } from "../src/binding/command.js";
import {
  bindRequest,
  bindResult,
  checkBindRequest,
  checkBindResult,
  checkHello,
  hello,
} from "../src/binding/handshake.js";
import { SUITE } from "../src/binding/hpke/suite.js";
import { type BindingKeys, type Party, partyOf, peerOf } from "../src/binding/parties.js";
import { openTelemetry, sealTelemetry } from "../src/binding/telemetry.js";
import { deriveKeys } from "../src/derive/derivation.js";
import { argument, percentile, ratio } from "./stats.js";

const seconds = Number(argument("seconds", "2"));
const slices = Number(argument("slices", "8"));
const keysOf = () => deriveKeys(randomBytes(32), ["ed25519", "x25519"]) as BindingKeys;
const deviceKeys = keysOf();
const userKeys = keysOf();
const device = partyOf(deviceKeys);
const user = partyOf(userKeys);
const perSecond = (value: number) => Math.round(value).toLocaleString("en");
const json = (value: object) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;

/** Runs `step` for the time given (after a short warm-up) and returns operations per second. */
async function rate(step: () => unknown): Promise<number> {
  const run = async (ms: number) => {
    let count = 0;
    const start = performance.now();
    while (performance.now() - start < ms) {
      await step();
      count++;
    }
    return count / ((performance.now() - start) / 1000);
  };
  await run(200);
  return run(seconds * 1000);
}

/** Operations per second of a synchronous step for `ms` milliseconds. */
function sliceRate(step: () => void, ms: number): number {
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    step();
    count++;
  }
  return count / ((performance.now() - start) / 1000);
}

/**
 * `ours` and `floor` in alternating slices (after a warm-up of each), `slices` of each, the whole
 * `seconds` for each side: the medians of their rates, and the slowest and fastest of ours.
 */
function interleaved(ours: () => void, floor: () => void): { ours: number; floor: number; spread: string } {
  sliceRate(ours, 200);
  sliceRate(floor, 200);
  const ms = (seconds * 1000) / slices;
  const rates = { ours: [] as number[], floor: [] as number[] };
  for (let i = 0; i < slices; i++) {
    rates.ours.push(sliceRate(ours, ms));
    rates.floor.push(sliceRate(floor, ms));
  }
  const spread = `${perSecond(Math.min(...rates.ours))} to ${perSecond(Math.max(...rates.ours))}`;
  return { ours: percentile(rates.ours, 50), floor: percentile(rates.floor, 50), spread };
}

const code = "ABCDE12345";
const wrongCode = () => new Error("wrong code");
// Each bind pairs a device and a user of these two rings (17 and 16: 272 pairs in turn), so a bind
// is measured between parties that met 271 binds ago at the earliest, as fresh peers would be:
// nothing learnt of a peer in one bind may make the next one cheaper.
const devices = Array.from({ length: 17 }, () => partyOf(keysOf()));
const users = Array.from({ length: 16 }, () => partyOf(keysOf()));
let binds = 0;
function bind(): void {
  const device = devices[binds % devices.length] as Party;
  const user = users[binds++ % users.length] as Party;
  const nonce = randomBytes(32);
  const challenge = randomBytes(32);
  const { device: peer } = checkHello(json(hello(device, nonce, challenge)), nonce, device.handle);
  const request = bindRequest(user, peer, challenge, nonce, code);
  const bound = checkBindRequest(json(request.message), device, { challenge, nonce, code }, wrongCode);
  checkBindResult(
    json(bindResult(device, bound.user, bound.keys, 0, new Date().toISOString())),
    request.keys,
  );
}

// The floor of a bind: its signatures (2: hello, request), verifications (2) and X25519 agreements
// (2: one each side, keying the code's proof and the result's MAC), bare.
const ed = generateKeyPairSync("ed25519");
const xa = generateKeyPairSync("x25519");
const xb = generateKeyPairSync("x25519");
const message = randomBytes(200);
function bindFloor(): void {
  for (let i = 0; i < 2; i++) verify(null, message, ed.publicKey, sign(null, message, ed.privateKey));
  diffieHellman({ privateKey: xa.privateKey, publicKey: xb.publicKey });
  diffieHellman({ privateKey: xb.privateKey, publicKey: xa.publicKey });
}

const commandWire = JSON.stringify(
  signCommand(user, { device: device.handle, counter: 2, time: Date.now(), name: "light", args: ["on"] }),
);
const binding = { verifier: peerOf(user.ed25519, user.x25519).verifier, counter: 1 };
function verifyCommand(): void {
  checkCommand(parseCommand(JSON.parse(commandWire)), device.handle, binding, Date.now());
}
const signature = sign(null, message, ed.privateKey);
function verifyFloor(): void {
  verify(null, message, ed.publicKey, signature);
}

const oneReading = Buffer.from('{"sensor":"simulated","time":"2026-01-01T00:00:00.000Z","value":"21.40"}');
/** An answer of `count` readings, sealed by the device and opened by the user, as the two roles do. */
async function sealOpen(count: number): Promise<void> {
  const sealed = await sealTelemetry(
    { handle: device.handle, x25519: deviceKeys.x25519 },
    { handle: user.handle, x25519: user.x25519 },
    7,
    Array.from({ length: count }, () => oneReading),
  );
  await openTelemetry(
    json(sealed),
    { handle: user.handle, x25519: userKeys.x25519 },
    { handle: device.handle, x25519: device.x25519 },
    7,
  );
}
// The floor of an answer's HPKE setup in Auth mode: an ephemeral key pair and the four X25519
// agreements (sender: ephemeral and static with the recipient; recipient: the same two), bare
// node:crypto, no key schedule.
const staticPair = generateKeyPairSync("x25519");
function setupFloor(): void {
  const ephemeral = generateKeyPairSync("x25519");
  diffieHellman({ privateKey: ephemeral.privateKey, publicKey: staticPair.publicKey });
  diffieHellman({ privateKey: staticPair.privateKey, publicKey: staticPair.publicKey });
  diffieHellman({ privateKey: staticPair.privateKey, publicKey: ephemeral.publicKey });
  diffieHellman({ privateKey: staticPair.privateKey, publicKey: staticPair.publicKey });
}

/** @hpke/core's stock suite, all WebCrypto: the peer our node:crypto primitives are measured against. */
const STOCK = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes128Gcm(),
});

/** Seal+open of one reading inside a context already set up. */
async function inContext(suite: CipherSuite): Promise<() => Promise<void>> {
  const recipient = await suite.kem.generateKeyPair();
  const sender = await suite.kem.generateKeyPair();
  const seal = await suite.createSenderContext({
    recipientPublicKey: recipient.publicKey,
    senderKey: sender,
  });
  const open = await suite.createRecipientContext({
    recipientKey: recipient,
    enc: seal.enc,
    senderPublicKey: sender.publicKey,
  });
  return async () => {
    await open.open(await seal.seal(oneReading));
  };
}

const figures = [
  { name: "binds", goal: 1000, run: bind, floor: bindFloor, floorName: "2 Ed25519 sign+verify, 2 X25519" },
  {
    name: "signed-command verifications",
    goal: 5000,
    run: verifyCommand,
    floor: verifyFloor,
    floorName: "1 Ed25519 verify",
  },
];
let missed = 0;
const verdict = (value: number, goal: number) => {
  if (value < goal) missed++;
  return `goal >= ${goal.toLocaleString("en")}/s: ${value >= goal ? "goal met" : "GOAL MISSED"}`;
};
for (const figure of figures) {
  const { ours, floor, spread } = interleaved(figure.run, figure.floor);
  console.log(
    `${figure.name}: ${perSecond(ours)}/s on one core (${verdict(ours, figure.goal)}); floor (${figure.floorName}) ${perSecond(floor)}/s, ours at ${ratio(ours, floor)} of it (medians of ${slices} interleaved slices each; ours ${spread}/s)`,
  );
}

// Telemetry. An answer is one HPKE context: its setup (an ephemeral key, four X25519 agreements,
// the key schedule, both sides) is paid once, then each reading is one AES-128-GCM seal and open.
// The goal is checked per reading on full answers (`reid telemetry --count 64`, the device's
// sampled history): a reading sealed and opened. A lone reading pays the whole setup; that figure
// is printed against its own floor, with no goal, since the setup's bare X25519 work alone is
// below 10,000/s on this machine.
const TELEMETRY_GOAL = 10_000;
const BATCH = 64;
const batched = (await rate(() => sealOpen(BATCH))) * BATCH;
console.log(
  `telemetry seal+open, ${BATCH} readings an answer: ${perSecond(batched)} readings/s on one core (${verdict(batched, TELEMETRY_GOAL)})`,
);
const ours = await rate(await inContext(SUITE));
const peer = await rate(await inContext(STOCK));
console.log(
  `  each reading in its context: ${perSecond(ours)}/s; @hpke/core's stock WebCrypto suite ${perSecond(peer)}/s in the same run, ours ${ratio(ours, peer)}`,
);
const single = await rate(() => sealOpen(1));
const setup = await rate(setupFloor);
const stockSingle = await rate(async () => {
  const r = await STOCK.kem.generateKeyPair();
  const s = await STOCK.kem.generateKeyPair();
  const sender = await STOCK.createSenderContext({ recipientPublicKey: r.publicKey, senderKey: s });
  const recipient = await STOCK.createRecipientContext({
    recipientKey: r,
    enc: sender.enc,
    senderPublicKey: s.publicKey,
  });
  await recipient.open(await sender.seal(oneReading));
});
console.log(
  `  1 reading an answer: ${perSecond(single)}/s (the whole setup each time); floor (X25519 keygen + 4 agreements, bare node:crypto) ${perSecond(setup)}/s, ours at ${ratio(single, setup)} of it; the stock suite ${perSecond(stockSingle)}/s`,
);
if (missed > 0) console.log(`${missed} goal(s) missed on this machine`);
