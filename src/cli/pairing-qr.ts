import { renderUnicodeCompact } from "uqr";
import type { PairingResult } from "../binding/api.js";
import { pairingUri } from "../binding/pairing.js";

/**
 * The pairing window as a QR code for the terminal (half-block characters, two rows a line), the
 * same as the page's. Shown only to the owner who opened the window.
 * Specified in docs/spec.md §7.9.
 */
export function pairingQr(opened: Pick<PairingResult, "address" | "handle" | "code">): string {
  return renderUnicodeCompact(pairingUri(opened), { ecc: "M", border: 2 });
}
