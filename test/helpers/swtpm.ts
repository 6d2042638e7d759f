import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { TpmAddress } from "../../src/tpm/spec.js";

/** One swtpm process of a test file: where it listens, and how to reach it from reid and tpm2-tools. */
export interface Swtpm {
  readonly address: TpmAddress;
  /** The --tpm value reid takes for it. */
  readonly spec: string;
  /** TPM2TOOLS_TCTI for tpm2-tools (TCP instances only: the swtpm TCTI needs the control port). */
  readonly tcti: string;
  readonly stateDir: string;
  readonly pid: number;
  /** Kills the process (SIGTERM, then SIGKILL) and waits for it; the state stays for restart(). */
  stop(): Promise<void>;
  /** Starts a new process on the same state and address. */
  restart(): Promise<void>;
}

export interface SwtpmOptions {
  /** "tcp" (default) listens on a free loopback port pair; "unix" on a socket in the state dir. */
  readonly transport?: "tcp" | "unix";
  /** false: the TPM waits for TPM2_Startup, as after a platform reset. */
  readonly started?: boolean;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts a real swtpm (Debian's swtpm package) for the calling test file, with its own state
 * directory and its own port pair or socket, and stops it by PID when the file's tests end.
 */
export async function startSwtpm(options: SwtpmOptions = {}): Promise<Swtpm> {
  const stateDir = mkdtempSync(join(tmpdir(), "reid-swtpm-"));
  const tpmState = join(stateDir, "state");
  mkdirSync(tpmState, { mode: 0o700 });
  const unix = options.transport === "unix";
  let port = 0;
  let address: TpmAddress;
  if (unix) {
    address = { kind: "unix", path: join(stateDir, "tpm.sock") };
  } else {
    port = await freePortPair();
    address = { kind: "tcp", host: "127.0.0.1", port };
  }
  let child: ChildProcess | null = null;

  const launch = async () => {
    const server = unix
      ? `type=unixio,path=${join(stateDir, "tpm.sock")}`
      : `type=tcp,port=${port},bindaddr=127.0.0.1`;
    const ctrl = unix
      ? `type=unixio,path=${join(stateDir, "tpm.sock.ctrl")}`
      : `type=tcp,port=${port + 1},bindaddr=127.0.0.1`;
    const flags = options.started === false ? "not-need-init" : "not-need-init,startup-clear";
    const args = [
      "socket",
      "--tpm2",
      "--tpmstate",
      `dir=${tpmState}`,
      "--server",
      server,
      "--ctrl",
      ctrl,
      "--flags",
      flags,
    ];
    const started = spawn("swtpm", args, { stdio: ["ignore", "ignore", "pipe"] });
    const errors: Buffer[] = [];
    started.stderr?.on("data", (chunk: Buffer) => errors.push(chunk));
    running.add(started);
    started.once("exit", () => running.delete(started));
    child = started;
    await waitUntilListening(address, started, () => Buffer.concat(errors).toString());
  };

  const stop = async () => {
    const current = child;
    child = null;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once("exit", resolve));
    current.kill("SIGTERM");
    const timer = setTimeout(() => current.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  const spec = unix
    ? `swtpm:path=${address.kind === "unix" ? address.path : ""}`
    : `swtpm:host=127.0.0.1,port=${port}`;
  return {
    address,
    spec,
    tcti: `swtpm:host=127.0.0.1,port=${port}`,
    stateDir,
    get pid() {
      return child?.pid ?? 0;
    },
    stop: async () => {
      await stop();
    },
    restart: async () => {
      await stop();
      await launch();
    },
  };
}

/**
 * The test file's swtpm, started on first use and stopped (its state removed) when the file's
 * tests end. Call at the top level of the file: hooks registered inside a test end with it.
 */
export function swtpmForFile(options: SwtpmOptions = {}): () => Promise<Swtpm> {
  let started: Promise<Swtpm> | null = null;
  after(async () => {
    if (!started) return;
    const swtpm = await started;
    await swtpm.stop();
    rmSync(swtpm.stateDir, { recursive: true, force: true });
  });
  return () => {
    started ??= startSwtpm(options);
    return started;
  };
}

/** Two free consecutive loopback ports below the ephemeral range (swtpm's data and control ports). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 6000);
    if ((await canListen(port)) && (await canListen(port + 1))) return port;
  }
  throw new Error("no free port pair for swtpm");
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1" }, () => server.close(() => resolve(true)));
  });
}

async function waitUntilListening(
  address: TpmAddress,
  child: ChildProcess,
  errors: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`swtpm exited ${child.exitCode}: ${errors().trim()}`);
    if (await connects(address)) return;
    if (Date.now() > deadline) throw new Error(`swtpm did not start listening: ${errors().trim()}`);
    await sleep(20);
  }
}

function connects(address: TpmAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const socket =
      address.kind === "tcp"
        ? connect({ host: address.host, port: address.port })
        : connect({ path: address.kind === "unix" ? address.path : "" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
