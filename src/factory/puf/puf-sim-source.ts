import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { describeOsError, FactoryError, StorageError, UsageError } from "../../errors.js";
import { readOptionalFile, replaceFile } from "../../storage/durable-file.js";
import type { FactorySource } from "../factory-source.js";
import { factoryDirectory } from "../provisioning.js";
import { enrol, type HelperData, RESPONSE_BITS, reproduce } from "./fuzzy-extractor.js";
import { type PufConditions, SimulatedSramPuf } from "./sram-puf.js";

/** The simulated chip's bit-error rate when REID_PUF_SIM does not say. */
export const DEFAULT_BIT_ERROR_RATE = 0.05;
const SILICON_FILE = "puf-sim-silicon";
const HELPER_FILE = "puf-sim-helper.json";
const HELPER_VERSION = "golay24-rep11x11/v1";

/**
 * The factory source of a simulated SRAM PUF. The simulated chip (its device seed, the stand-in
 * for silicon) is made once and kept in the store's factory folder (0600); its helper data (the
 * code offset and check value, public) beside it. Operating conditions come from `conditions`
 * (the CLI reads them from REID_PUF_SIM, e.g. "ber=0.1,temperature=-20,age=5").
 */
export class PufSimSource implements FactorySource {
  readonly kind = "puf-sim" as const;

  constructor(
    private readonly storeDirectory: string,
    private readonly conditions: PufConditions = { bitErrorRate: DEFAULT_BIT_ERROR_RATE },
  ) {}

  async provision(): Promise<void> {
    if (this.readHelper() !== null) return;
    const puf = this.chip(true);
    const response = puf.readForEnrolment();
    puf.close();
    const { helper, root } = enrol(response);
    response.fill(0);
    root.fill(0);
    const text = JSON.stringify({
      code: HELPER_VERSION,
      offset: Buffer.from(helper.offset).toString("hex"),
      check: Buffer.from(helper.check).toString("hex"),
    });
    this.write(HELPER_FILE, `${text}\n`);
  }

  async root(): Promise<Uint8Array> {
    const helper = this.readHelper();
    if (helper === null) {
      throw new FactoryError("the simulated PUF was never enrolled: run 'reid init --factory puf-sim'");
    }
    const puf = this.chip(false);
    const reading = puf.read();
    puf.close();
    try {
      return reproduce(reading, helper);
    } finally {
      reading.fill(0);
    }
  }

  private chip(create: boolean): SimulatedSramPuf {
    const path = join(factoryDirectory(this.storeDirectory), SILICON_FILE);
    let text = this.read(SILICON_FILE);
    if (text === null) {
      if (!create) throw new FactoryError(`the simulated PUF chip is missing (${path})`, "puf-missing");
      const seed = randomBytes(32);
      text = `${seed.toString("hex")}\n`;
      seed.fill(0);
      this.write(SILICON_FILE, text);
    }
    if (!/^[0-9a-f]{64}\n?$/.test(text)) throw new StorageError(`${path} is corrupt`, "store-corrupt");
    const seed = Buffer.from(text.trim(), "hex");
    try {
      return new SimulatedSramPuf(seed, RESPONSE_BITS, this.conditions);
    } finally {
      seed.fill(0);
    }
  }

  private readHelper(): HelperData | null {
    const text = this.read(HELPER_FILE);
    if (text === null) return null;
    const path = join(factoryDirectory(this.storeDirectory), HELPER_FILE);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new StorageError(`${path} is corrupt: not JSON`, "store-corrupt");
    }
    const { code, offset, check } = (parsed ?? {}) as Record<string, unknown>;
    const offsetHex = new RegExp(`^[0-9a-f]{${2 * Math.ceil(RESPONSE_BITS / 8)}}$`);
    if (code !== HELPER_VERSION || typeof offset !== "string" || typeof check !== "string") {
      throw new StorageError(`${path} is corrupt: unknown helper data`, "store-corrupt");
    }
    if (!offsetHex.test(offset) || !/^[0-9a-f]{64}$/.test(check)) {
      throw new StorageError(`${path} is corrupt: bad helper data`, "store-corrupt");
    }
    return { offset: Buffer.from(offset, "hex"), check: Buffer.from(check, "hex") };
  }

  private read(name: string): string | null {
    const path = join(factoryDirectory(this.storeDirectory), name);
    try {
      return readOptionalFile(path);
    } catch (error) {
      throw new StorageError(`cannot read ${path}: ${describeOsError(error)}`);
    }
  }

  private write(name: string, text: string): void {
    const path = join(factoryDirectory(this.storeDirectory), name);
    try {
      replaceFile(path, text);
    } catch (error) {
      throw new StorageError(`cannot write ${path}: ${describeOsError(error)}`);
    }
  }
}

/** REID_PUF_SIM: "ber=R[,temperature=C][,age=Y]" (the simulated chip's operating conditions). */
export function parsePufConditions(text: string | undefined): PufConditions {
  if (text === undefined || text === "") return { bitErrorRate: DEFAULT_BIT_ERROR_RATE };
  const fields: Record<string, number> = {};
  for (const part of text.split(",")) {
    const match = /^(ber|temperature|age)=(-?\d+(?:\.\d+)?)$/.exec(part.trim());
    if (!match) {
      throw new UsageError(
        `bad REID_PUF_SIM '${text.slice(0, 64)}': expected ber=R[,temperature=C][,age=Y], e.g. ber=0.1,temperature=-20`,
      );
    }
    fields[match[1] as string] = Number(match[2]);
  }
  const ber = fields.ber ?? DEFAULT_BIT_ERROR_RATE;
  const temperatureC = fields.temperature ?? 25;
  const ageYears = fields.age ?? 0;
  if (!(ber >= 0 && ber <= 0.5) || temperatureC < -273 || temperatureC > 300 || ageYears < 0) {
    throw new UsageError(
      `bad REID_PUF_SIM '${text.slice(0, 64)}': ber in 0..0.5, temperature in -273..300, age >= 0`,
    );
  }
  return { bitErrorRate: ber, temperatureC, ageYears };
}
