import type { ControlUnit } from "../element/control-unit.js";
import { openElement } from "../element/element.js";
import type { CliContext } from "./context.js";

/** Opens the element for one command and always closes it (zeroing the FIFO, releasing the lock). */
export async function withElement<T>(
  context: CliContext,
  access: "read" | "write",
  task: (control: ControlUnit) => Promise<T>,
): Promise<T> {
  const element = await openElement({
    storeDirectory: context.storeDirectory,
    source: context.source,
    write: access === "write",
    lockTimeoutMs: context.lockTimeoutMs,
  });
  try {
    return await task(element.control);
  } finally {
    await element.close();
  }
}
