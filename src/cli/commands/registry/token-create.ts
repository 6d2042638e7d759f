import { print, printJson } from "../../context.js";
import { type RegistryAction, rows } from "./action.js";

export const action: RegistryAction = {
  options: ["dir", "ttl", "label"],
  operands: [0, 0],
  async run(context, args) {
    const [{ registryDirectory, openRegistry }, { issueEnrollmentToken, tokenLabel, tokenTtlSeconds }] =
      await Promise.all([import("../../../registry/directory.js"), import("../../../registry/tokens.js")]);
    const directory = registryDirectory(args.text("dir"));
    const ttlSeconds = tokenTtlSeconds(args.text("ttl"));
    const label = tokenLabel(args.text("label"));
    const { store } = await openRegistry(directory);
    let issued: Awaited<ReturnType<typeof issueEnrollmentToken>>;
    try {
      issued = await issueEnrollmentToken(store, { ttlSeconds, label, now: new Date() });
    } finally {
      await store.close();
    }
    // The one place the token is shown: the operator asked for it.
    if (context.json) return printJson(context, issued);
    const entries: [string, string][] = [
      ["token", issued.token],
      ["expires", `${issued.expiresAt} (single use)`],
    ];
    if (label !== null) entries.push(["label", label]);
    print(context, rows(entries, 7));
  },
};
