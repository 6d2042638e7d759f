// SoftHSM2 for the PKCS#11 backend's tests: a private token directory per test file (its own
// SOFTHSM2_CONF), fresh tokens in it on demand, and OpenSC's pkcs11-tool as the independent
// client. Nothing here imports reid: what the helpers see, reid did not arrange.
import { spawn } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { finished } from "./process.js";

/** Debian's softhsm2 package puts its module here. */
export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

/** One test file's SoftHSM2: its configuration, token directory, and the environment naming them. */
export interface SoftHsm {
  readonly conf: string;
  readonly tokenDir: string;
  /** What a child needs to see this file's tokens: SOFTHSM2_CONF (and PATH). */
  readonly env: NodeJS.ProcessEnv;
  /** A new initialized token with its own label, user PIN (also in a 0600 file) and SO PIN. */
  token(): Promise<SoftHsmToken>;
}

export interface SoftHsmToken {
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** A 0600 file holding the user PIN. */
  readonly pinFile: string;
  /** The --pkcs11 text for this token, with pin-file=. */
  readonly spec: string;
  /** Runs pkcs11-tool on this token (module and token label given); fails unless it exits 0. */
  tool(args: readonly string[]): Promise<Buffer>;
  /** Like tool(), logged in as the user. */
  userTool(args: readonly string[]): Promise<Buffer>;
}

/**
 * The test file's SoftHSM2, made on first use: a temporary directory holding softhsm2.conf (file
 * object store, the token directory beside it) whose path this process's SOFTHSM2_CONF names
 * from then on, so the module loaded in-process sees the same tokens as pkcs11-tool in a child.
 * Removed when the file's tests end. Call at the top level of the file.
 */
export function softhsmForFile(): () => Promise<SoftHsm> {
  let made: SoftHsm | null = null;
  let root: string | null = null;
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });
  return async () => {
    if (made) return made;
    root = mkdtempSync(join(tmpdir(), "reid-softhsm-"));
    chmodSync(root, 0o700);
    const tokenDir = join(root, "tokens");
    mkdirSync(tokenDir, { mode: 0o700 });
    const conf = join(root, "softhsm2.conf");
    writeFileSync(
      conf,
      `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`,
      {
        mode: 0o600,
      },
    );
    process.env.SOFTHSM2_CONF = conf;
    const env = { PATH: process.env.PATH, SOFTHSM2_CONF: conf };
    const dir = root;
    let count = 0;
    made = {
      conf,
      tokenDir,
      env,
      token: async () => {
        count++;
        const label = `reid-test-${count}`;
        const pin = `user-${count}-${Math.random().toString(36).slice(2, 10)}`;
        const soPin = `so-${count}-${Math.random().toString(36).slice(2, 10)}`;
        await run(
          "softhsm2-util",
          ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin],
          env,
        );
        const pinFile = join(dir, `${label}.pin`);
        writeFileSync(pinFile, pin, { mode: 0o600 });
        const base = ["--module", SOFTHSM_MODULE, "--token-label", label];
        return {
          label,
          pin,
          soPin,
          pinFile,
          spec: `module=${SOFTHSM_MODULE},token=${label},pin-file=${pinFile}`,
          tool: (args) => run("pkcs11-tool", [...base, ...args], env),
          userTool: (args) => run("pkcs11-tool", [...base, "--login", "--pin", pin, ...args], env),
        };
      },
    };
    return made;
  };
}

async function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Buffer> {
  const result = await finished(spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] }));
  if (result.code !== 0) {
    throw new Error(`${command} ${args[0]} ... exited ${result.code}: ${result.stderr.toString().trim()}`);
  }
  return result.stdout;
}

/** Every file under SoftHSM's token directory, read whole (to scan what the token keeps on disk). */
export function tokenFiles(softhsm: SoftHsm): { path: string; bytes: Buffer }[] {
  const files: { path: string; bytes: Buffer }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push({ path, bytes: readFileSync(path) });
    }
  };
  walk(softhsm.tokenDir);
  return files;
}
