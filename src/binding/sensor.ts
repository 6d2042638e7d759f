import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { describeOsError, ExitCode, ReidError, UsageError } from "../errors.js";

/** Where the device's readings come from (`reid serve --device --sensor SPEC`). */
export interface Sensor {
  readonly name: string;
  /** One reading's value as text (at most MAX_READING bytes). */
  read(): Promise<string>;
}

export const MAX_READING = 4096;
const COMMAND_TIMEOUT_MS = 5000;

/**
 * `simulated` (a temperature that drifts), `file:PATH` (the file's content at each read, e.g. a
 * sysfs attribute such as /sys/class/thermal/thermal_zone0/temp) or `command:PATH` (the standard
 * output of running PATH without a shell or arguments).
 */
export function parseSensor(spec: string): Sensor {
  if (spec === "simulated") return simulated();
  const [kind, ...rest] = spec.split(":");
  const path = rest.join(":");
  if (kind === "file" && path) return fileSensor(path);
  if (kind === "command" && path) return commandSensor(path);
  throw new UsageError(`bad --sensor '${spec.slice(0, 64)}': expected simulated, file:PATH or command:PATH`);
}

function simulated(): Sensor {
  let step = 0;
  return {
    name: "simulated",
    async read() {
      step++;
      // A plausible room temperature: smooth, bounded, different at every read.
      return (21 + 2 * Math.sin(step / 5)).toFixed(2);
    },
  };
}

function fileSensor(path: string): Sensor {
  return {
    name: `file:${path}`,
    async read() {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (error) {
        throw failed(`cannot read sensor file ${path}: ${describeOsError(error)}`);
      }
      return bounded(text.trim());
    },
  };
}

function commandSensor(path: string): Sensor {
  return {
    name: `command:${path}`,
    read: () =>
      new Promise((resolve, reject) => {
        execFile(
          path,
          [],
          { timeout: COMMAND_TIMEOUT_MS, maxBuffer: MAX_READING, env: { PATH: process.env.PATH } },
          (error, stdout) => {
            if (error) reject(failed(`sensor command ${path} failed: ${error.message.split("\n")[0]}`));
            else resolve(bounded(stdout.trim()));
          },
        );
      }),
  };
}

function bounded(text: string): string {
  if (Buffer.byteLength(text) > MAX_READING) throw failed(`a sensor reading is at most ${MAX_READING} bytes`);
  return text;
}

function failed(message: string): ReidError {
  return new ReidError("sensor-failed", ExitCode.internal, message);
}
