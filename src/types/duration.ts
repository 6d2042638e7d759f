const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/**
 * A duration as the CLI takes it (`--for 2m`, `--ttl 24h`): a whole number with s, m, h or d, or
 * without a unit when `bare` says what it counts. Seconds, or null when the text is none; each
 * caller bounds it and words its own refusal.
 */
export function durationSeconds(text: string, bare?: keyof typeof UNIT_SECONDS): number | null {
  const match = /^([1-9][0-9]{0,7})([smhd])?$/.exec(text);
  const unit = (match?.[2] ?? bare) as keyof typeof UNIT_SECONDS | undefined;
  return match && unit ? Number(match[1]) * UNIT_SECONDS[unit] : null;
}
