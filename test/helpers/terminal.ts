import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { finished } from "./process.js";

/** Output of a command run on a terminal; `answers` are typed, each once its prompt has shown. */
interface TerminalRun {
  readonly code: number | null;
  /** Everything the terminal showed, with "\r\n" as "\n". */
  readonly screen: string;
}

/**
 * Runs `command` (argv) on a pseudo-terminal made by util-linux `script`, which copies what we
 * write to its stdin onto the terminal, and what the terminal shows (echo included) to its stdout.
 * Each answer is sent only after its prompt has appeared after the previous one.
 */
export function onTerminal(
  command: readonly string[],
  answers: readonly (readonly [prompt: string, typed: string])[],
  env: NodeJS.ProcessEnv,
): Promise<TerminalRun> {
  const quoted = command.map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(" ");
  const child = spawn("script", ["-qec", quoted, "/dev/null"], {
    env: { PATH: process.env.PATH, HOME: "/nonexistent-home", TERM: "dumb", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let screen = "";
  let from = 0;
  let next = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    screen += chunk.toString("utf8");
    while (next < answers.length) {
      const [prompt, typed] = answers[next] as readonly [string, string];
      const at = screen.indexOf(prompt, from);
      if (at === -1) break;
      from = at + prompt.length;
      next++;
      child.stdin.write(typed);
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return finished(child).then(({ code }) => {
    clearTimeout(timer);
    child.stdin.destroy();
    assert.equal(next, answers.length, `not every prompt appeared; the terminal showed:\n${screen}`);
    return { code, screen: screen.replaceAll("\r\n", "\n") };
  });
}
