import { StateError } from "../errors.js";
import type { BindingEvent, Notification, NotifiedRequest, RetireNote } from "./request.js";

export type Listener = (notification: Notification) => void;
export type BindingListener = (event: BindingEvent) => void;

/** A stream of what the element announces, for a surface to pass on (an event stream, a page). */
export interface Feed<T> {
  /** Starts delivering items to `listener`; returns the function that stops it. */
  subscribe(listener: (item: T) => void): () => void;
  /** The item's event name ("request", "binding"). */
  name(item: T): string;
  /** Aborted when the feed ends from its source's side (the element's service closing). */
  readonly until?: AbortSignal;
}

/** The identifier a reset, erase or mode switch is about to replace, while it still exists. */
export interface OutgoingIdentifier {
  readonly generation: number;
  readonly handle: string | null;
  /** What replaces or erases it. */
  readonly request: NotifiedRequest;
  /**
   * The owner asked that nothing link the new identity to this one (`reset --unlinkable`, `mode
   * random --unlinkable`).
   */
  readonly unlinkable: boolean;
  /**
   * Runs `task` with the outgoing identifier, then zeroes it: the last moment its keys can sign
   * anything. Only while the listener's `retire` runs; afterwards it is refused (by then the
   * identifier may be another one).
   */
  read<T>(task: (identifier: Uint8Array) => T | Promise<T>): Promise<T>;
}

/**
 * The identifier a reset or a switch to random mode is about to commit, drawn and its handle
 * derived, not yet durable: a listener may sign with it before the commit (a succession
 * statement, docs/spec.md §10.9).
 */
export interface IncomingIdentifier {
  readonly generation: number;
  readonly handle: string;
  /** Runs `task` with a copy of the incoming identifier, zeroed after; only while `succeed` runs. */
  read<T>(task: (identifier: Uint8Array) => T | Promise<T>): Promise<T>;
}

/**
 * What keeps something beside the identifier (the bindings, a registry that knows the handle):
 * told before the identifier is replaced or erased, and after the change is committed. Both are
 * awaited, inside the request, one listener after the other in the order they were added; a
 * listener bounds its own time (a hanging one holds every request behind it).
 *
 * A listener that fails (throws, rejects) is passed over: the owner's request goes on and so do the
 * other listeners, and the request's audit record names it (`listenerFailures`). A failing
 * `retire` means only that this listener did not finish what it meant to do with the old key;
 * what can be done without the key must be done by the listener later, what needs the key is lost
 * with it. So a listener catches what it can handle itself (an unreachable device) and lets
 * through only what the owner should see in the log.
 */
export interface LifecycleListener {
  /** Names the listener in the audit log ("bindings", "registry"). */
  readonly name: string;
  /** May return what the notification should say of it (which bound devices were told). */
  retire?(outgoing: OutgoingIdentifier): Promise<void> | Promise<RetireNote>;
  /**
   * Whether `retire` would act on the outgoing identifier now (absent: whenever it is there). A
   * request whose listeners would not act commits with its intent in its own durable write
   * (docs/spec.md §9.3); one they act for writes its intent durably before they do.
   */
  retires?(): boolean;
  /**
   * A reset or a switch to random mode (not unlinkable) whose listeners retire: after every
   * `retire`, once the new identifier is drawn and before it is committed, with read access to
   * both. A crash after it leaves whatever it wrote for an identifier that never became durable.
   */
  succeed?(change: {
    readonly outgoing: OutgoingIdentifier;
    readonly incoming: IncomingIdentifier;
  }): Promise<void>;
  /** The change is committed; `after` is the notification the request is about to give. */
  changed?(after: Notification): void | Promise<void>;
}

/**
 * The element's event bus: what the element announces, to any number of listeners. Requests'
 * notifications, binding events and schedule changes are told as they happen; the identifier's
 * lifecycle is asked (awaited) before and after it changes. A listener that throws never stops
 * the others, nor the request that caused the event.
 * Specified in docs/spec.md §2.7.
 */
export class ElementEvents {
  private readonly notificationListeners = new Set<Listener>();
  private readonly bindingListeners = new Set<BindingListener>();
  private readonly scheduleListeners = new Set<() => void>();
  private readonly lifecycleListeners = new Set<LifecycleListener>();

  onNotification(listener: Listener): () => void {
    return subscribe(this.notificationListeners, listener);
  }

  onBindingEvent(listener: BindingListener): () => void {
    return subscribe(this.bindingListeners, listener);
  }

  /** Called after every change to the schedule (the daemon re-arms its timer). */
  onScheduleChange(listener: () => void): () => void {
    return subscribe(this.scheduleListeners, listener);
  }

  onLifecycle(listener: LifecycleListener): () => void {
    return subscribe(this.lifecycleListeners, listener);
  }

  notify(notification: Notification): void {
    tell(this.notificationListeners, notification);
  }

  announce(event: BindingEvent): void {
    tell(this.bindingListeners, event);
  }

  /** Tells the schedule's listeners once the current microtask is done with the change. */
  scheduleChanged(): void {
    queueMicrotask(() => tell(this.scheduleListeners, undefined));
  }

  /** Some lifecycle listener would act on the outgoing identifier now. */
  get retiring(): boolean {
    return [...this.lifecycleListeners].some(
      (listener) => listener.retire !== undefined && (listener.retires?.() ?? true),
    );
  }

  /**
   * Every lifecycle listener's `retire`, in order, with read access to the outgoing identifier
   * until the last one is done. Returns the failures ("registry:retire"), for the audit record,
   * and what the listeners add to the notification.
   */
  async retire(
    outgoing: Omit<OutgoingIdentifier, "read">,
    read: OutgoingIdentifier["read"],
  ): Promise<{ failures: string[]; note: RetireNote }> {
    let open = true;
    const guarded: OutgoingIdentifier = {
      ...outgoing,
      read: (task) =>
        open
          ? read(task)
          : Promise.reject(
              new StateError("retired", "the outgoing identifier is read only while it is being retired"),
            ),
    };
    let note: RetireNote = {};
    try {
      const failures = await this.ask("retire", async (listener) => {
        note = { ...note, ...(await listener.retire?.(guarded)) };
      });
      return { failures, note };
    } finally {
      open = false;
    }
  }

  /** Some lifecycle listener would sign with both identifiers of a reset. */
  get succeeding(): boolean {
    return [...this.lifecycleListeners].some((listener) => listener.succeed !== undefined);
  }

  /**
   * Every lifecycle listener's `succeed`, in order, each identifier readable until the last one
   * is done. Returns the failures ("enrollment:succeed").
   */
  async succeed(
    outgoing: Omit<OutgoingIdentifier, "read">,
    incoming: Omit<IncomingIdentifier, "read">,
    reads: { readonly outgoing: OutgoingIdentifier["read"]; readonly incoming: IncomingIdentifier["read"] },
  ): Promise<string[]> {
    let open = true;
    const guard = <F extends OutgoingIdentifier["read"]>(read: F): F =>
      ((task: (identifier: Uint8Array) => unknown) =>
        open
          ? read(task)
          : Promise.reject(
              new StateError("retired", "the identifiers are read only while a succession is signed"),
            )) as F;
    const change = {
      outgoing: { ...outgoing, read: guard(reads.outgoing) },
      incoming: { ...incoming, read: guard(reads.incoming) },
    };
    try {
      return await this.ask("succeed", (listener) => listener.succeed?.(change));
    } finally {
      open = false;
    }
  }

  /** Every lifecycle listener's `changed`, in order. Returns the failures ("bindings:changed"). */
  changed(after: Notification): Promise<string[]> {
    return this.ask("changed", (listener) => listener.changed?.(after));
  }

  private async ask(phase: string, call: (listener: LifecycleListener) => unknown): Promise<string[]> {
    const failures: string[] = [];
    for (const listener of [...this.lifecycleListeners]) {
      try {
        await call(listener);
      } catch {
        failures.push(`${listener.name}:${phase}`);
      }
    }
    return failures;
  }
}

function subscribe<T>(listeners: Set<T>, listener: T): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Each listener in turn; one that throws is passed over (the event happened whatever it does). */
function tell<T>(listeners: ReadonlySet<(value: T) => void>, value: T): void {
  for (const listener of listeners) {
    try {
      listener(value);
    } catch {}
  }
}
