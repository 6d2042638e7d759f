/**
 * Resolves once `out` takes more data after a write it buffered, or never will (closed, failed);
 * removes its listeners. Long outputs (random bytes, a fleet's devices) wait on it instead of
 * filling memory faster than their reader reads.
 */
export function writable(out: NodeJS.WritableStream, gone: () => boolean): Promise<void> {
  if (gone()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off("drain", done);
      out.off("close", done);
      out.off("error", done);
      resolve();
    };
    out.on("drain", done);
    out.on("close", done);
    out.on("error", done);
  });
}
