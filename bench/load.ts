import { since } from "./stats.js";

/**
 * `count` calls of `call(i)` from `clients` callers at once, after `warm` of them (connections made
 * and the server's code hot before the clock starts): calls a second. A call that does not answer
 * 200 fails the run, with the statuses seen. `started` is called as the clock starts (after the warm-up).
 */
export async function storm(
  count: number,
  warm: number,
  clients: number,
  call: (i: number) => Promise<number>,
  started: () => void = () => {},
): Promise<number> {
  await Promise.all(Array.from({ length: warm }, (_, i) => call(i)));
  let next = warm;
  const refused: number[] = [];
  started();
  const clock = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) {
        const status = await call(i);
        if (status !== 200) refused.push(status);
      }
    }),
  );
  const rate = (count - warm) / since(clock);
  if (refused.length > 0) throw new Error(`${refused.length} refused (statuses ${[...new Set(refused)]})`);
  return rate;
}
