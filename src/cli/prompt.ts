import { NoTerminalError, UsageError } from "../errors.js";

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
    return Promise.reject(new NoTerminalError("cannot prompt for a secret: stdin is not a terminal"));
  return new Promise((resolve, reject) => {
    // A global, unlike node:string_decoder, which every command would load for a prompt it rarely shows.
    const decoder = new TextDecoder("utf-8");
    let answer = "";
    const finish = (error: Error | null, rest = "") => {
      input.pause();
      input.off("data", onData);
      // Typed ahead (two lines pasted at once): kept for the next prompt, never dropped.
      if (rest !== "") input.unshift(Buffer.from(rest, "utf8"));
      input.setRawMode(false);
      output.write("\n");
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      const text = decoder.decode(chunk, { stream: true });
      let at = 0;
      for (const ch of text) {
        at += ch.length;
        if (ch === "\r" || ch === "\n") {
          // A terminal sends "\r" for Enter; "\r\n" (a paste) ends one line, not two.
          if (ch === "\r" && text[at] === "\n") at += 1;
          return finish(null, text.slice(at));
        }
        if (ch === "\u0003" || ch === "\u0004")
          return finish(new UsageError("cancelled at the prompt", "cancelled"));
        if (ch === "\u007f" || ch === "\b") answer = [...answer].slice(0, -1).join("");
        else if (ch >= " ") answer += ch;
      }
    };
    // No echo before the question shows: whatever is typed in answer to it is never echoed, however
    // quickly it comes.
    input.setRawMode(true);
    output.write(question);
    input.on("data", onData);
    input.resume();
  });
}

/**
 * The prompt the CLI gives a backend for a secret of its own (a token's user PIN): `label` names
 * the secret. Asked only when the backend needs it, so other commands never touch stdin; without
 * a terminal it rejects with a NoTerminalError, which the backend turns into its own advice.
 */
export function secretPrompt(output: NodeJS.WritableStream): (label: string) => Promise<string> {
  return (label) => promptHidden(`${label}: `, output);
}
