import type {
  ChainLink,
  DeviceReport,
  DeviceView,
  EventView,
  FlagView,
  RevokedView,
} from "../../../registry/views.js";
import { rows } from "./action.js";

/**
 * The operator's commands as text (docs/spec.md §10.6), made from the views alone: what the store
 * answers here and what a server will send print the same.
 */

/** A handle's first 8 digits, as in a table's PREVIOUS and NEXT columns; `-` for none. */
function short(handle: string | null): string {
  return handle === null ? "-" : handle.slice(0, 8);
}

// Fixed widths: a streamed listing cannot measure its rows before it prints the first. A serial
// above 32 digits (up to 40) pushes the columns after it to the right on its line.
const DEVICE_COLUMNS = [
  ["HANDLE", 32],
  ["STATUS", 10],
  ["SERIAL", 32],
  ["ENROLLED", 24],
  ["PREVIOUS", 8],
  ["NEXT", 0],
] as const;

function columns(values: readonly string[]): string {
  return values.map((value, i) => value.padEnd(DEVICE_COLUMNS[i]?.[1] ?? 0)).join("  ");
}

export function deviceHeader(): string {
  return columns(DEVICE_COLUMNS.map(([name]) => name));
}

export function deviceLine(device: DeviceView): string {
  return columns([
    device.handle,
    device.status,
    device.certificateSerial ?? "-",
    device.enrolledAt,
    short(device.predecessor),
    short(device.successor),
  ]);
}

/** `3 devices`, `1 revoked device`. */
export function deviceCount(count: number, status: string | undefined): string {
  return `${count} ${status ? `${status} ` : ""}device${count === 1 ? "" : "s"}`;
}

export function reportText(report: DeviceReport): string {
  const { device, certificate, chain, flags } = report;
  const entries: [string, string][] = [
    ["device", device.handle],
    ["status", device.status],
    [certificate ? "enrolled" : "listed", device.enrolledAt],
    ["updated", device.updatedAt],
  ];
  if (certificate === null) {
    // Listed by an import (§10.6): certified when it first enrolls with its listed key.
    entries.push(["certificate", "none yet: issued when it enrolls with its listed key"]);
  } else {
    entries.push(
      ["certificate", `${certificate.serial} (${certificate.status})`],
      ["valid", `${certificate.notBefore} to ${certificate.notAfter}`],
    );
    if (certificate.revokedAt !== null) {
      entries.push(["revoked", `${certificate.revokedAt} (${certificate.revocationReason})`]);
    }
  }
  const position = chain.findIndex((link) => link.asked) + 1;
  entries.push(["chain", `${chain.length} identit${chain.length === 1 ? "y" : "ies"}, this is ${position}`]);
  const width = String(chain.length).length;
  const lines = [rows(entries, 11), ...chain.map((link, i) => chainLine(link, i + 1, width))];
  if (flags.length > 0) {
    const count = `${flags.length} refused fork${flags.length === 1 ? "" : "s"}`;
    lines.push(
      rows([["flags", report.earlierFlags ? `the newest ${count} (registry events lists all)` : count]], 11),
    );
    const numbers = new Map(chain.map((link, i) => [link.handle, i + 1]));
    for (const flag of flags) lines.push(flagLine(flag, numbers.get(flag.handle) ?? 0, width));
  }
  return lines.join("\n");
}

/** `* 2  HANDLE  superseded  enrolled TIME  superseded TIME`: `*` marks the device asked about. */
function chainLine(link: ChainLink, number: number, width: number): string {
  const left = link.status === "active" ? "" : `  ${link.status} ${link.updatedAt}`;
  const mark = link.asked ? "*" : " ";
  return `${mark} ${String(number).padStart(width)}  ${link.handle}  ${link.status.padEnd(10)}  enrolled ${link.enrolledAt}${left}`;
}

/**
 * `! 1  TIME  successor HANDLE refused: identity 1 was already superseded; from ADDRESS; event N`,
 * numbered as the chain's lines; what the registry did not record is left out.
 */
function flagLine(flag: FlagView, number: number, width: number): string {
  const refused = flag.successor === null ? "a successor refused" : `successor ${flag.successor} refused`;
  const facts = [
    flag.status === null ? refused : `${refused}: identity ${number} was already ${flag.status}`,
    ...(flag.source === null ? [] : [`from ${flag.source}`]),
    `event ${flag.sequence}`,
  ];
  return `! ${String(number).padStart(width)}  ${flag.at}  ${facts.join("; ")}`;
}

export function revokedText(revoked: RevokedView): string {
  return rows(
    [
      ["revoked", revoked.handle],
      ["serial", revoked.serial ?? "none (it was listed, never certified)"],
      ["reason", revoked.reason],
      ["at", revoked.revokedAt],
      ["event", String(revoked.sequence)],
    ],
    7,
  );
}

/** `SEQUENCE  TIME  TYPE  HANDLE  key=value…`; a value that is not one plain word is JSON. */
export function eventLine(event: EventView): string {
  const data = Object.entries(event.data).map(
    ([key, value]) =>
      `${key}=${typeof value === "string" && /^[\w.:-]+$/.test(value) ? value : JSON.stringify(value)}`,
  );
  const line = [String(event.sequence).padStart(6), event.at, event.type.padEnd(9), event.handle];
  return [...line, ...(data.length > 0 ? [data.join(" ")] : [])].join("  ");
}
