import type { TestContext } from "node:test";
import { openElement } from "../../src/element/element.js";
import { ElementService } from "../../src/element/service.js";
import { tempDir } from "./temp.js";

/**
 * A real element on a fresh file store, initialized, its clock in the test's hands (`wait` moves
 * it, past a wrong PIN's back-off or an unlock window's end); with `pin`, the owner's PIN is set
 * first and the init is proved with it by `principal`.
 */
export async function ownedElement(t: TestContext, pin: string | null, principal = "cli") {
  const { store } = tempDir(t);
  let time = Date.parse("2026-03-01T10:00:00Z");
  const opened = await openElement({
    storeDirectory: store,
    source: { kind: "os" },
    write: true,
    lockTimeoutMs: 1000,
    now: () => new Date(time),
  });
  const service = new ElementService(opened);
  t.after(() => service.close());
  if (pin !== null) await service.setPin(pin);
  await service.as({ principal, ...(pin === null ? {} : { credentials: { pin } }) }).submit("init");
  return { store, service, wait: (ms: number) => (time += ms) };
}
