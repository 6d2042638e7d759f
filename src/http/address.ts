/** "HOST:PORT" or "[IPv6]:PORT" split, unchecked beyond its shape; null if it has none. */
export function splitHostPort(text: string): { host: string; port: number } | null {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  return match ? { host: match[1] ?? match[2] ?? "", port: Number(match[3]) } : null;
}
