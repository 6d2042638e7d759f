import { StorageError } from "../errors.js";
import { CKF_SESSION, CKF_TOKEN } from "./constants.js";
import { describePkcs11Error } from "./errors.js";
import { type LoadedModule, loadModule } from "./module.js";
import { Pkcs11Session } from "./session.js";

/** CK_TOKEN_INFO as reid shows it: text fields without their blank padding. */
export interface TokenInfo {
  readonly label: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly serial: string;
  readonly flags: number;
}

/** CK_INFO: who made the module, and which version of it and of Cryptoki it implements. */
export interface LibraryInfo {
  readonly manufacturer: string;
  readonly description: string;
  readonly version: string;
  readonly cryptokiVersion: string;
}

/**
 * A token found by its label in a PKCS#11 module, which this object keeps loaded until close().
 * Only initialized tokens count; two initialized tokens with one label are refused, as reid could
 * not tell which one holds its areas.
 */
export class Pkcs11Token {
  private closed = false;

  private constructor(
    readonly module: LoadedModule,
    private readonly slot: Buffer,
    readonly info: TokenInfo,
  ) {}

  /** "PKCS#11 token 'reid' (module /usr/lib/softhsm/libsofthsm2.so)", for messages and status. */
  get where(): string {
    return `PKCS#11 token '${this.info.label}' (module ${this.module.path})`;
  }

  static async open(modulePath: string, label: string): Promise<Pkcs11Token> {
    const module = await loadModule(modulePath);
    try {
      const { api } = module;
      const where = `PKCS#11 module ${modulePath}`;
      const tokens: { slot: Buffer; info: TokenInfo }[] = [];
      try {
        for (const slot of api.C_GetSlotList(true)) {
          const info = tokenInfo(api.C_GetTokenInfo(slot));
          if ((info.flags & CKF_TOKEN.TOKEN_INITIALIZED) !== 0) tokens.push({ slot, info });
        }
      } catch (error) {
        throw describePkcs11Error(error, where);
      }
      const matching = tokens.filter((token) => token.info.label === label);
      if (matching.length > 1) {
        throw new StorageError(
          `${matching.length} tokens in PKCS#11 module ${modulePath} are labelled '${label}' (serials ${matching.map((t) => t.info.serial).join(", ")}): relabel all but one`,
          "pkcs11-token-ambiguous",
        );
      }
      const [found] = matching;
      if (!found) {
        const labels = tokens.map((token) => `'${token.info.label}'`).join(", ");
        throw new StorageError(
          `no token labelled '${label}' in PKCS#11 module ${modulePath} (${labels ? `it has ${labels}` : "it has no initialized token"}): check token=, or initialize one (softhsm2-util --init-token --free --label ${label})`,
          "pkcs11-token-missing",
        );
      }
      return new Pkcs11Token(module, found.slot, found.info);
    } catch (error) {
      module.release();
      throw error;
    }
  }

  /** The token's info as it is now (flags change: a PIN locks, a count runs low). */
  currentInfo(): TokenInfo {
    return this.call(() => tokenInfo(this.module.api.C_GetTokenInfo(this.slot)));
  }

  library(): LibraryInfo {
    const info = this.call(() => this.module.api.C_GetInfo());
    return {
      manufacturer: info.manufacturerID.trimEnd(),
      description: info.libraryDescription.trimEnd(),
      version: `${info.libraryVersion.major}.${info.libraryVersion.minor}`,
      cryptokiVersion: `${info.cryptokiVersion.major}.${info.cryptokiVersion.minor}`,
    };
  }

  /** The mechanism numbers (CKM_*) the token supports. */
  mechanisms(): number[] {
    return this.call(() => this.module.api.C_GetMechanismList(this.slot));
  }

  /** A read-write session (reid creates and destroys its objects in it). */
  openSession(): Pkcs11Session {
    const handle = this.call(() =>
      this.module.api.C_OpenSession(this.slot, CKF_SESSION.SERIAL_SESSION | CKF_SESSION.RW_SESSION),
    );
    return new Pkcs11Session(this.module.api, handle, this.where);
  }

  /** Lets go of the module (the last holder in the process finalizes it). Sessions close first. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.module.release();
  }

  private call<T>(task: () => T): T {
    // After close() the module may be finalized and unloaded: its functions are gone.
    if (this.closed) throw new StorageError(`${this.where} was closed`, "pkcs11-session-lost");
    try {
      return task();
    } catch (error) {
      throw describePkcs11Error(error, this.where);
    }
  }
}

function tokenInfo(raw: {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: number;
}): TokenInfo {
  return {
    label: raw.label.trimEnd(),
    manufacturer: raw.manufacturerID.trimEnd(),
    model: raw.model.trimEnd(),
    serial: raw.serialNumber.trimEnd(),
    flags: raw.flags,
  };
}
