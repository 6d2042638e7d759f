// Malformed, truncated, oversized, late and missing answers from a fake TPM: through a fake
// TpmTransport (what the Tpm object does with bad bytes) and through a fake TCP server speaking raw
// TPM framing (what SocketTransport does with a bad stream). Each ends in a one-line error of the
// right class within a short timeout; nothing hangs and nothing is thrown past the caller.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { marshalCommand } from "../../src/tpm/command.js";
import { GetRandom } from "../../src/tpm/commands/random.js";
import { Startup } from "../../src/tpm/commands/startup.js";
import { TPM_SU } from "../../src/tpm/constants.js";
import { TpmResponseError, TpmTransportError } from "../../src/tpm/errors.js";
import { Tpm } from "../../src/tpm/tpm.js";
import { openTransport } from "../../src/tpm/transport/open.js";
import { SocketTransport } from "../../src/tpm/transport/socket.js";
import { MAX_RESPONSE_SIZE, type TpmTransport } from "../../src/tpm/transport/transport.js";
import { ptyToTcp } from "../helpers/pty.js";
import { tempDir } from "../helpers/temp.js";

const bytes = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
const GET_RANDOM_16 = marshalCommand(GetRandom, { bytesRequested: 16 });
const GET_RANDOM_4 = marshalCommand(GetRandom, { bytesRequested: 4 });
const STARTUP = marshalCommand(Startup, { startupType: TPM_SU.CLEAR });
/** A good answer to GetRandom(4). */
const RANDOM_4 = bytes("8001 00000010 00000000 0004 01020304");
const ok = (rc = 0) => bytes(`8001 0000000a ${rc.toString(16).padStart(8, "0")}`);
/** Short enough that a test waiting on it stays fast, long enough for loopback. */
const TIMEOUT_MS = 300;

/** The error must be of the class and code given, and a single line a user can read. */
function assertClearError(
  error: unknown,
  kind: typeof TpmTransportError | typeof TpmResponseError,
  code: string,
  message: RegExp,
): true {
  assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
  assert.equal((error as TpmTransportError).code, code, (error as Error).message);
  assert.match((error as Error).message, message);
  assert.doesNotMatch((error as Error).message, /\n/);
  return true;
}

/** Rejects unless `promise` settles within `ms`: a hang is a failure of its own, not a stuck test. */
async function settles<T>(promise: Promise<T>, ms = 5000): Promise<T> {
  const timer = sleep(ms, "hang" as const, { ref: false });
  const result = await Promise.race([promise.then((value) => ({ value })), timer]);
  if (result === "hang") throw new Error(`no answer within ${ms} ms: a hang`);
  return result.value;
}

/** A transport whose answers a test scripts: each command goes to `answer`, which may throw or wait. */
class FakeTransport implements TpmTransport {
  readonly description = "fake TPM";
  readonly sent: string[] = [];
  closed = false;
  constructor(
    private readonly answer: (command: Uint8Array, n: number) => Uint8Array | Promise<Uint8Array>,
  ) {}
  async send(command: Uint8Array): Promise<Uint8Array> {
    this.sent.push(Buffer.from(command).toString("hex"));
    return this.answer(command, this.sent.length - 1);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

describe("Tpm over a fake transport", () => {
  const malformed: [string, Uint8Array, RegExp][] = [
    ["truncated", bytes("8001 00000010 00000000 0004 0102"), /responseSize says 16 bytes, 14 arrived/],
    [
      "responseSize bigger than the bytes",
      bytes("8001 00000020 00000000 0004 01020304"),
      /says 32 bytes, 16/,
    ],
    [
      "responseSize smaller than the bytes",
      bytes("8001 0000000c 00000000 0004 01020304"),
      /says 12 bytes, 16/,
    ],
    ["garbage", new Uint8Array(Buffer.from("HTTP/1.1 400 Bad Request\r\n")), /responseSize says 1414541105/],
    ["a bare header", bytes("80"), /truncated at byte 0 reading tag|truncated at byte 2/],
    ["no bytes", new Uint8Array(0), /truncated at byte 0 reading tag/],
    [
      "extra trailing bytes",
      bytes("8001 00000011 00000000 0004 01020304 ff"),
      /1 unexpected bytes after the response/,
    ],
    ["wrong tag", bytes("8002 00000010 00000000 0004 01020304"), /tag 0x8002 where 0x8001 belongs/],
    ["a digest past its buffer", bytes(`8001 0000004f 00000000 0043 ${"00".repeat(67)}`), /67 bytes exceeds/],
  ];
  for (const [what, response, message] of malformed) {
    test(`${what}: tpm-malformed, and the Tpm stays usable`, async () => {
      const fake = new FakeTransport((_, n) => (n === 0 ? response.slice() : RANDOM_4.slice()));
      const tpm = new Tpm(fake);
      await assert.rejects(settles(tpm.run(GetRandom, { bytesRequested: 4 })), (error) =>
        assertClearError(error, TpmTransportError, "tpm-malformed", message),
      );
      // The fake transport itself did not fail, so the next command goes through.
      const { randomBytes } = await settles(tpm.run(GetRandom, { bytesRequested: 4 }));
      assert.deepEqual([...randomBytes], [1, 2, 3, 4]);
    });
  }

  test("an error code: TpmResponseError naming the command and the code", async () => {
    const tpm = new Tpm(new FakeTransport(() => ok(0x9a2)));
    await assert.rejects(tpm.run(GetRandom, { bytesRequested: 4 }), (error) =>
      assertClearError(
        error,
        TpmResponseError,
        "tpm-error",
        /^TPM2_GetRandom failed: TPM_RC_BAD_AUTH: .* \(session 1, 0x9a2\)$/,
      ),
    );
  });

  test("the transport's own failure reaches the caller unchanged, and the queue goes on", async () => {
    const fake = new FakeTransport((_, n) => {
      if (n === 0) throw new TpmTransportError("fake TPM did not answer within 0.3 s", "tpm-timeout");
      return RANDOM_4.slice();
    });
    const tpm = new Tpm(fake);
    const first = tpm.run(GetRandom, { bytesRequested: 4 });
    const second = tpm.run(GetRandom, { bytesRequested: 4 });
    await assert.rejects(first, (error) =>
      assertClearError(error, TpmTransportError, "tpm-timeout", /did not answer/),
    );
    assert.equal((await second).randomBytes.length, 4);
  });

  test("commands run one at a time, in the order called", async () => {
    let inFlight = 0;
    let most = 0;
    const fake = new FakeTransport(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await sleep(2);
      inFlight--;
      return RANDOM_4.slice();
    });
    const tpm = new Tpm(fake);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => tpm.run(GetRandom, { bytesRequested: 4 + i }).catch(() => null)),
    );
    assert.equal(most, 1);
    assert.deepEqual(
      fake.sent.map((command) => Number.parseInt(command.slice(-4), 16)),
      Array.from({ length: 10 }, (_, i) => 4 + i),
    );
  });

  test("RETRY, TESTING, YIELDED, NV_RATE, NV_UNAVAILABLE are sent again until the TPM can", async () => {
    for (const warning of [0x922, 0x90a, 0x908, 0x920, 0x923]) {
      const fake = new FakeTransport((_, n) => (n < 2 ? ok(warning) : RANDOM_4.slice()));
      const { randomBytes } = await settles(new Tpm(fake).run(GetRandom, { bytesRequested: 4 }));
      assert.equal(randomBytes.length, 4);
      assert.equal(fake.sent.length, 3, `0x${warning.toString(16)}`);
      assert.ok(
        fake.sent.every((command) => command === fake.sent[0]),
        "the same command each time",
      );
    }
  });

  test("a TPM that keeps saying RETRY: the retries end, with the warning as the error", async () => {
    const fake = new FakeTransport(() => ok(0x922));
    await assert.rejects(settles(new Tpm(fake).run(GetRandom, { bytesRequested: 4 })), (error) =>
      assertClearError(error, TpmResponseError, "tpm-error", /TPM_RC_RETRY/),
    );
    assert.ok(fake.sent.length > 2 && fake.sent.length < 100, `${fake.sent.length} attempts`);
  });

  test("errors that retrying cannot cure are not retried", async () => {
    for (const code of [0x18b, 0x9a2, 0x921, 0x14c, 0x101]) {
      const fake = new FakeTransport(() => ok(code));
      await assert.rejects(new Tpm(fake).run(GetRandom, { bytesRequested: 4 }), TpmResponseError);
      assert.equal(fake.sent.length, 1, `0x${code.toString(16)}`);
    }
  });

  test("TPM_RC_INITIALIZE: TPM2_Startup(CLEAR) is sent once, then the command again", async () => {
    let started = false;
    const fake = new FakeTransport((command) => {
      if (Buffer.from(command).equals(STARTUP)) {
        started = true;
        return ok();
      }
      return started ? RANDOM_4.slice() : ok(0x100);
    });
    const tpm = new Tpm(fake);
    assert.equal((await tpm.run(GetRandom, { bytesRequested: 4 })).randomBytes.length, 4);
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    assert.deepEqual(fake.sent, [hex(GET_RANDOM_4), hex(STARTUP), hex(GET_RANDOM_4)]);
    // Once per Tpm: a TPM that forgets it was started again is an error, not a Startup loop.
    started = false;
    await assert.rejects(tpm.run(GetRandom, { bytesRequested: 4 }), (error) =>
      assertClearError(error, TpmResponseError, "tpm-error", /TPM_RC_INITIALIZE/),
    );
    assert.equal(fake.sent.filter((c) => c === hex(STARTUP)).length, 1);
  });

  test("TPM_RC_INITIALIZE that Startup cannot cure: one Startup, then a clear error", async () => {
    const fake = new FakeTransport(() => ok(0x100));
    await assert.rejects(settles(new Tpm(fake).run(GetRandom, { bytesRequested: 4 })), (error) =>
      assertClearError(
        error,
        TpmResponseError,
        "tpm-error",
        /TPM2_(GetRandom|Startup) failed: TPM_RC_INITIALIZE/,
      ),
    );
    assert.ok(fake.sent.length <= 3, `${fake.sent.length} commands`);
  });

  test("a Startup answered with TPM_RC_INITIALIZE (already started) is not retried", async () => {
    const fake = new FakeTransport(() => ok(0x100));
    await assert.rejects(new Tpm(fake).run(Startup, { startupType: TPM_SU.CLEAR }), /TPM_RC_INITIALIZE/);
    assert.equal(fake.sent.length, 1);
  });
});

/**
 * A fake swtpm: a TCP server on a free loopback port that hands each connection to `behave`, which
 * answers the raw frames it reads however the test wants (or not at all).
 */
async function fakeServer(
  t: TestContext,
  behave: (socket: Socket, command: Buffer) => void,
): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => behave(socket, chunk));
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1" }, resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as { port: number }).port;
}

async function socketTo(port: number): Promise<SocketTransport> {
  return SocketTransport.connect({ host: "127.0.0.1", port }, TIMEOUT_MS);
}

describe("SocketTransport against a fake swtpm", () => {
  test("a response split into one-byte TCP chunks is reassembled", async (t) => {
    const response = bytes(`8001 0000002c 00000000 0020 ${"ab".repeat(32)}`);
    const port = await fakeServer(t, async (socket) => {
      for (const byte of response) {
        socket.write(new Uint8Array([byte]));
        await sleep(1);
      }
    });
    const tpm = new Tpm(await socketTo(port));
    const { randomBytes } = await settles(tpm.run(GetRandom, { bytesRequested: 32 }));
    assert.equal(Buffer.from(randomBytes).toString("hex"), "ab".repeat(32));
    // And again on the same connection: the assembler starts afresh for each response.
    assert.equal((await settles(tpm.run(GetRandom, { bytesRequested: 32 }))).randomBytes.length, 32);
    await tpm.close();
  });

  test("the command arrives byte for byte", async (t) => {
    let received = Buffer.alloc(0);
    const port = await fakeServer(t, (socket, chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 12) socket.write(RANDOM_4);
    });
    const tpm = new Tpm(await socketTo(port));
    await tpm.run(GetRandom, { bytesRequested: 16 });
    assert.equal(received.toString("hex"), Buffer.from(GET_RANDOM_16).toString("hex"));
    await tpm.close();
  });

  /** Runs GetRandom against a server that behaves as given; returns the error it ends in. */
  async function failing(t: TestContext, behave: (socket: Socket, command: Buffer) => void) {
    const port = await fakeServer(t, behave);
    const transport = await socketTo(port);
    const tpm = new Tpm(transport);
    const error = await settles(
      tpm.run(GetRandom, { bytesRequested: 4 }).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    assert.ok(error, "the command must fail");
    // A stream that went wrong stays failed (its framing is lost): later commands fail at once
    // instead of reading stray bytes as their answer.
    const again = await settles(
      tpm.run(GetRandom, { bytesRequested: 4 }).then(
        () => null,
        (e: unknown) => e,
      ),
      100,
    );
    assert.ok(again instanceof TpmTransportError, String(again));
    await settles(tpm.close());
    return error;
  }

  const cases: [string, (socket: Socket) => void, string, RegExp][] = [
    [
      "two responses glued in one chunk",
      (socket) => socket.write(Buffer.concat([RANDOM_4, RANDOM_4])),
      "tpm-malformed",
      /sent 16 bytes beyond its response/,
    ],
    [
      "a header claiming more than any response",
      (socket) =>
        socket.write(bytes(`8001 ${(MAX_RESPONSE_SIZE + 1).toString(16).padStart(8, "0")} 00000000`)),
      "tpm-malformed",
      /sent a response header claiming 65537 bytes/,
    ],
    [
      "a header claiming less than a header",
      (socket) => socket.write(bytes("8001 00000004 00000000")),
      "tpm-malformed",
      /claiming 4 bytes/,
    ],
    [
      "garbage (an HTTP server on the port)",
      (socket) => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"),
      "tpm-malformed",
      /claiming 1414541105 bytes/,
    ],
    [
      "responseSize smaller than what was sent",
      (socket) => socket.write(bytes("8001 0000000c 00000000 0004 01020304")),
      "tpm-malformed",
      /4 bytes beyond its response/,
    ],
    [
      "no answer at all",
      () => undefined,
      "tpm-timeout",
      /did not answer within 0.3 s \(swtpm serves one client/,
    ],
    [
      "responseSize bigger than what is sent, then silence",
      (socket) => socket.write(bytes("8001 00000020 00000000 0004 01020304")),
      "tpm-timeout",
      /did not answer within 0.3 s/,
    ],
    [
      "the connection closed mid-response",
      (socket) => socket.end(bytes("8001 00000010 0000")),
      "tpm-unreachable",
      /closed the connection mid-response \(after 8 bytes\)/,
    ],
    [
      "the connection closed before any answer",
      (socket) => socket.end(),
      "tpm-unreachable",
      /swtpm at 127\.0\.0\.1:\d+ closed the connection$/,
    ],
    [
      "the connection reset",
      (socket) => socket.resetAndDestroy(),
      "tpm-unreachable",
      /swtpm at 127\.0\.0\.1:\d+ (closed the connection|failed: )/,
    ],
  ];
  for (const [what, behave, code, message] of cases) {
    test(`${what}: ${code}`, async (t) => {
      const error = await failing(t, behave);
      assertClearError(error, TpmTransportError, code, message);
    });
  }

  test("bytes nobody asked for fail the next command instead of answering it", async (t) => {
    let connected!: () => void;
    const ready = new Promise<void>((resolve) => {
      connected = resolve;
    });
    const server = createServer((socket) => {
      socket.on("error", () => undefined);
      socket.write(RANDOM_4);
      connected();
    });
    await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1" }, resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const tpm = new Tpm(await socketTo((server.address() as { port: number }).port));
    await ready;
    await sleep(50);
    await assert.rejects(tpm.run(GetRandom, { bytesRequested: 4 }), (error) =>
      assertClearError(error, TpmTransportError, "tpm-malformed", /sent bytes nobody asked for/),
    );
    await tpm.close();
  });

  test("two sends at once on the bare transport: the second is refused, not interleaved", async (t) => {
    const port = await fakeServer(t, (socket) => setTimeout(() => socket.write(RANDOM_4), 20));
    const transport = await socketTo(port);
    const first = transport.send(GET_RANDOM_16);
    await assert.rejects(transport.send(GET_RANDOM_16), /one TPM command at a time/);
    assert.equal((await first).length, RANDOM_4.length);
    await transport.close();
    await assert.rejects(transport.send(GET_RANDOM_16), /is closed/);
  });

  test("connection refused: a clear tpm-unreachable error with a hint", async () => {
    // A port that was just free: nothing listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1" }, resolve));
    const free = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(
      settles(openTransport({ kind: "tcp", host: "127.0.0.1", port: free }, TIMEOUT_MS)),
      (error) =>
        assertClearError(
          error,
          TpmTransportError,
          "tpm-unreachable",
          new RegExp(`^cannot connect to swtpm at 127\\.0\\.0\\.1:${free}: .*(is swtpm running\\?)`),
        ),
    );
  });

  test("a Unix socket that does not exist: tpm-unreachable", async (t) => {
    const { dir } = tempDir(t);
    await assert.rejects(
      settles(openTransport({ kind: "unix", path: join(dir, "tpm.sock") }, TIMEOUT_MS)),
      (error) =>
        assertClearError(
          error,
          TpmTransportError,
          "tpm-unreachable",
          /cannot connect to swtpm at .*tpm\.sock: .*is swtpm running/,
        ),
    );
  });

  test("a device that does not exist: tpm-unreachable", async (t) => {
    const { dir } = tempDir(t);
    await assert.rejects(openTransport({ kind: "device", path: join(dir, "tpmrm0") }, TIMEOUT_MS), (error) =>
      assertClearError(
        error,
        TpmTransportError,
        "tpm-unreachable",
        /cannot open TPM device .*tpmrm0: .*\(no TPM here\?\)/,
      ),
    );
  });

  test("the checker is not vacuous: a good exchange is no error, a wrong class or code is noticed", async (t) => {
    const port = await fakeServer(t, (socket) => socket.write(RANDOM_4));
    const tpm = new Tpm(await socketTo(port));
    assert.equal((await tpm.run(GetRandom, { bytesRequested: 4 })).randomBytes.length, 4);
    await tpm.close();
    const timeout = new TpmTransportError("x did not answer", "tpm-timeout");
    assert.throws(
      () => assertClearError(timeout, TpmTransportError, "tpm-malformed", /x/),
      assert.AssertionError,
    );
    assert.throws(
      () => assertClearError(timeout, TpmResponseError, "tpm-timeout", /x/),
      assert.AssertionError,
    );
    assert.throws(
      () =>
        assertClearError(
          new TpmTransportError("two\nlines", "tpm-timeout"),
          TpmTransportError,
          "tpm-timeout",
          /two/,
        ),
      assert.AssertionError,
    );
    await assert.rejects(settles(new Promise(() => undefined), 50), /a hang/);
  });
});

describe("DeviceTransport against a fake TPM behind a pty", () => {
  // socat bridges the pty to the fake server, so the device path sees whatever the server sends.
  async function device(
    t: TestContext,
    behave: (socket: Socket, command: Buffer) => void,
    timeoutMs = TIMEOUT_MS,
  ) {
    const link = await ptyToTcp(t, await fakeServer(t, behave));
    return new Tpm(await openTransport({ kind: "device", path: link }, timeoutMs));
  }

  test("a response in one-byte parts is reassembled", async (t) => {
    const tpm = await device(t, async (socket) => {
      for (const byte of RANDOM_4) {
        socket.write(new Uint8Array([byte]));
        await sleep(2);
      }
    });
    assert.deepEqual(
      [...(await settles(tpm.run(GetRandom, { bytesRequested: 4 }))).randomBytes],
      [1, 2, 3, 4],
    );
    await settles(tpm.close());
  });

  test("never answering: tpm-timeout, and closing does not wait for the stuck read", async (t) => {
    const tpm = await device(t, () => undefined);
    await assert.rejects(settles(tpm.run(GetRandom, { bytesRequested: 4 })), (error) =>
      assertClearError(error, TpmTransportError, "tpm-timeout", /tpm0 did not answer within 0.3 s$/),
    );
    await assert.rejects(settles(tpm.run(GetRandom, { bytesRequested: 4 }), 100), /did not answer/);
    await settles(tpm.close(), 1000);
  });

  test("garbage: tpm-malformed", async (t) => {
    const tpm = await device(t, (socket) => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await assert.rejects(settles(tpm.run(GetRandom, { bytesRequested: 4 })), (error) =>
      assertClearError(error, TpmTransportError, "tpm-malformed", /claiming 1414541105 bytes/),
    );
    await settles(tpm.close(), 1000);
  });

  test("the other side going away mid-response: a clear error", async (t) => {
    // socat leaves when its TCP side closes (after its 0.5 s half-close wait), which hangs up the
    // pty: the timeout is longer than that here, so the hang-up, not the timeout, ends the read.
    const tpm = await device(t, (socket) => socket.end(bytes("8001 00000010 0000")), 3000);
    // The hang-up reaches the reader as EIO, as a device that went away would.
    await assert.rejects(settles(tpm.run(GetRandom, { bytesRequested: 4 }), 5000), (error) =>
      assertClearError(
        error,
        TpmTransportError,
        "tpm-unreachable",
        /tpm0 failed: input\/output error \(EIO\)$/,
      ),
    );
    await settles(tpm.close(), 1000);
  });
});
