import type { Operator } from "../../../registry/operator.js";
import type { RegistryArguments } from "./action.js";

/**
 * Runs `task` against the registry the operator names: the one in --dir, opened and closed here.
 * The commands see only the Operator, so asking a running server instead is a second opener.
 */
export async function withOperator<T>(
  args: RegistryArguments,
  task: (operator: Operator) => Promise<T>,
): Promise<T> {
  const [{ registryDirectory, openRegistry }, { storeOperator }] = await Promise.all([
    import("../../../registry/directory.js"),
    import("../../../registry/operator.js"),
  ]);
  const { store } = await openRegistry(registryDirectory(args.text("dir")));
  const operator = storeOperator(store);
  try {
    return await task(operator);
  } finally {
    await operator.close();
  }
}
