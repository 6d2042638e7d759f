/** SIGINT and SIGTERM end a follow as a success: it stops at the next page, pause or event. */
export function stopSignal() {
  const stopped = new AbortController();
  const stop = () => stopped.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    signal: stopped.signal,
    dispose() {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}
