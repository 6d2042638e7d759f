import { readFileSync } from "node:fs";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/**
 * The network between an element and its registry, losing answers: an HTTPS relay that serves the
 * registry's own TLS certificate (so the element, pinned to the registry's CA, talks to it as to
 * the registry), passes every request on, and for the first `lose` POSTs waits for the registry's
 * whole answer (the registry has committed what it answers) and then cuts the element's
 * connection instead of passing it back: the lost answer of a connection cut at the worst moment.
 */
export interface LossyRelay {
  /** https://127.0.0.1:PORT: give it to the element instead of the registry's. */
  readonly base: string;
  /** The POSTs whose answers were cut so far. */
  readonly cut: () => number;
  close(): Promise<void>;
}

export async function lossyRelay(registryDir: string, registryPort: number, lose = 1): Promise<LossyRelay> {
  const ca = readFileSync(join(registryDir, "ca.pem"));
  let cut = 0;
  const server = createServer(
    {
      key: readFileSync(join(registryDir, "server.key")),
      cert: readFileSync(join(registryDir, "server.pem")),
    },
    (incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const onward = request(
          {
            host: "127.0.0.1",
            port: registryPort,
            method: incoming.method,
            path: incoming.url,
            headers: { ...incoming.headers, host: `127.0.0.1:${registryPort}` },
            ca,
            agent: false,
          },
          (answer) => {
            const body: Buffer[] = [];
            answer.on("data", (chunk: Buffer) => body.push(chunk));
            answer.on("end", () => {
              if (incoming.method === "POST" && cut < lose) {
                cut++;
                incoming.socket.destroy();
                return;
              }
              outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
              outgoing.end(Buffer.concat(body));
            });
          },
        );
        onward.on("error", () => incoming.socket.destroy());
        onward.end(Buffer.concat(chunks));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `https://127.0.0.1:${port}`,
    cut: () => cut,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
