import { print } from "../../context.js";
import type { RegistryAction } from "./action.js";

/** `reid registry crl`: the registry's CRL as it is now, in PEM (docs/spec.md §10.7). */
export const action: RegistryAction = {
  options: ["dir"],
  operands: [0, 0],
  async run(context, args) {
    const [{ registryDirectory, openRegistry }, { loadSigner }, { currentCrl, crlPem }] = await Promise.all([
      import("../../../registry/directory.js"),
      import("../../../registry/issue.js"),
      import("../../../registry/crl.js"),
    ]);
    const directory = registryDirectory(args.text("dir"));
    const { store } = await openRegistry(directory);
    let pem: string;
    try {
      pem = crlPem(await currentCrl(await loadSigner(directory), store, new Date()));
    } finally {
      await store.close();
    }
    print(context, pem);
  },
};
