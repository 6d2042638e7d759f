import type { Operator } from "../../../registry/operator.js";
import type { RegistryArguments } from "./action.js";
import { databaseChoice } from "./database.js";
import { remoteUrl } from "./remote.js";

/**
 * Runs `task` against the registry the operator names: the one in --dir, opened and closed here,
 * or the one serving at --url, asked over HTTPS. The commands see only the Operator, and print
 * the same either way.
 */
export async function withOperator<T>(
  args: RegistryArguments,
  action: string,
  task: (operator: Operator) => Promise<T>,
): Promise<T> {
  const url = remoteUrl(args, action);
  const operator = url === undefined ? await localOperator(args) : await httpsOperator(url, args);
  try {
    return await task(operator);
  } finally {
    await operator.close();
  }
}

async function localOperator(args: RegistryArguments): Promise<Operator> {
  const [{ registryDirectory, openRegistry }, { storeOperator }] = await Promise.all([
    import("../../../registry/directory.js"),
    import("../../../registry/operator.js"),
  ]);
  const { store } = await openRegistry(registryDirectory(args.text("dir")), databaseChoice(args));
  return storeOperator(store);
}

async function httpsOperator(url: string, args: RegistryArguments): Promise<Operator> {
  const [{ remoteRegistry }, { remoteOperator }, { followStream }] = await Promise.all([
    import("./remote.js"),
    import("../../../registry/api/remote.js"),
    import("./follow-stream.js"),
  ]);
  const { target, transport, stream } = await remoteRegistry(url, args, true);
  return remoteOperator(
    transport,
    async () => {},
    (after, options) => followStream(stream, target.origin.host, after, options),
  );
}
