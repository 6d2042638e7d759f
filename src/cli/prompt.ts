import { UsageError } from "../errors.js";

/**
 * Asks for a secret on the terminal without echoing it. Only when stdin is a terminal: scripts
 * give secrets by file or environment, and a prompt nobody can answer would hang them.
 */
export function canPrompt(): boolean {
  return process.stdin.isTTY === true;
}

export function promptHidden(question: string, output: NodeJS.WritableStream): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY)
    return Promise.reject(new UsageError("cannot prompt for a secret: stdin is not a terminal"));
  output.write(question);
  return new Promise((resolve, reject) => {
    let answer = "";
    const finish = (error: Error | null) => {
      input.setRawMode(false);
      input.pause();
      input.off("data", onData);
      output.write("\n");
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return finish(null);
        if (ch === "\u0003" || ch === "\u0004")
          return finish(new UsageError("cancelled at the prompt", "cancelled"));
        if (ch === "\u007f" || ch === "\b") answer = [...answer].slice(0, -1).join("");
        else if (ch >= " ") answer += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on("data", onData);
  });
}
