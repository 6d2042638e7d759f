import type { Actor } from "../auth/actor.js";
import { StateError, StorageError } from "../errors.js";
import type { ElementEvents } from "./events.js";
import type { Operate } from "./owner-gate.js";
import type { Notification, Request, RequestType } from "./request.js";
import type { ScheduledRequest, ScheduleRegister } from "./schedule.js";

/** The most requests the schedule holds at once; at 1 KiB a format, the file stays under 400 KiB (docs/spec.md §2.6). */
export const MAX_SCHEDULED = 256;

/** A scheduled request being carried out: its id, whether it fell due while no daemon ran, its format as written. */
export interface Origin {
  readonly id: string;
  readonly late: boolean;
  readonly format?: string | undefined;
}

/** What scheduling needs of the request pipeline. */
export interface SchedulingPipeline {
  readonly serialize: <T>(task: () => Promise<T>) => Promise<T>;
  readonly operate: Operate;
  /** Carries out a request on the scheduler's authority; runs inside `serialize`. */
  readonly carryOut: (request: Request, actor: Actor, origin: Origin) => Promise<Notification>;
  readonly now: () => Date;
}

/**
 * Requests that carry a time (the control unit's register, patent FIG. 5): scheduling and
 * cancelling them are owner operations, checked when asked; at its time a request runs on that
 * authority.
 */
export class Scheduling {
  constructor(
    private readonly register: ScheduleRegister | null,
    private readonly events: ElementEvents,
    private readonly pipeline: SchedulingPipeline,
  ) {}

  /** Persists a request to carry out at `entry.at`. */
  schedule(
    entry: { type: RequestType; format?: string; unlinkable?: boolean; at: Date },
    actor: Actor,
  ): Promise<ScheduledRequest> {
    const schedule = this.registered();
    return this.pipeline.operate(
      `schedule-${entry.type}`,
      actor,
      async () => {
        // The register is rewritten whole on every change and read at every start: it stays small.
        if (schedule.list().length >= MAX_SCHEDULED) {
          throw new StateError(
            "schedule-full",
            `the schedule holds ${MAX_SCHEDULED} requests, the most it keeps: cancel one first ('reid schedule cancel ID')`,
          );
        }
        this.events.scheduleChanged();
        return schedule.add({
          type: entry.type,
          ...(entry.format === undefined ? {} : { format: entry.format }),
          ...(entry.unlinkable ? { unlinkable: true } : {}),
          at: entry.at.toISOString(),
          principal: actor.principal,
          created: this.pipeline.now().toISOString(),
        });
      },
      { at: entry.at.toISOString(), ...(entry.unlinkable ? { unlinkable: true } : {}) },
    );
  }

  /** Removes a scheduled request before its time. */
  cancel(id: string, actor: Actor): Promise<ScheduledRequest> {
    const schedule = this.registered();
    return this.pipeline.operate(
      "cancel-schedule",
      actor,
      async () => {
        this.events.scheduleChanged();
        const removed = schedule.remove(id);
        if (!removed)
          throw new StateError("no-such-schedule", `no scheduled request has the id '${id.slice(0, 64)}'`);
        return removed;
      },
      { schedule: id.slice(0, 64) },
    );
  }

  list(): ScheduledRequest[] {
    return this.register?.list() ?? [];
  }

  /**
   * Carries out every scheduled request due at `now`, oldest first. One that fell due before
   * `startedAt` (while no daemon ran) is marked late. Each is taken off the register before it runs,
   * so a crash never runs it twice; its outcome goes to the audit log either way.
   */
  async runDue(now: Date, startedAt: Date): Promise<Notification[]> {
    const done: Notification[] = [];
    for (const entry of this.list()) {
      if (Date.parse(entry.at) > now.getTime()) break;
      const removed = await this.pipeline.serialize(async () => this.registered().remove(entry.id));
      if (!removed) continue;
      const actor: Actor = { principal: `scheduler:${entry.principal}`, preauthorized: true };
      const origin = { id: entry.id, late: Date.parse(entry.at) < startedAt.getTime(), format: entry.format };
      try {
        done.push(
          await this.pipeline.serialize(() => this.pipeline.carryOut(requestOf(entry), actor, origin)),
        );
      } catch {
        // Refused at its time (already blank, an entropy failure...): the audit log says why.
      }
    }
    return done;
  }

  private registered(): ScheduleRegister {
    if (!this.register) throw new StorageError("this element keeps no schedule", "no-schedule");
    return this.register;
  }
}

/**
 * The request an entry asks for. Only a reset is unlinkable, and only when the entry says so with
 * `true`: an entry of an older reid, or edited by hand, is an ordinary request.
 */
function requestOf(entry: ScheduledRequest): Request {
  return entry.type === "reset" && entry.unlinkable === true
    ? { type: entry.type, unlinkable: true }
    : { type: entry.type };
}
