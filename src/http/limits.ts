import type { ServerOptions } from "node:http";

/**
 * How long a client of one of our HTTP servers may take, so that no connection is held by saying
 * nothing, or one byte at a time: its headers within `headersMs`, its whole request within
 * `requestMs` (an event stream, once asked for, is an answer and runs on). Node checks these every
 * `connectionsCheckingInterval` (30 s by default, which alone let a silent client stay 40 s and
 * more); an idle kept-alive connection closes after Node's 5 s keepAliveTimeout.
 */
export function connectionLimits(limits: {
  readonly headersMs: number;
  readonly requestMs: number;
}): ServerOptions {
  return {
    headersTimeout: limits.headersMs,
    requestTimeout: limits.requestMs,
    connectionsCheckingInterval: 1000,
    maxHeaderSize: 8192,
  };
}
