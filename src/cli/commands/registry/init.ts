import { print, printJson } from "../../context.js";
import { type RegistryAction, rows } from "./action.js";
import { databaseChoice } from "./database.js";

export const action: RegistryAction = {
  options: ["dir", "db", "name", "host"],
  operands: [0, 0],
  async run(context, args) {
    const [{ registryDirectory, REGISTRY_FILES }, { registryName, serverHosts }] = await Promise.all([
      import("../../../registry/directory.js"),
      import("../../../registry/authority.js"),
    ]);
    const directory = registryDirectory(args.text("dir"));
    const name = registryName(args.text("name"));
    const hosts = serverHosts(args.list("host"));
    const { db: database } = databaseChoice(args);
    const { initRegistry } = await import("../../../registry/init.js");
    const { config, logKey } = await initRegistry({ directory, name, hosts, now: new Date(), database });
    const file = (key: keyof typeof REGISTRY_FILES) => `${directory}/${REGISTRY_FILES[key]}`;
    const made = {
      directory,
      name,
      hosts,
      caFingerprint: config.caFingerprint,
      caCertificate: file("caCertificate"),
      serverCertificate: file("serverCertificate"),
      operatorTokenFile: file("operatorToken"),
      database: database?.url ?? file("database"),
      logKey,
    };
    if (context.json) return printJson(context, made);
    const text = rows(
      [
        ["registry", directory],
        ["name", name],
        ["hosts", hosts.join(", ")],
        ["ca", made.caCertificate],
        ["ca pin", `--ca-fingerprint ${config.caFingerprint}`],
        ["server", made.serverCertificate],
        ["operator", `${made.operatorTokenFile} (the operator's secret: keep it 0600)`],
        ["database", made.database],
        ["log key", logKey],
        ["next", `reid registry token create --dir ${directory}`],
      ],
      9,
    );
    print(context, text);
  },
};
