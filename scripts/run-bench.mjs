// Builds the CLI and runs every figure bench in bench/ (bench/torture.ts runs on its own: it is long).
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const steps = [
  ["scripts/build.mjs"],
  ["--import", "tsx", "bench/reset.ts"],
  ["--import", "tsx", "bench/random.ts"],
  ["--import", "tsx", "bench/startup.ts"],
  ["--import", "tsx", "bench/derive.ts"],
  ["--import", "tsx", "bench/daemon.ts"],
  ["--import", "tsx", "bench/tpm.ts"],
  ["--import", "tsx", "bench/binding.ts"],
  ["--import", "tsx", "bench/puf.ts"],
];
for (const args of steps) {
  if (args[0] !== "scripts/build.mjs") console.log(`\n== ${args.at(-1)}`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
