/** A progress bar's line is drawn at most this often: a terminal need not see every batch. */
const REDRAW_MS = 100;
const WIDTH = 24;

export interface Progress {
  update(done: number, total: number): void;
  /**
   * Draws the last state and ends the line, so what is printed next starts a line of its own; once
   * (a failure's cleanup calls it again).
   */
  end(): void;
}

/**
 * A progress bar on stderr (docs/spec.md §10.6 `registry import`): devices done of the total, the
 * rate since the first update and the time left, redrawn in place. Only on a terminal: piped or
 * logged, stderr gets nothing, as a script reading it wants.
 */
export function progressBar(stderr: NodeJS.WritableStream, what: string): Progress {
  if ((stderr as { isTTY?: boolean }).isTTY !== true) return { update() {}, end() {} };
  let first: { done: number; at: number } | null = null;
  let drawnAt = 0;
  let drawnLength = 0;
  let last = { done: 0, total: 0 };
  let ended = false;
  const draw = () => {
    const { done, total } = last;
    const now = performance.now();
    first ??= { done, at: now };
    const seconds = (now - first.at) / 1000;
    const rate = seconds > 0 ? (done - first.done) / seconds : 0;
    const filled = total > 0 ? Math.round((done / total) * WIDTH) : WIDTH;
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    const eta = rate > 0 ? `ETA ${Math.ceil((total - done) / rate)} s` : "ETA -";
    const line = `${what} [${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${done}/${total} ${percent}%  ${Math.round(rate)}/s  ${eta}`;
    stderr.write(`\r${line.padEnd(drawnLength)}`);
    drawnLength = line.length;
    drawnAt = now;
  };
  return {
    update(done, total) {
      last = { done, total };
      if (first === null || performance.now() - drawnAt >= REDRAW_MS || done === total) draw();
    },
    end() {
      if (first === null || ended) return;
      ended = true;
      draw();
      stderr.write("\n");
    },
  };
}
