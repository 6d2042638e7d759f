// The secret-file readers live beside the storage backends, which read their own secrets (a token's
// user PIN) when they open; the CLI reads keys and PINs the same way.
export { readKeyFile, readSecretFile, readTextSecret } from "../storage/secret-file.js";
