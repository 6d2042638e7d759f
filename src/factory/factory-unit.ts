import { StateError, UsageError } from "../errors.js";
import type { Tpm } from "../tpm/tpm.js";
import type { FactoryKind, FactorySource } from "./factory-source.js";
import { type Provisioning, readProvisioning, writeProvisioning } from "./provisioning.js";
import type { PufConditions } from "./puf/sram-puf.js";

export interface FactoryOptions {
  /** The simulated PUF's operating conditions; else REID_PUF_SIM, else the defaults. */
  readonly pufConditions?: PufConditions;
  /** Where the host identity is read; else REID_HOST_ID_FILE, else machine-id and the DMI product UUID. */
  readonly hostIdFiles?: readonly string[];
}

/**
 * The factory side of the element (the patent's PUF circuitry): which factory source the element
 * was provisioned with, provisioning it (init --factory), and its root when the mode switch asks
 * for the factory identity. Each source loads only when used.
 * Specified in docs/spec.md §2.4.
 */
export class FactoryUnit {
  constructor(
    private readonly storeDirectory: string,
    /** The element's TPM (the TPM backend), if any. */
    private readonly tpm: Tpm | null,
    private readonly options: FactoryOptions = {},
  ) {}

  /** The factory source and format this element was provisioned with, or null. */
  provisioned(): Provisioning | null {
    return readProvisioning(this.storeDirectory);
  }

  /**
   * Provisions `provisioning.kind` (a PUF enrols, keeping helper data in the store) and remembers
   * it with the format, durably, before any identifier is committed from it.
   */
  async provision(provisioning: Provisioning): Promise<void> {
    await (await this.source(provisioning.kind)).provision();
    writeProvisioning(this.storeDirectory, provisioning);
  }

  /** The provisioned source's factory root (32 bytes; the caller zeroes it) and the factory format. */
  async root(): Promise<{ root: Uint8Array; format: Provisioning["format"] }> {
    const provisioning = this.provisioned();
    if (provisioning === null) {
      throw new StateError(
        "no-factory-identity",
        "this element has no factory identity: it was never initialized with 'reid init --factory puf-sim|tpm|host'",
      );
    }
    return { root: await (await this.source(provisioning.kind)).root(), format: provisioning.format };
  }

  private async source(kind: FactoryKind): Promise<FactorySource> {
    switch (kind) {
      case "puf-sim": {
        const { PufSimSource, parsePufConditions } = await import("./puf/puf-sim-source.js");
        const conditions = this.options.pufConditions ?? parsePufConditions(process.env.REID_PUF_SIM);
        return new PufSimSource(this.storeDirectory, conditions);
      }
      case "host": {
        const { HostSource, hostIdFiles } = await import("./host/host-source.js");
        return new HostSource(this.options.hostIdFiles ?? hostIdFiles(process.env.REID_HOST_ID_FILE));
      }
      case "tpm": {
        if (!this.tpm)
          throw new UsageError("the tpm factory source needs a TPM: give --tpm SPEC (or REID_TPM)");
        const { TpmFactorySource } = await import("./tpm/tpm-factory-source.js");
        return new TpmFactorySource(this.tpm);
      }
    }
  }
}
