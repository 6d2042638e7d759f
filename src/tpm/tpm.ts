import { setTimeout as sleep } from "node:timers/promises";
import {
  type CommandInput,
  type CommandOutput,
  type CommandSpec,
  handlesOf,
  marshalCommand,
  responseCode,
  unmarshalResponse,
} from "./command.js";
import { Startup } from "./commands/startup.js";
import { TPM_SU } from "./constants.js";
import { RC_INITIALIZE, RC_NV_RATE, RETRYABLE } from "./response-code.js";
import type { TpmTransport } from "./transport/transport.js";

const MAX_RETRIES = 50;

/**
 * A TPM reached through one transport. Commands run one at a time in the order called (a TPM
 * interleaves nothing), warnings that mean "try again" are retried, and a TPM that was never
 * started gets TPM2_Startup(CLEAR) first, as a platform without firmware (swtpm) needs.
 */
export class Tpm {
  private queue: Promise<unknown> = Promise.resolve();
  private started = false;

  constructor(readonly transport: TpmTransport) {}

  get description(): string {
    return this.transport.description;
  }

  run<C extends CommandSpec>(spec: C, input: CommandInput<C>): Promise<CommandOutput<C>> {
    const result = this.queue.then(() => this.execute(spec, input));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): Promise<void> {
    const closing = this.queue.then(() => this.transport.close());
    this.queue = closing.catch(() => undefined);
    return closing;
  }

  private async execute<C extends CommandSpec>(spec: C, input: CommandInput<C>): Promise<CommandOutput<C>> {
    const command = marshalCommand(spec, input);
    try {
      for (let attempt = 0; ; attempt++) {
        const response = await this.transport.send(command);
        const rc = responseCode(response, spec.name);
        if (rc === RC_INITIALIZE && !this.started && spec.code !== Startup.code) {
          this.started = true;
          await this.execute(Startup, { startupType: TPM_SU.CLEAR });
          continue;
        }
        if (RETRYABLE.has(rc) && attempt < MAX_RETRIES) {
          // NV_RATE: the TPM protects its NV from wear; it asks for a pause, not an instant retry.
          await sleep(rc === RC_NV_RATE ? 20 * (attempt + 1) : 1);
          continue;
        }
        try {
          return unmarshalResponse(spec, response, handlesOf(spec, input));
        } finally {
          response.fill(0);
        }
      }
    } finally {
      // Commands carry passwords and NV data.
      command.fill(0);
    }
  }
}
