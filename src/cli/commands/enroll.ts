import { signingAlgorithm } from "../../element/inputs.js";
import { NoTerminalError, UsageError } from "../../errors.js";
import { type CliContext, type Command, print, printJson } from "../context.js";
import { readTextSecret } from "../key-file.js";
import { canPrompt, promptHidden } from "../prompt.js";
import { withEnrollment } from "../with-element.js";

/** `reid registry token create` makes 32 random bytes in base64url. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export const command: Command = {
  usage:
    "reid [--store DIR] [--json] enroll (URL (--ca FILE | --ca-fingerprint sha256:HEX) [--token-file FILE | --listed] [--alg ed25519|p256] [--verify [--log-key KEY]] | --status)",
  summary:
    "Enrolls this identity with a fleet registry over EST: a CSR for the derived key (CN = handle), the single-use token from 'reid registry token create' (asked for, or --token-file; --listed: none, for an element the registry's import listed, certified by its listed key alone), the issued certificate and the pinned CA kept in the store. --verify holds the answer, and every later renewal and succession, to the registry's identity log (its verifier key asked for, or --log-key NAME+ID+KEY as 'reid registry init' printed it): a registry that forks or rewrites its history is refused. --status lists the successions and retirements waiting for the registry, or refused by it.",
  options: {
    ca: { type: "string" },
    "ca-fingerprint": { type: "string" },
    "token-file": { type: "string" },
    listed: { type: "boolean" },
    alg: { type: "string" },
    status: { type: "boolean" },
    verify: { type: "boolean" },
    "log-key": { type: "string" },
  },
  positionals: [0, 1],
  async run(context, values, positionals) {
    if (values.status === true) {
      const given = ["ca", "ca-fingerprint", "token-file", "listed", "alg", "verify", "log-key"].filter(
        (name) => values[name] !== undefined,
      );
      if (positionals.length > 0 || given.length > 0)
        throw new UsageError("--status takes no URL and no other option");
      return deliveries(context);
    }
    if (positionals.length === 0)
      throw new UsageError("give the registry's URL (https://HOST:PORT), or --status");
    const algorithm = signingAlgorithm(values.alg);
    const { logKeyOption } = await import("../log-key.js");
    const logKey = await logKeyOption(values["log-key"] as string | undefined);
    if (logKey !== undefined && values.verify !== true) throw new UsageError("--log-key goes with --verify");
    const [{ enroll, registryOrigin }, { checkpointSize, writeEnrollment }, { loadLogWitness }] =
      await Promise.all([
        import("../../enrollment/enroll.js"),
        import("../../enrollment/enrollment-record.js"),
        import("../../daemon/compose.js"),
      ]);
    const origin = registryOrigin(positionals[0] ?? "");
    const { registryTrust } = await import("../registry-trust.js");
    const trust = await registryTrust(values.ca, values["ca-fingerprint"]);
    if (values.listed === true && values["token-file"] !== undefined)
      throw new UsageError("--listed enrolls without a token: it does not go with --token-file");
    const token = values.listed === true ? null : await enrollmentToken(context, values["token-file"]);
    // The owner operation `enroll` (§2.8): refused without the owner's proof before anything is sent.
    const { request, handle, generation } = await withEnrollment(context, (enrollment) =>
      enrollment.enrollmentRequest(algorithm, origin.origin),
    );
    const record = await enroll({
      origin,
      trust,
      token,
      request,
      handle,
      generation,
      algorithm,
      now: new Date(),
      ...(values.verify === true
        ? { log: { witness: loadLogWitness, ...(logKey ? { key: logKey } : {}) } }
        : {}),
    });
    writeEnrollment(context.storeDirectory, record);
    const { caCertificate: _ca, certificate: _certificate, format: _f, version: _v, log, ...rest } = record;
    const logSize = log ? checkpointSize(log) : null;
    if (context.json) return printJson(context, { ...rest, logSize });
    const rows: [string, string][] = [
      ["enrolled", record.registry],
      ["handle", `${record.handle} (generation ${record.generation}, ${record.algorithm})`],
      ["serial", record.serial],
      ["valid", `${record.notBefore} to ${record.notAfter}`],
      ["ca pin", record.caFingerprint],
      ...(logSize === null ? [] : [["log", `verified, size ${logSize}`] as [string, string]]),
      ["next", "reid cert --issued prints the certificate"],
    ];
    print(context, rows.map(([key, value]) => `${key.padEnd(9)} ${value}`).join("\n"));
  },
};

async function enrollmentToken(context: CliContext, file: unknown): Promise<string> {
  let token: string;
  if (typeof file === "string") token = readTextSecret(file, "the token file").trim();
  else if (canPrompt()) token = (await promptHidden("enrollment token: ", context.stderr)).trim();
  else throw new NoTerminalError("give the enrollment token with --token-file FILE (a 0600 file)");
  if (!TOKEN.test(token)) {
    throw new UsageError(
      "that is not an enrollment token: 43 characters, as 'reid registry token create' prints",
    );
  }
  return token;
}

/** The outbox (docs/spec.md §10.9): what waits for the registry, and what it refused. */
async function deliveries(context: CliContext): Promise<void> {
  const { readOutbox } = await import("../../enrollment/outbox.js");
  const shown = readOutbox(context.storeDirectory).map((entry) => ({
    kind: entry.kind,
    state: entry.state,
    handle: entry.handle,
    ...(entry.predecessor ? { predecessor: entry.predecessor } : {}),
    generation: entry.generation,
    registry: entry.registry,
    createdAt: entry.createdAt,
    attempts: entry.attempts,
    ...(entry.error ? { error: entry.error } : {}),
  }));
  if (context.json) return printJson(context, { deliveries: shown });
  if (shown.length === 0) return print(context, "no deliveries pending");
  const line = (entry: (typeof shown)[number]) =>
    `${entry.state.padEnd(7)} ${entry.kind.padEnd(10)} ${entry.handle} (generation ${entry.generation}) to ${entry.registry}, since ${entry.createdAt}, ${entry.attempts} attempts${entry.error ? `: ${entry.error}` : ""}`;
  print(context, shown.map(line).join("\n"));
}
