import { UsageError } from "../../errors.js";
import { type CliContext, type Command, print, printJson } from "../context.js";

/** Which options each action takes; the others are refused rather than ignored. */
const ACTION_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  init: ["dir", "name", "host"],
  "token create": ["dir", "ttl", "label"],
};
const OPTIONS = {
  dir: { type: "string" },
  name: { type: "string" },
  host: { type: "string", multiple: true },
  ttl: { type: "string" },
  label: { type: "string" },
} as const;

export const command: Command = {
  usage:
    "reid [--json] registry init --dir DIR [--name NAME] [--host NAME...] | registry token create --dir DIR [--ttl DURATION] [--label TEXT]",
  summary:
    "The fleet registry (in progress): init makes one in a new directory (CA, TLS certificate for the hosts, default localhost and 127.0.0.1, statement key, operator token, database); token create prints a single-use enrollment token (default --ttl 24h, 1m to 90d).",
  options: OPTIONS,
  positionals: [1, 2],
  async run(context, values, positionals, lists) {
    const action = positionals.join(" ");
    const allowed = Object.hasOwn(ACTION_OPTIONS, action) ? ACTION_OPTIONS[action] : undefined;
    if (!allowed) throw new UsageError(`unknown 'reid registry' action '${action}' (init, token create)`);
    const stray = Object.keys(OPTIONS).find(
      (name) => !allowed.includes(name) && (values[name] ?? lists[name]) !== undefined,
    );
    if (stray) throw new UsageError(`option '--${stray}' does not go with 'reid registry ${action}'`);
    const text = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
    if (action === "init") return init(context, text("dir"), text("name"), lists.host);
    return tokenCreate(context, text("dir"), text("ttl"), text("label"));
  },
};

async function init(
  context: CliContext,
  dir: string | undefined,
  nameText: string | undefined,
  hostTexts: readonly string[] | undefined,
): Promise<void> {
  const [{ registryDirectory, REGISTRY_FILES }, { registryName, serverHosts }] = await Promise.all([
    import("../../registry/directory.js"),
    import("../../registry/authority.js"),
  ]);
  const directory = registryDirectory(dir);
  const name = registryName(nameText);
  const hosts = serverHosts(hostTexts);
  const { initRegistry } = await import("../../registry/init.js");
  const config = await initRegistry({ directory, name, hosts, now: new Date() });
  const file = (key: keyof typeof REGISTRY_FILES) => `${directory}/${REGISTRY_FILES[key]}`;
  const made = {
    directory,
    name,
    hosts,
    caFingerprint: config.caFingerprint,
    caCertificate: file("caCertificate"),
    serverCertificate: file("serverCertificate"),
    operatorTokenFile: file("operatorToken"),
    database: file("database"),
  };
  if (context.json) return printJson(context, made);
  const rows: [string, string][] = [
    ["registry", directory],
    ["name", name],
    ["hosts", hosts.join(", ")],
    ["ca", made.caCertificate],
    ["ca pin", `--ca-fingerprint ${config.caFingerprint}`],
    ["server", made.serverCertificate],
    ["operator", `${made.operatorTokenFile} (the operator's secret: keep it 0600)`],
    ["database", made.database],
    ["next", `reid registry token create --dir ${directory}`],
  ];
  print(context, rows.map(([key, value]) => `${key.padEnd(9)} ${value}`).join("\n"));
}

async function tokenCreate(
  context: CliContext,
  dir: string | undefined,
  ttlText: string | undefined,
  labelText: string | undefined,
): Promise<void> {
  const [{ registryDirectory, openRegistry }, { issueEnrollmentToken, tokenLabel, tokenTtlSeconds }] =
    await Promise.all([import("../../registry/directory.js"), import("../../registry/tokens.js")]);
  const directory = registryDirectory(dir);
  const ttlSeconds = tokenTtlSeconds(ttlText);
  const label = tokenLabel(labelText);
  const { store } = await openRegistry(directory);
  let issued: Awaited<ReturnType<typeof issueEnrollmentToken>>;
  try {
    issued = await issueEnrollmentToken(store, { ttlSeconds, label, now: new Date() });
  } finally {
    await store.close();
  }
  // The one place the token is shown: the operator asked for it.
  if (context.json) return printJson(context, issued);
  const rows: [string, string][] = [
    ["token", issued.token],
    ["expires", `${issued.expiresAt} (single use)`],
    ...(label === null ? [] : [["label", label] as [string, string]]),
  ];
  print(context, rows.map(([key, value]) => `${key.padEnd(7)} ${value}`).join("\n"));
}
