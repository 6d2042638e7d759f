import { randomBytes } from "node:crypto";
import { RefusalTally } from "../audit/refusal-tally.js";
import type { Actor } from "../auth/actor.js";
import { publicKeyObject } from "../derive/public-key.js";
import type { ControlUnit } from "../element/control-unit.js";
import type { Audited } from "../element/request-pipeline.js";
import { AuthError, ReidError, StateError } from "../errors.js";
import { readFields } from "../http/schema.js";
import { MAX_BINDINGS, type UserBinding } from "./bindings-file.js";
import { checkCommand, parseCommand, type Receipt, receipt } from "./command.js";
import { bindResult, checkBindRequest, type Hello, hello, requestChallenge } from "./handshake.js";
import { ReadingHistory, requestedCount } from "./history.js";
import { type Identity, withIdentity } from "./identity.js";
import type { SignedCommand } from "./messages.js";
import { MESSAGES, NONCE_BYTES } from "./messages.js";
import type { PairingWindow } from "./pairing.js";
import type { Peer } from "./parties.js";
import type { Sensor } from "./sensor.js";
import { type SealedTelemetry, sealTelemetry } from "./telemetry.js";
import { hex } from "./wire.js";

/** How long a challenge from a hello may be answered. */
const CHALLENGE_TTL_MS = 30_000;
/** Open handshakes at once: a flood of hellos evicts the oldest, it does not grow memory. */
const MAX_PENDING = 64;
/** Names a user may not send as commands: they have their own meaning and endpoint. */
const RESERVED = new Set(["telemetry"]);

/**
 * The device role (patent FIG. 3, the IoT device): inside a pairing window its owner opened, answers
 * hellos with proof of its key and stores the users that bind with the window's setup code; carries
 * out their signed commands and seals its readings to them. Everything
 * that reads the identifier goes through the control unit, so it is serialized with resets and
 * erases, and audited under the user's handle.
 */
export class DeviceRole {
  private readonly pending = new Map<string, Pending>();
  private readonly history = new ReadingHistory();
  /** Refusals of peers who proved nothing, counted until their minute ends (docs/spec.md §9.5). */
  private readonly refusals = new RefusalTally();

  constructor(
    private readonly control: ControlUnit,
    private readonly directory: string,
    private readonly sensor: Sensor,
    private readonly pairing: PairingWindow,
  ) {}

  /**
   * The role's messages as one peer (its network address) sends them: a refusal before the peer
   * proved anything is counted under the address, not written to the audit log one by one.
   */
  as(peer: string): PeerMessages {
    return {
      hello: (body) => this.counted(peer, () => this.hello(body)),
      bind: (body) => this.counted(peer, (proven) => this.bind(body, proven)),
      command: (body) => this.counted(peer, (proven) => this.command(body, proven)),
      telemetry: (body) => this.counted(peer, (proven) => this.telemetry(body, proven)),
    };
  }

  /**
   * Writes the counts of refusals whose minute has ended (all of them when `now` is absent, as the
   * daemon stops): one summary record per peer and reason per minute. Returns how many.
   */
  flushRefusals(now?: Date): Promise<number> {
    if (this.refusals.empty) return Promise.resolve(0);
    return this.control.summariseRefusals((place) => this.refusals.take(place, now));
  }

  /** Runs one message; a refusal before `proven` was called is counted under `peer`. */
  private async counted<T>(peer: string, run: (proven: () => void) => Promise<T>): Promise<T> {
    let proven = false;
    try {
      return await run(() => {
        proven = true;
      });
    } catch (error) {
      if (!proven) {
        const reason = error instanceof ReidError ? error.code : "internal";
        this.refusals.count(peer, reason, this.control.time());
      }
      throw error;
    }
  }

  /**
   * Takes a reading for the history (`serve --device --sample-every`). The handle is read first: a
   * reset between the two leaves the reading under the old handle, where no one is answered it.
   */
  async sample(): Promise<void> {
    const { handle } = await this.control.status();
    if (!handle) return;
    const { at, reading } = await this.read();
    this.history.add(handle, reading, at);
  }

  /** A reading and the time it was taken (the element's clock), as the history keeps it. */
  private async read(): Promise<{ at: number; reading: string }> {
    const time = this.control.time();
    const reading = JSON.stringify({
      sensor: this.sensor.name,
      time: time.toISOString(),
      value: await this.sensor.read(),
    });
    return { at: time.getTime(), reading };
  }

  /** Only inside a pairing window: outside one, refused before the identifier is read. */
  private async hello(body: Record<string, unknown>): Promise<Hello> {
    const fields = readFields(MESSAGES.hello.input, body, { what: "hello request" });
    this.pairing.current();
    const nonce = Buffer.from(fields.nonce, "hex");
    const challenge = randomBytes(NONCE_BYTES);
    let window = 0;
    const answer = await this.control.useIdentifier((identifier) =>
      withIdentity(this.directory, identifier, ({ party }) => {
        window = this.pairing.current(party.handle);
        return hello(party, nonce, challenge);
      }),
    );
    this.remember(hex(challenge), { nonce, window });
    return answer;
  }

  /**
   * A bind request, answering a hello of the window still open, with the setup code's proof: a
   * wrong one spends a try and is refused before any signature is checked or anything stored (or
   * audited: it proves nothing, §9.5); a bind that proves itself is audited, and the bind that is
   * stored spends the code.
   */
  private async bind(body: Record<string, unknown>, proven: () => void) {
    const challenge = requestChallenge(body);
    const opened = this.take(hex(challenge));
    if (!opened) {
      throw new AuthError(
        "unknown-challenge",
        "the bind request answers no open challenge of this device (expired or used)",
      );
    }
    // A hello of a window that has closed since is refused here, as one outside a window.
    this.pairing.codeOf(opened.window);
    const time = this.control.time().toISOString();
    let peer = "";
    const result = await this.control.provenUse(
      "bind",
      remote("binding"),
      (identifier, audited) =>
        withIdentity(this.directory, identifier, ({ party, file }) => {
          const code = this.pairing.codeOf(opened.window, party.handle);
          const { user, keys } = checkBindRequest(body, party, { challenge, nonce: opened.nonce, code }, () =>
            this.pairing.wrong(opened.window),
          );
          peer = user.handle;
          proven();
          return audited(() => {
            try {
              this.store(file, user, time);
              this.pairing.spend(opened.window);
              return bindResult(party, user, keys, 0, time);
            } finally {
              keys.wipe();
            }
          });
        }),
      () => (peer ? { user: peer } : {}),
    );
    this.control.announce({ event: "bound", role: "device", peer, time });
    return result;
  }

  /** Stores `user` as bound at `time`, counter 0, in place of an earlier binding of its handle. */
  private store(file: Identity["file"], user: Peer, time: string): void {
    const bindings = file.read();
    const others = bindings.users.filter((u) => u.handle !== user.handle);
    if (others.length >= MAX_BINDINGS) {
      throw new StateError(
        "too-many-bindings",
        `this device holds ${MAX_BINDINGS} bindings already: unbind one first`,
      );
    }
    const binding: UserBinding = {
      handle: user.handle,
      ed25519: hex(user.ed25519),
      x25519: hex(user.x25519),
      bound: time,
      counter: 0,
    };
    file.write({ ...bindings, users: [...others, binding] });
  }

  /** A signed command from a bound user; `unbind` removes the binding (a user's revocation). */
  private async command(body: Record<string, unknown>, proven: () => void): Promise<Receipt> {
    const command = parseCommand(body);
    if (RESERVED.has(command.name)) {
      throw new AuthError("reserved-command", `'${command.name}' is not a command: it has its own endpoint`);
    }
    const answer = await this.verified(command, proven, ({ party }) => receipt(party, command));
    const unbound = command.name === "unbind";
    this.control.announce({
      event: unbound ? "unbound" : "command",
      role: "device",
      peer: command.user,
      ...(unbound ? {} : { command: { name: command.name, args: command.args } }),
      time: this.control.time().toISOString(),
    });
    return answer;
  }

  /**
   * Readings sealed to the user who asked (a signed `telemetry` command) and to no one else: a
   * fresh one, preceded by as many of the latest ones this user may see (taken since it bound, none
   * taken for another user) as the request asks for, all in one HPKE context.
   */
  private async telemetry(body: Record<string, unknown>, proven: () => void): Promise<SealedTelemetry> {
    const command = parseCommand(body);
    if (command.name !== "telemetry")
      throw new AuthError("bad-command", "a telemetry request is the command 'telemetry'");
    const count = requestedCount(command.args);
    // Verified first: only a bound user makes the sensor read.
    const { handle, x25519, since } = await this.verified(command, proven, ({ file }) => {
      const user = file.read().users.find((u) => u.handle === command.user) as UserBinding;
      return { handle: user.handle, x25519: Buffer.from(user.x25519, "hex"), since: Date.parse(user.bound) };
    });
    const { at, reading } = await this.read();
    const sealed = await this.control.useIdentifier((identifier) =>
      withIdentity(this.directory, identifier, (self) => {
        if (self.party.handle !== command.device) {
          throw new StateError(
            "identity-changed",
            "this device's identifier changed while the reading was taken",
          );
        }
        this.history.add(self.party.handle, reading, at, handle);
        const readings = this.history.latest(self.party.handle, count, { user: handle, since });
        return sealTelemetry(
          { handle: self.party.handle, x25519: self.x25519 },
          { handle, x25519 },
          command.counter,
          readings.map((r) => Buffer.from(r)),
        );
      }),
    );
    this.control.announce({
      event: "telemetry",
      role: "device",
      peer: handle,
      time: this.control.time().toISOString(),
    });
    return sealed;
  }

  /**
   * Checks a command against the binding of its user, unaudited (a refusal here proves nothing:
   * it is counted, §9.5), then, audited as the user's operation, advances the user's counter,
   * durably, before `task` answers: a command carried out is never accepted twice, even across a
   * restart.
   */
  private verified<T>(
    command: ReturnType<typeof parseCommand>,
    proven: () => void,
    task: (identity: Identity) => T,
  ): Promise<T> {
    return this.control.provenUse(
      command.name === "unbind" ? "unbind" : `command:${command.name}`,
      remote(command.user),
      (identifier, audited: Audited) =>
        withIdentity(this.directory, identifier, (identity) => {
          const bindings = identity.file.read();
          const user = bindings.users.find((u) => u.handle === command.user);
          if (!user) {
            throw new AuthError(
              "unbound",
              `user ${command.user} is not bound to this device (never bound, unbound, or its identifier was reset): bind again`,
            );
          }
          const verifier = publicKeyObject("ed25519", Buffer.from(user.ed25519, "hex"));
          checkCommand(
            command,
            identity.party.handle,
            { verifier, counter: user.counter },
            this.control.time().getTime(),
          );
          proven();
          return audited(() => {
            const answer = task(identity);
            const users =
              command.name === "unbind"
                ? bindings.users.filter((u) => u !== user)
                : bindings.users.map((u) => (u === user ? { ...u, counter: command.counter } : u));
            identity.file.write({ ...bindings, users });
            return answer;
          });
        }),
      () => ({ user: command.user, counter: command.counter }),
    );
  }

  private remember(challenge: string, hello: Omit<Pending, "expires">): void {
    const now = Date.now();
    for (const [key, { expires }] of this.pending) if (expires < now) this.pending.delete(key);
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
    this.pending.set(challenge, { ...hello, expires: now + CHALLENGE_TTL_MS });
  }

  /** A challenge is answered once: taking it removes it. */
  private take(challenge: string): Pending | null {
    const pending = this.pending.get(challenge);
    this.pending.delete(challenge);
    return pending !== undefined && pending.expires >= Date.now() ? pending : null;
  }
}

/** The device's messages as one peer sends them (DEVICE_MESSAGES' operations). */
export interface PeerMessages {
  hello(body: Record<string, unknown>): Promise<Hello>;
  bind(body: Record<string, unknown>): Promise<ReturnType<typeof bindResult>>;
  command(body: Record<string, unknown>): Promise<Receipt>;
  telemetry(body: Record<string, unknown>): Promise<SealedTelemetry>;
}

/** A hello answered: its nonce and the pairing window it was answered in, until it expires. */
interface Pending {
  readonly nonce: Uint8Array;
  readonly window: number;
  readonly expires: number;
}

/** A party on the network: proven by its signature inside the operation, not by the owner's PIN. */
function remote(who: string): Actor {
  return { principal: `network:${who}`, preauthorized: true };
}

export type { SignedCommand };
