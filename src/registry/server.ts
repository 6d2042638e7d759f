import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Hono } from "hono";
import { describeOsError, type ReidError, UsageError } from "../errors.js";
import { joinHostPort, parseHostPort } from "../http/address.js";
import { limitedServer } from "../http/limits.js";
import { certifyThreads, workerCertifier } from "./certify/pool.js";
import { CrlCache } from "./crl.js";
import { REGISTRY_FILES, type RegistryConfig } from "./directory.js";
import { registryRoutes } from "./est/routes.js";
import { loadSigner } from "./issue.js";
import { IdentityLog } from "./log/identity-log.js";
import { startIntegrator } from "./log/integrator.js";
import { loadLogKey } from "./log/log-key.js";
import { registryFailure } from "./registry-errors.js";
import type { RegistryStore } from "./store/store.js";

/** Loopback unless asked otherwise: a registry is put on the network on purpose. */
export const DEFAULT_REGISTRY_LISTEN = "127.0.0.1:8443";
/** A client gets this long for its TLS handshake and headers, and its whole request. */
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 2000;

export interface RegistryServer {
  /** https://HOST:PORT/ as bound (the port chosen when 0 was asked for). */
  readonly url: string;
  /** Where issued certificates say the CRL is: the registry's first host, the bound port. */
  readonly crlUrl: string;
  /** Rejects if the server cannot go on: its identity log's history was changed in the database. */
  readonly failed: Promise<never>;
  close(): Promise<void>;
}

/** --listen HOST:PORT; 0 asks for any free port. */
export function registryListen(text: string | undefined): { host: string; port: number } {
  return parseHostPort(text ?? DEFAULT_REGISTRY_LISTEN, "--listen", {
    example: DEFAULT_REGISTRY_LISTEN,
    allowZero: true,
  });
}

/**
 * Where the certificates of a registry served on `host`:`port` say its CRL is (docs/spec.md §10.7):
 * its first host, so a wildcard listen address still names one its server certificate is valid for.
 */
export function crlUrlOf(config: RegistryConfig, host: string, port: number): string {
  return `https://${joinHostPort(config.hosts[0] ?? host, port)}/crl`;
}

/**
 * Serves the registry's EST and CRL over HTTPS (docs/spec.md §10.7) with the directory's server
 * certificate, TLS 1.2 or later. A client certificate is asked for, never required: the handler
 * checks it against the CA (the TLS stack's verdict) and the database.
 */
export async function startRegistryServer(options: {
  readonly directory: string;
  readonly config: RegistryConfig;
  readonly store: RegistryStore;
  /**
   * Where the routes that only read are answered from (`--db-read`, docs/spec.md §10.7): a
   * streaming replica of `store`'s database; `store` itself by default.
   */
  readonly reads?: RegistryStore;
  readonly host: string;
  readonly port: number;
  readonly report?: (message: string) => void;
  /** Threads that check requests and issue certificates; 0: this thread. Absent: certifyThreads(). */
  readonly certifyThreads?: number;
  /**
   * Whether this server integrates the identity log now (§10.12): always, by default (SQLite: one
   * database, one server); with several servers on one database, the holder of its lock.
   */
  readonly integrating?: () => Promise<boolean>;
}): Promise<RegistryServer> {
  const { directory, host } = options;
  const read = (name: string) => {
    try {
      return readFileSync(join(directory, name));
    } catch (error) {
      throw registryFailure(`cannot read ${join(directory, name)}: ${describeOsError(error)}`);
    }
  };
  const tls = {
    key: read(REGISTRY_FILES.serverKey),
    cert: read(REGISTRY_FILES.serverCertificate),
    ca: read(REGISTRY_FILES.caCertificate),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2" as const,
  };
  const signer = await loadSigner(directory);
  // Before anything is served: a log whose stored history is not the one it signed stops here.
  const reads = options.reads ?? options.store;
  const log = await IdentityLog.open(
    options.store,
    loadLogKey(directory, options.config.caFingerprint),
    reads,
  );
  const certifier = await workerCertifier(directory, signer, options.certifyThreads ?? certifyThreads());
  // Routes are made once the port is known: issued certificates name it in their CRL URL.
  let routes: Hono | null = null;
  const server = limitedServer(
    // The adapter's env goes along: it carries the connection, and with it the client certificate.
    (request: Request, env?: object) =>
      routes ? routes.fetch(request, env) : new Response(null, { status: 503 }),
    { headersMs: HEADERS_TIMEOUT_MS, requestMs: REQUEST_TIMEOUT_MS },
    tls,
  );
  server.maxRequestsPerSocket = 100;
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "the port is in use (EADDRINUSE)" : describeOsError(error);
      reject(
        new UsageError(
          `cannot serve the registry on ${joinHostPort(host, options.port)}: ${why}`,
          "listen-failed",
        ),
      );
    };
    server.once("error", fail);
    server.listen(options.port, host, () => {
      server.off("error", fail);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let fail: (error: ReidError) => void = () => {};
  const failed = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  // Nobody waits on it until serve does: not an unhandled rejection meanwhile.
  failed.catch(() => {});
  // Listening, before any route answers: its first pass gives the log a checkpoint.
  const integrator = await startIntegrator({
    log,
    report: options.report ?? (() => {}),
    corrupt: (error) => fail(error),
    integrating: options.integrating ?? (() => options.store.logLease()),
  });
  const crlUrl = crlUrlOf(options.config, host, port);
  routes = registryRoutes({
    store: options.store,
    reads,
    signer,
    certifier,
    crl: new CrlCache(signer, reads),
    crlUrl,
    log,
    origins: options.config.hosts.map((name) => new URL(`https://${joinHostPort(name, port)}`).origin),
    ...(options.report ? { report: options.report } : {}),
  });
  return {
    url: `https://${joinHostPort(host, port)}/`,
    crlUrl,
    failed,
    // Requests in flight are answered (an enrollment that committed reaches its client), idle
    // connections close at once, and whatever is still open after the grace is cut.
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      });
      await integrator.stop();
      await certifier.close();
    },
  };
}
