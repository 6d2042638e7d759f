import type { ControlUnit } from "../element/control-unit.js";
import { openElement } from "../element/element.js";
import type { CliContext } from "./context.js";
import { readKeyFile } from "./key-file.js";

/** Opens the element for one command and always closes it (zeroing the FIFO, releasing the lock). */
export async function withElement<T>(
  context: CliContext,
  access: "read" | "write",
  task: (control: ControlUnit) => Promise<T>,
): Promise<T> {
  const kek = context.kekFile ? readKeyFile(context.kekFile, "key-encryption key file") : null;
  let element: Awaited<ReturnType<typeof openElement>>;
  try {
    element = await openElement({
      storeDirectory: context.storeDirectory,
      source: context.source,
      write: access === "write",
      lockTimeoutMs: context.lockTimeoutMs,
      kek,
    });
  } finally {
    // The sealer keeps its own copy inside a KeyObject.
    kek?.fill(0);
  }
  try {
    return await task(element.control);
  } finally {
    await element.close();
  }
}
