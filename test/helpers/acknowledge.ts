// The reset loops' acknowledgement: a plain write(2) to fd 1, so once a line is in the pipe the
// reset before it has returned, and a reset that is still running has not been acknowledged.
import { writeSync } from "node:fs";

/** Writes all of `text` to stdout before returning, retrying if the pipe is momentarily full. */
export function acknowledge(text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(1, bytes, done, bytes.length - done);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The reader is gone (`reset-loop DIR | head`): nobody is left to acknowledge to.
      if (code === "EPIPE") process.exit(0);
      if (code !== "EAGAIN") throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}
