import { print } from "../../context.js";
import type { RegistryAction, RegistryArguments } from "./action.js";
import { databaseChoice, READ_DATABASE_OPTIONS } from "./database.js";
import { REMOTE_OPTIONS, remoteUrl } from "./remote.js";

/**
 * `reid registry crl`: the registry's CRL in PEM (docs/spec.md §10.7): newly signed from --dir, or
 * the one a running registry serves at /crl (no token: the CRL is public; TLS still pinned).
 */
export const action: RegistryAction = {
  options: ["dir", ...READ_DATABASE_OPTIONS, ...REMOTE_OPTIONS],
  operands: [0, 0],
  async run(context, args) {
    const url = remoteUrl(args, "crl");
    const [{ registryDirectory, openRegistry }, { loadSigner }, { currentCrl, crlPem }] = await Promise.all([
      import("../../../registry/directory.js"),
      import("../../../registry/issue.js"),
      import("../../../registry/crl.js"),
    ]);
    if (url !== undefined) return print(context, crlPem(await servedCrl(url, args)));
    const directory = registryDirectory(args.text("dir"));
    const { store } = await openRegistry(directory, databaseChoice(args));
    let pem: string;
    try {
      pem = crlPem(await currentCrl(await loadSigner(directory), store, new Date()));
    } finally {
      await store.close();
    }
    print(context, pem);
  },
};

/** GET /crl of the registry at --url: DER, kept only if the pinned CA signed it. */
async function servedCrl(url: string, args: RegistryArguments) {
  const [{ remoteRegistry }, { exchange, RegistryProtocolError }, x509] = await Promise.all([
    import("./remote.js"),
    import("../../../enrollment/est-client.js"),
    import("@peculiar/x509"),
  ]);
  const { target } = await remoteRegistry(url, args, false);
  const where = target.origin.host;
  const answer = await exchange(target, "GET", "/crl");
  if (answer.status !== 200) {
    throw new RegistryProtocolError(`the registry at ${where} answered HTTP ${answer.status} for its CRL`);
  }
  let crl: InstanceType<typeof x509.X509Crl> | null = null;
  try {
    crl = new x509.X509Crl(new Uint8Array(answer.body));
  } catch {
    // Below: one refusal for every shape of wrong.
  }
  const ca = new x509.X509Certificate(target.ca as string);
  if (!crl || !(await crl.verify({ publicKey: ca }))) {
    throw new RegistryProtocolError(`the registry at ${where} answered no CRL signed by its CA`);
  }
  return crl;
}
