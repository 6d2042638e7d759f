import { connect, createServer, type Server, type Socket } from "node:net";
import type { TestContext } from "node:test";

/** One TPM command or response as it crossed the proxy. */
export interface Crossing {
  readonly direction: "command" | "response";
  /** The command's code (for a response: the code of the command it answers). */
  readonly code: number;
  readonly bytes: Uint8Array;
}

/**
 * Decides what the proxy passes on for a response: the bytes as they are, or changed. `code` is
 * the command the response answers; `index` counts responses to that code on this proxy.
 */
export type Tamper = (response: Uint8Array, code: number, index: number) => Uint8Array;

export interface TpmProxy {
  /** The --tpm spec that reaches swtpm through the proxy. */
  readonly spec: string;
  /** Everything that crossed, in order, over every connection. */
  readonly log: Crossing[];
  /** All bytes both ways, for searching. */
  traffic(): Buffer;
  tamper: Tamper | null;
  close(): Promise<void>;
}

/**
 * A TCP proxy between reid and swtpm's command port that records every byte both ways, framed as
 * TPM commands and responses (a TPM exchange is strictly one command, then its response), and can
 * change a response on its way back. Closed when the test `t` ends.
 */
export async function tpmProxy(t: TestContext, swtpmPort: number): Promise<TpmProxy> {
  const log: Crossing[] = [];
  const sockets = new Set<Socket>();
  const seen = new Map<number, number>();
  const proxy: TpmProxy = {
    spec: "",
    log,
    traffic: () => Buffer.concat(log.map((c) => c.bytes)),
    tamper: null,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((client) => {
    const upstream = connect({ host: "127.0.0.1", port: swtpmPort });
    sockets.add(client);
    sockets.add(upstream);
    let lastCode = 0;
    const fromClient = framer((command) => {
      lastCode = Buffer.from(command).readUInt32BE(6);
      log.push({ direction: "command", code: lastCode, bytes: command });
      upstream.write(command);
    });
    const fromTpm = framer((response) => {
      const index = seen.get(lastCode) ?? 0;
      seen.set(lastCode, index + 1);
      const passed = proxy.tamper ? proxy.tamper(response, lastCode, index) : response;
      log.push({ direction: "response", code: lastCode, bytes: passed });
      client.write(passed);
    });
    client.on("data", fromClient);
    upstream.on("data", fromTpm);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on("close", end);
      socket.on("error", end);
    }
  });
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("the proxy has no port");
  (proxy as { spec: string }).spec = `swtpm:host=127.0.0.1,port=${address.port}`;
  t.after(() => proxy.close());
  return proxy;
}

/** Calls `each` with every whole TPM message (the header's size field says where one ends). */
function framer(each: (message: Uint8Array) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 6 && pending.length >= pending.readUInt32BE(2)) {
      const size = pending.readUInt32BE(2);
      each(new Uint8Array(pending.subarray(0, size)));
      pending = pending.subarray(size);
    }
  };
}

/** A copy of a response with one bit of its parameter area flipped (a response with sessions). */
export function flipParameterByte(response: Uint8Array, handles = 0): Uint8Array {
  const copy = Uint8Array.from(response);
  const view = Buffer.from(copy.buffer);
  // tag, size, code (10), response handles, parameterSize (4), then the parameters.
  const at = 10 + 4 * handles;
  const size = view.readUInt32BE(at);
  if (size === 0) throw new Error("the response has no parameters to flip");
  const target = at + 4 + Math.floor(size / 2);
  copy[target] = (copy[target] as number) ^ 0x01;
  return copy;
}
