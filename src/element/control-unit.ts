import { StateError } from "../errors.js";
import { formatName } from "../format/format.js";
import { EraseIncompleteError, type IdentifierStore, type LoadOptions } from "../storage/identifier-store.js";
import type { RecordInfo } from "../storage/record.js";
import type { ProcessingUnit } from "./processing-unit.js";
import type { Notification, Request, RequestType } from "./request.js";

export interface ElementStatus {
  readonly state: RecordInfo["state"];
  readonly generation: number;
  readonly handle: string | null;
  /** random (TRNG) mode; factory (PUF) mode arrives with the mode switch. */
  readonly mode: "random";
  readonly source: string;
  readonly format: string;
  readonly scheduled: readonly unknown[];
  readonly store: string;
  /** "typed": init, reset and erase as asked; "single-type": every request is a reset. */
  readonly requests: "typed" | "single-type";
  /** Whether the identifier is stored sealed under a key-encryption key. */
  readonly sealed: boolean;
}

export type Listener = (notification: Notification) => void;

/**
 * The control unit: takes requests one at a time (concurrent callers queue, never interleave),
 * checks them against the element's state, drives the processing unit, and notifies listeners
 * of every finished request.
 */
export class ControlUnit {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly store: IdentifierStore,
    private readonly processing: ProcessingUnit,
    private readonly sourceName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Where the element's store lives. */
  get location(): string {
    return this.store.location;
  }

  /** The longest identifier, in bytes, the storage area holds. */
  get capacity(): number {
    return this.store.capacity;
  }

  submit(request: Request): Promise<Notification> {
    return this.serialize(async () => {
      const current = await this.store.info();
      const type = this.resolve(request.type, current);
      try {
        const next =
          type === "erase"
            ? await this.processing.eraseIdentifier(current)
            : await this.processing.writeIdentifier(current, request.format ?? current.format);
        next.identifier?.fill(0);
        return this.notify(type, request.type, next);
      } catch (error) {
        // Committed, though the old copy survived: the change happened and is announced, and the
        // caller still learns of the failure.
        if (error instanceof EraseIncompleteError) this.notify(type, request.type, error.committed);
        throw error;
      }
    });
  }

  status(): Promise<ElementStatus> {
    return this.serialize(async () => {
      const current = await this.store.info();
      return {
        state: current.state,
        generation: current.generation,
        handle: current.handle,
        mode: "random",
        source: this.sourceName,
        format: formatName(current.format),
        scheduled: [],
        store: this.store.location,
        requests: current.singleType ? "single-type" : "typed",
        sealed: current.sealed,
      };
    });
  }

  /** Turns single-type mode on or off; committed like any state change. */
  setSingleType(on: boolean): Promise<ElementStatus> {
    return this.recommit((current) => current.singleType !== on, { singleType: on });
  }

  /**
   * Makes the store seal under the key-encryption key it was opened with: an identifier stored in
   * clear is committed again sealed (same identifier, generation and handle), and a blank store
   * keeps sealing from now on. On a store that already seals, the key is checked, not trusted.
   */
  seal(): Promise<ElementStatus> {
    return this.serialize(async () => {
      if (!(await this.store.info()).sealed) return this.recommitNow({}, { acceptUnsealed: true });
      // Opening the sealed identifier proves the key (store-key-wrong otherwise).
      (await this.store.load()).identifier?.fill(0);
    }).then(() => this.status());
  }

  /**
   * The encryption/decryption unit's read: runs `task` with the identifier, then zeroes it. Only
   * derived, public or wrapped material may leave `task`. A blank element has nothing to read.
   */
  useIdentifier<T>(task: (identifier: Uint8Array, record: RecordInfo) => T | Promise<T>): Promise<T> {
    return this.serialize(async () => {
      const { identifier, ...record } = await this.store.load();
      if (!identifier) {
        throw new StateError("blank", "the element holds no identifier (it is blank); run 'reid init' first");
      }
      try {
        return await task(identifier, record);
      } finally {
        identifier.fill(0);
      }
    });
  }

  /** Commits the current record again with `change` when `needed`; the identifier stays as it is. */
  private recommit(
    needed: (current: RecordInfo) => boolean,
    change: { readonly singleType?: boolean },
  ): Promise<ElementStatus> {
    return this.serialize(async () => {
      if (needed(await this.store.info())) await this.recommitNow(change);
    }).then(() => this.status());
  }

  private async recommitNow(change: { readonly singleType?: boolean }, options?: LoadOptions): Promise<void> {
    const current = await this.store.load(options);
    try {
      (await this.processing.configure(current, change)).identifier?.fill(0);
    } finally {
      current.identifier?.fill(0);
    }
  }

  private notify(type: RequestType, requested: RequestType, next: RecordInfo): Notification {
    const notification: Notification = {
      request: type,
      requested,
      state: next.state,
      generation: next.generation,
      handle: next.handle,
      time: this.now().toISOString(),
    };
    for (const listener of this.listeners) listener(notification);
    return notification;
  }

  onNotification(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private resolve(type: RequestType, current: RecordInfo): RequestType {
    if (current.singleType) return "reset";
    if (type === "init" && current.state === "set") {
      throw new StateError(
        "already-initialized",
        `the element already holds an identifier (generation ${current.generation}); use reset to replace it`,
      );
    }
    if (type === "erase" && current.state === "blank") {
      throw new StateError("already-blank", "the element holds no identifier; there is nothing to erase");
    }
    return type;
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
