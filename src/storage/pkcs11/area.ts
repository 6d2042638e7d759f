import type { Pkcs11Session } from "../../pkcs11/session.js";
import type { Pkcs11Token } from "../../pkcs11/token.js";
import { acquirePlaceLock, type ProcessLock } from "../process-lock.js";
import { AREA_SIZE, isZero } from "../record.js";
import type { AreaIndex, StorageArea } from "../storage-area.js";
import { type AreaObject, areaTemplate, foreignObject, lookUpArea } from "./objects.js";

export interface Pkcs11AreaOptions {
  readonly write: boolean;
  readonly lockTimeoutMs: number;
}

/**
 * The PKCS#11 backend's storage area: two private token data objects (objects.ts). A data
 * object's value cannot be changed once created (C_SetAttributeValue on CKA_VALUE is refused), so
 * a write destroys the area's object and then creates the new one, and an erase destroys it
 * (C_DestroyObject), as the TPM backend undefines its index: the token drops the bytes and the
 * name together.
 *
 * Destroy first, never create first: at every instant an area has at most one object of reid's,
 * so a crash mid-write leaves the area without an object (read as erased) or with the whole new
 * one (SoftHSM2 writes a new object's label and value in one write(2); see the crash test), and
 * never two objects with one label, which could not be told apart from a foreign copy.
 * DualAreaStore writes only the area that does not hold the live record, so the live one is never
 * destroyed before its successor exists.
 *
 * Every operation looks the area up afresh: objects are found by label, and one made by someone
 * else (another class, not private, another application or size, or a second one) is refused
 * (exit 6, store-foreign) and left exactly as it is.
 */
export class Pkcs11Area implements StorageArea {
  readonly areaSize = AREA_SIZE;
  readonly writable: boolean;
  readonly location: string;
  private closed = false;

  private constructor(
    private readonly session: Pkcs11Session,
    options: Pkcs11AreaOptions,
    private readonly lock: ProcessLock,
  ) {
    this.writable = options.write;
    this.location = session.where;
  }

  /**
   * Takes the token's objects for this process: one writer per module and token however the
   * token is named (the module by its resolved path, the token by its serial number). A place lock,
   * not the directory's: two store directories naming one free token must not both provision it
   * (docs/spec.md §5.5).
   */
  static async open(
    token: Pkcs11Token,
    session: Pkcs11Session,
    options: Pkcs11AreaOptions,
  ): Promise<Pkcs11Area> {
    const lock = await acquirePlaceLock(`pkcs11 ${token.module.realPath} ${token.info.serial}`, {
      timeoutMs: options.lockTimeoutMs,
      what: `reid's objects on ${token.where}`,
    });
    return new Pkcs11Area(session, options, lock);
  }

  async provisioned(): Promise<boolean> {
    return (await this.present(0)) || (await this.present(1));
  }

  async provision(contents: readonly [Uint8Array, Uint8Array]): Promise<void> {
    // Area 1 first, as for files: until area 0 exists the store counts as never provisioned.
    await this.write(1, contents[1]);
    await this.write(0, contents[0]);
  }

  async read(area: AreaIndex): Promise<Uint8Array> {
    const found = this.lookUp(area);
    return found.kind === "reid" ? found.value : new Uint8Array(AREA_SIZE);
  }

  async write(area: AreaIndex, data: Uint8Array): Promise<void> {
    this.assertWritable();
    if (data.length !== AREA_SIZE) throw new RangeError(`an area takes exactly ${AREA_SIZE} bytes`);
    if (isZero(data)) return this.erase(area);
    await this.erase(area);
    const value = Buffer.from(data);
    try {
      this.session.create(areaTemplate(area, value));
    } finally {
      value.fill(0);
    }
  }

  async erase(area: AreaIndex): Promise<void> {
    this.assertWritable();
    const found = this.lookUp(area);
    if (found.kind !== "reid") return;
    found.value.fill(0);
    this.session.destroy(found.handle);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lock.release();
  }

  private async present(area: AreaIndex): Promise<boolean> {
    const found = this.lookUp(area);
    if (found.kind === "reid") found.value.fill(0);
    return found.kind === "reid";
  }

  /** The area's object; a foreign one throws, so nothing goes on past it. */
  private lookUp(area: AreaIndex): Exclude<AreaObject, { kind: "foreign" }> {
    const found = lookUpArea(this.session, area, AREA_SIZE);
    if (found.kind === "foreign") throw foreignObject(area, this.location, found.why);
    return found;
  }

  private assertWritable(): void {
    if (!this.writable) throw new Error("store was opened read-only");
  }
}
