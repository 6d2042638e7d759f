// CPU time of the processes a registry bench runs, read from Linux's /proc: on a machine whose
// cores the database, the nodes and the clients share, what one enrollment costs summed over all of
// them says more than a rate another program's load moves.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks a second of /proc's times (USER_HZ: 100 on every Linux reid runs on). */
const TICKS = 100;

interface Stat {
  readonly ppid: number;
  /** utime + stime: the process's own CPU, all its threads, in seconds. */
  readonly own: number;
  /** cutime + cstime: that of its children it has waited for (those that ended), in seconds. */
  readonly children: number;
}

function stat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name is in parentheses and may hold spaces: the fields count from after it.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const at = (field: number) => Number(fields[field - 3]);
  return { ppid: at(4), own: (at(14) + at(15)) / TICKS, children: (at(16) + at(17)) / TICKS };
}

function processes(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** The postmaster listening on `port`: the `postgres` process started with `-p PORT`. */
function postmaster(port: number): number {
  for (const pid of processes()) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const flag = argv.indexOf("-p");
    if (argv[0]?.endsWith("/postgres") && argv[flag + 1] === String(port)) return pid;
  }
  throw new Error(`no PostgreSQL server on port ${port}`);
}

/**
 * Seconds of CPU so far: of each process in `pids` (with its threads: a node's certifying thread
 * counts as the node), and of the PostgreSQL server on `port` whole (its postmaster, every
 * backend and helper alive, and those that ended, which the postmaster has reaped).
 */
export function cpuSeconds(pids: readonly number[], port: number): { nodes: number; postgres: number } {
  const nodes = pids.reduce((sum, pid) => sum + (stat(pid)?.own ?? 0), 0);
  const master = postmaster(port);
  let postgres = 0;
  for (const pid of processes()) {
    const found = stat(pid);
    if (pid === master && found) postgres += found.own + found.children;
    else if (found?.ppid === master) postgres += found.own;
  }
  return { nodes, postgres };
}

/** This process's CPU so far, in seconds: the clients'. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
