import { StorageError } from "../../errors.js";
import { CKA, CKO } from "../../pkcs11/constants.js";
import type { ObjectHandle, Pkcs11Session } from "../../pkcs11/session.js";
import { readCounterBase, writeCounterBase } from "../counter-base.js";
import { counterGone, type RollbackCounter } from "../rollback-counter.js";
import { REID_APPLICATION } from "./objects.js";

/** The label of the counter's objects. */
export const COUNTER_LABEL = "reid-counter";
const COUNTER_SIZE = 8;

/**
 * The PKCS#11 backend's rollback counter: a private token data object `reid-counter` holding the
 * highest committed epoch (8 bytes, big-endian). A data object's value cannot be changed in place,
 * so raising it creates the new object first and then destroys the older ones: a crash leaves one
 * or two, and the highest counts, so it never reads lower than it was. An old area object written
 * back by whoever holds the user PIN is then older than the counter. The store directory's
 * rollback.json (counter-base.ts, base 0) says one was made, so a counter destroyed with the area
 * objects is refused, not taken for a store from before counters. Specified in docs/spec.md §5.10.
 */
export class TokenCounter implements RollbackCounter {
  readonly description: string;

  constructor(
    private readonly session: Pkcs11Session,
    private readonly directory: string,
  ) {
    this.description = `the counter object '${COUNTER_LABEL}' on ${session.where}`;
  }

  async highest(): Promise<number | null> {
    const found = this.objects();
    if (found.length === 0) {
      if (readCounterBase(this.directory) !== null) throw counterGone(this.directory, this.description);
      return null;
    }
    return Math.max(...found.map(({ epoch }) => epoch));
  }

  async advance(epoch: number): Promise<void> {
    const found = this.objects();
    if (found.some((object) => object.epoch >= epoch)) return;
    this.replace(found, epoch);
  }

  async restart(epoch: number): Promise<void> {
    this.replace(this.objects(), epoch);
  }

  /** Creates the object of `epoch`, then destroys the ones it replaces. */
  private replace(older: readonly { handle: ObjectHandle }[], epoch: number): void {
    const value = Buffer.alloc(COUNTER_SIZE);
    value.writeBigUInt64BE(BigInt(epoch));
    this.session.create([
      { type: CKA.CLASS, value: CKO.DATA },
      { type: CKA.TOKEN, value: true },
      { type: CKA.PRIVATE, value: true },
      { type: CKA.LABEL, value: COUNTER_LABEL },
      { type: CKA.APPLICATION, value: REID_APPLICATION },
      { type: CKA.VALUE, value },
    ]);
    for (const { handle } of older) this.session.destroy(handle);
    if (readCounterBase(this.directory) === null) writeCounterBase(this.directory, 0n);
  }

  /** reid's counter objects; anything else with the label is refused and left alone. */
  private objects(): { handle: ObjectHandle; epoch: number }[] {
    return this.session.find([{ type: CKA.LABEL, value: COUNTER_LABEL }]).map((handle) => {
      const [klass = Buffer.alloc(0)] = this.session.attributes(handle, [CKA.CLASS]);
      const isData = klass.length > 0 && klass.every((byte, i) => (i === 0 ? byte === CKO.DATA : byte === 0));
      const [application, value] = isData
        ? (this.session.attributes(handle, [CKA.APPLICATION, CKA.VALUE]) as [Buffer, Buffer])
        : [Buffer.alloc(0), Buffer.alloc(0)];
      if (!isData || application.toString("utf8") !== REID_APPLICATION || value.length !== COUNTER_SIZE) {
        throw new StorageError(
          `the object '${COUNTER_LABEL}' on ${this.session.where} is not reid's counter (a data object of application '${REID_APPLICATION}' holding 8 bytes); reid leaves it alone: remove or relabel it with the token's tools (pkcs11-tool --login --delete-object), or use another token`,
          "store-foreign",
        );
      }
      const epoch = value.readBigUInt64BE(0);
      return {
        handle,
        epoch: epoch > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(epoch),
      };
    });
  }
}
