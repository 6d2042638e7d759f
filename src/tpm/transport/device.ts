import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { describeOsError } from "../../errors.js";
import { TpmTransportError } from "../errors.js";
import { DEFAULT_TIMEOUT_MS, MAX_RESPONSE_SIZE, ResponseAssembler, type TpmTransport } from "./transport.js";

/**
 * A TPM character device: the kernel's resource manager /dev/tpmrm0 (which swaps contexts so many
 * clients can share the TPM) or /dev/tpm0. One write is one command; reads return the response,
 * possibly in parts on other character devices, so they repeat until the header's size is met.
 */
export class DeviceTransport implements TpmTransport {
  private failure: Error | null = null;
  private busy = false;
  /** A read that timed out is still blocked in the thread pool; closing must not wait for it. */
  private stalled = false;

  private constructor(
    private readonly file: FileHandle,
    readonly description: string,
    private readonly timeoutMs: number,
  ) {}

  static async open(path: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<DeviceTransport> {
    try {
      const file = await open(path, constants.O_RDWR | constants.O_NOCTTY);
      return new DeviceTransport(file, path, timeoutMs);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const advice =
        code === "EACCES"
          ? " (the tss group may read and write it)"
          : code === "ENOENT"
            ? " (no TPM here?)"
            : "";
      throw new TpmTransportError(`cannot open TPM device ${path}: ${describeOsError(error)}${advice}`);
    }
  }

  async send(command: Uint8Array): Promise<Uint8Array> {
    if (this.failure) throw this.failure;
    if (this.busy) throw new Error("one TPM command at a time");
    this.busy = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.stalled = true;
        reject(
          new TpmTransportError(
            `${this.description} did not answer within ${this.timeoutMs / 1000} s`,
            "tpm-timeout",
          ),
        );
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([this.exchange(command), timeout]);
    } catch (error) {
      this.failure = error instanceof TpmTransportError ? error : this.describe(error);
      throw this.failure;
    } finally {
      clearTimeout(timer);
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    this.failure ??= new TpmTransportError(`${this.description} is closed`);
    // FileHandle.close() waits for pending reads: after a timeout that may be forever (a TPM or
    // bridge that never answers), so the handle is then closed in the background.
    const closing = this.file.close().catch(() => undefined);
    if (!this.stalled) await closing;
  }

  private async exchange(command: Uint8Array): Promise<Uint8Array> {
    let written = 0;
    while (written < command.length) {
      const { bytesWritten } = await this.file.write(command, written, command.length - written, null);
      written += bytesWritten;
    }
    const assembler = new ResponseAssembler(this.description);
    for (;;) {
      const buffer = new Uint8Array(MAX_RESPONSE_SIZE);
      const { bytesRead } = await this.file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) {
        throw new TpmTransportError(
          `${this.description} ended the response after ${assembler.received} bytes`,
          "tpm-malformed",
        );
      }
      const response = assembler.push(buffer.subarray(0, bytesRead));
      if (response) return response;
    }
  }

  private describe(error: unknown): TpmTransportError {
    return new TpmTransportError(`${this.description} failed: ${describeOsError(error)}`);
  }
}
