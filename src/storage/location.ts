import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** docs/spec.md §3.1: --store, else $REID_STORE, else $XDG_DATA_HOME/reid, else ~/.local/share/reid. */
export function storeDirectory(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (option) return resolve(option);
  if (env.REID_STORE) return resolve(env.REID_STORE);
  if (env.XDG_DATA_HOME) return resolve(env.XDG_DATA_HOME, "reid");
  return join(env.HOME || homedir(), ".local", "share", "reid");
}
