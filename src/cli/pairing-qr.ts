import { renderUnicodeCompact } from "uqr";
import type { PairingResult } from "../binding/api.js";

/**
 * The pairing window as a QR code for the terminal (half-block characters, two rows a line): where
 * the device serves, its handle and the setup code, for a phone or camera to carry to the user's
 * machine instead of typing them. Shown only to the owner who opened the window.
 * Specified in docs/spec.md §7.9.
 */
export function pairingQr(opened: Pick<PairingResult, "address" | "handle" | "code">): string {
  const uri = `reid-pair://${opened.address}/?handle=${opened.handle}&code=${opened.code}`;
  return renderUnicodeCompact(uri, { ecc: "M", border: 2 });
}
