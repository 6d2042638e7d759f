import { TpmTransportError } from "../errors.js";

/**
 * Everything between the client and a TPM: one command's bytes out, one response's bytes back.
 * swtpm sockets and the kernel's resource manager all speak raw TPM framing, so one interface
 * covers them; a transport that failed mid-exchange stays failed, since the TPM's state is unknown.
 */
export interface TpmTransport {
  /** For messages: "swtpm at 127.0.0.1:2321", "/dev/tpmrm0". */
  readonly description: string;
  send(command: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** TPMs answer within 4 KiB; anything claiming more than this is not a TPM response. */
export const MAX_RESPONSE_SIZE = 1 << 16;
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Collects the chunks of one response from a byte stream: the header's size field says when it is
 * complete. A size that cannot be a response, or bytes beyond it, end the exchange with an error.
 */
export class ResponseAssembler {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  private expected = -1;

  constructor(private readonly from: string) {}

  get received(): number {
    return this.length;
  }

  /** Adds a chunk; returns the whole response once complete, else null. */
  push(chunk: Uint8Array): Uint8Array | null {
    this.chunks.push(chunk);
    this.length += chunk.length;
    if (this.expected < 0 && this.length >= 6) {
      const head = this.concat();
      const size = new DataView(head.buffer, head.byteOffset).getUint32(2);
      if (size < 10 || size > MAX_RESPONSE_SIZE) {
        throw new TpmTransportError(
          `${this.from} sent a response header claiming ${size} bytes`,
          "tpm-malformed",
        );
      }
      this.expected = size;
    }
    if (this.expected < 0 || this.length < this.expected) return null;
    if (this.length > this.expected) {
      throw new TpmTransportError(
        `${this.from} sent ${this.length - this.expected} bytes beyond its response`,
        "tpm-malformed",
      );
    }
    return this.concat();
  }

  private concat(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const all = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    this.chunks.length = 0;
    this.chunks.push(all);
    return all;
  }
}
