import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { tempDir } from "./temp.js";

/**
 * A pty whose other side socat connects to a TCP port: it stands in for a TPM character device
 * (/dev/tpmrm0) where there is none. Raw and without echo it passes every byte unchanged, as the
 * device does. socat is stopped by its PID when the test ends; returns the pty's path.
 */
export async function ptyToTcp(t: TestContext, port: number): Promise<string> {
  const { dir } = tempDir(t, "reid-pty-");
  const link = join(dir, "tpm0");
  const socat = spawn("socat", [`PTY,link=${link},raw,echo=0`, `TCP:127.0.0.1:${port}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const errors: Buffer[] = [];
  socat.stderr?.on("data", (chunk: Buffer) => errors.push(chunk));
  const exited = new Promise<void>((resolve) => socat.once("exit", () => resolve()));
  t.after(async () => {
    if (socat.exitCode === null && socat.signalCode === null) socat.kill("SIGTERM");
    await exited;
  });
  for (const started = Date.now(); !existsSync(link); await sleep(10)) {
    if (socat.exitCode !== null || Date.now() - started > 5000) {
      throw new Error(`socat made no pty: ${Buffer.concat(errors).toString().trim()}`);
    }
  }
  return link;
}
