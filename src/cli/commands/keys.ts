import type { KeyAlgorithm } from "../../derive/derivation.js";
import { publicKeyPem } from "../../derive/public-key.js";
import { UsageError } from "../../errors.js";
import { type Command, print, printJson } from "../context.js";
import { withElement } from "../with-element.js";

const ALGORITHMS: readonly KeyAlgorithm[] = ["ed25519", "x25519", "p256"];

export const command: Command = {
  usage: "reid [--store DIR] [--json] keys [--pem] [--alg ed25519|x25519|p256]",
  summary: "Prints the public keys derived from the identifier (hex; --pem: SubjectPublicKeyInfo PEM).",
  options: { pem: { type: "boolean" }, alg: { type: "string" } },
  positionals: [0, 0],
  async run(context, values) {
    const chosen = values.alg === undefined ? ALGORITHMS : [algorithm(values.alg)];
    const keys = await withElement(context, "read", (element) => element.keys());
    if (values.pem) {
      const pem = chosen.map((alg) => [alg, publicKeyPem(alg, Buffer.from(keys[alg], "hex"))] as const);
      // --json promises one JSON object on stdout, so the PEM blocks go inside it.
      if (context.json) return printJson(context, { handle: keys.handle, ...Object.fromEntries(pem) });
      context.stdout.write(pem.map(([, text]) => text).join(""));
      return;
    }
    const hex = Object.fromEntries(chosen.map((alg) => [alg, keys[alg]]));
    if (context.json) return printJson(context, { handle: keys.handle, ...hex });
    print(
      context,
      [`handle   ${keys.handle}`, ...chosen.map((alg) => `${alg.padEnd(8)} ${hex[alg]}`)].join("\n"),
    );
  },
};

function algorithm(value: string | boolean): KeyAlgorithm {
  if (ALGORITHMS.includes(value as KeyAlgorithm)) return value as KeyAlgorithm;
  throw new UsageError(`bad --alg '${String(value)}': expected ed25519, x25519 or p256`);
}
