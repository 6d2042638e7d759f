import type { ElementStatus } from "./api.js";

/** The element's settings as `reid config` shows them, and the page's config panel (docs/spec.md §3.5). */
export interface SettingsView {
  readonly "single-type": boolean;
  readonly format: string;
  readonly "passkeys-bypass-lockout": boolean;
}

/** The settings that `reid config KEY on|off` changes through the element. */
export const ELEMENT_SETTINGS = ["single-type", "passkeys-bypass-lockout"] as const;
export type ElementSetting = (typeof ELEMENT_SETTINGS)[number];

export function settingsView(status: ElementStatus): SettingsView {
  return {
    "single-type": status.requests === "single-type",
    format: status.format,
    "passkeys-bypass-lockout": status.owner.passkeysBypassLockout,
  };
}

/** Turns `setting` on or off, each through its own owner operation; answers the status after. */
export function changeSetting(
  element: {
    setSingleType(on: boolean): Promise<ElementStatus>;
    setPasskeysBypassLockout(on: boolean): Promise<ElementStatus>;
  },
  setting: ElementSetting,
  on: boolean,
): Promise<ElementStatus> {
  return setting === "single-type" ? element.setSingleType(on) : element.setPasskeysBypassLockout(on);
}
