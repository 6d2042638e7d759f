import { connect, type Socket } from "node:net";
import { describeOsError } from "../../errors.js";
import { TpmTransportError } from "../errors.js";
import { DEFAULT_TIMEOUT_MS, ResponseAssembler, type TpmTransport } from "./transport.js";

export type SocketAddress = { readonly host: string; readonly port: number } | { readonly path: string };

/**
 * swtpm's server socket (TCP or Unix), which carries raw TPM commands. swtpm serves one client at
 * a time and queues the rest, so a connection that is accepted but never answered is a TPM busy
 * with another client: the timeout says so instead of waiting forever.
 */
export class SocketTransport implements TpmTransport {
  private pending: {
    assembler: ResponseAssembler;
    resolve(bytes: Uint8Array): void;
    reject(error: Error): void;
  } | null = null;
  private failure: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly description: string,
    private readonly timeoutMs: number,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (error) => this.fail(this.describe(error)));
    socket.on("close", () => this.fail(new TpmTransportError(`${this.description} closed the connection`)));
  }

  static connect(address: SocketAddress, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<SocketTransport> {
    const description =
      "path" in address ? `swtpm at ${address.path}` : `swtpm at ${address.host}:${address.port}`;
    return new Promise((resolve, reject) => {
      const socket = connect(
        "path" in address ? { path: address.path } : { host: address.host, port: address.port },
      );
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new TpmTransportError(`cannot connect to ${description}: no answer within ${timeoutMs / 1000} s`),
        );
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        socket.setNoDelay(true);
        resolve(new SocketTransport(socket, description, timeoutMs));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(
          new TpmTransportError(`cannot connect to ${description}: ${describeOsError(error)}${hint(error)}`),
        );
      });
    });
  }

  send(command: Uint8Array): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error("one TPM command at a time"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new TpmTransportError(
            `${this.description} did not answer within ${this.timeoutMs / 1000} s (swtpm serves one client at a time: is another program connected?)`,
            "tpm-timeout",
          ),
        );
      }, this.timeoutMs);
      this.pending = {
        assembler: new ResponseAssembler(this.description),
        resolve: (bytes) => {
          clearTimeout(timer);
          resolve(bytes);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.socket.write(command);
    });
  }

  close(): Promise<void> {
    this.fail(new TpmTransportError(`the connection to ${this.description} is closed`));
    return new Promise((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.end(resolve);
      this.socket.destroySoon();
    });
  }

  private receive(chunk: Buffer): void {
    const pending = this.pending;
    if (!pending) {
      this.fail(new TpmTransportError(`${this.description} sent bytes nobody asked for`, "tpm-malformed"));
      return;
    }
    try {
      // The chunk itself, not a copy: the client zeroes a response once it has read it.
      const response = pending.assembler.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      if (!response) return;
      this.pending = null;
      pending.resolve(response);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    const pending = this.pending;
    this.pending = null;
    if (pending) {
      const got = pending.assembler.received;
      pending.reject(
        error.message.includes("closed the connection") && got > 0
          ? new TpmTransportError(
              `${this.description} closed the connection mid-response (after ${got} bytes)`,
            )
          : error,
      );
    }
    this.socket.destroy();
  }

  private describe(error: Error): TpmTransportError {
    return new TpmTransportError(`connection to ${this.description} failed: ${describeOsError(error)}`);
  }
}

function hint(error: NodeJS.ErrnoException): string {
  return error.code === "ECONNREFUSED" || error.code === "ENOENT" ? " (is swtpm running?)" : "";
}
