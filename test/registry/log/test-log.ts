// A registry's identity log as a small HTTPS server (docs/spec.md §10.12's routes, and the CA
// certificates a verifier pins first), built from MerkleTree and signNote with a key of its own,
// that a test can tell to misbehave: serve other leaves than it hashed, sign another history,
// sign with another key, answer proofs that do not verify. The registry as an attacker.
import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { base64Body, certsOnlyDer } from "../../../src/http/est-wire.js";
import { issueServerCertificate, makeAuthority } from "../../../src/registry/authority.js";
import { checkpointText } from "../../../src/registry/log/checkpoint.js";
import { leafHash } from "../../../src/registry/log/hash.js";
import { type LeafEvent, leafOf } from "../../../src/registry/log/leaf.js";
import { logOrigin } from "../../../src/registry/log/log-key.js";
import { rawPublicKey, signNote, verifierKeyText } from "../../../src/registry/log/note.js";
import { MerkleTree } from "../../../src/registry/log/tree.js";

/** What a misbehaving log changes in its answers; each gets what an honest log would answer. */
export interface Misbehaviour {
  /** The leaves served for a page (an honest log serves the ones it hashed). */
  leaves?: (start: number, leaves: Uint8Array[]) => Uint8Array[];
  checkpoint?: (honest: string) => string;
  inclusion?: (index: number, size: number, hashes: Uint8Array[]) => Uint8Array[];
  consistency?: (from: number, to: number, hashes: Uint8Array[]) => Uint8Array[];
}

export interface TestLog {
  readonly base: string;
  /** The CA's PEM file, for --ca. */
  readonly caFile: string;
  readonly caPem: string;
  readonly pin: string;
  /** The verifier key, NAME+ID+KEY. */
  readonly key: string;
  readonly name: string;
  readonly signer: KeyObject;
  /** The events in the log, leaf by leaf. */
  readonly events: LeafEvent[];
  /** Appends events (sequence and time filled in) and signs a checkpoint of the new size: their indexes. */
  append(...events: Pick<LeafEvent, "type" | "handle" | "data">[]): number[];
  /**
   * Replaces the whole history (a registry that rewrote its database) and signs a checkpoint of
   * it, with the same key: what it serves from then on.
   */
  rewrite(events: LeafEvent[]): void;
  /** The current checkpoint, as served by an honest log. */
  note(): string;
  /** A checkpoint of `size` and `root` signed by `signer` (the log's key unless given). */
  sign(size: number, root: Uint8Array, signer?: KeyObject): string;
  misbehave: Misbehaviour;
  close(): Promise<void>;
}

export async function startTestLog(dir: string): Promise<TestLog> {
  const now = new Date();
  const authority = await makeAuthority("test registry", now);
  const server = await issueServerCertificate(authority, ["127.0.0.1"], now);
  const caFile = join(dir, "test-log-ca.pem");
  writeFileSync(caFile, authority.certificatePem);
  const signer = generateKeyPairSync("ed25519").privateKey;
  const name = logOrigin(authority.fingerprint);
  let events: LeafEvent[] = [];
  let tree = new MerkleTree();
  let note = "";
  let sequence = 0;
  const sign = (size: number, root: Uint8Array, key = signer) =>
    signNote(checkpointText({ origin: name, size, root, time: new Date().toISOString() }), name, key);
  const resign = () => {
    note = sign(tree.size, tree.root());
  };
  resign();
  const log: TestLog = {
    base: "",
    caFile,
    caPem: authority.certificatePem,
    pin: authority.fingerprint,
    key: verifierKeyText(name, rawPublicKey(signer)),
    name,
    signer,
    get events() {
      return events;
    },
    append(...added) {
      const indexes = added.map((event) => {
        sequence++;
        const full: LeafEvent = { ...event, sequence, at: new Date().toISOString() };
        events.push(full);
        tree.append(leafHash(leafOf(full)));
        return tree.size - 1;
      });
      resign();
      return indexes;
    },
    rewrite(history) {
      events = [...history];
      tree = new MerkleTree();
      for (const event of events) tree.append(leafHash(leafOf(event)));
      sequence = Math.max(sequence, ...events.map((event) => event.sequence));
      resign();
    },
    note: () => note,
    sign,
    misbehave: {},
    close: async () => {},
  };
  const https: Server = createServer(
    { key: server.keyPem, cert: server.certificatePem },
    (request, response) => {
      const url = new URL(request.url ?? "/", "https://127.0.0.1");
      const number = (name: string) => Number(url.searchParams.get(name));
      const json = (value: unknown) => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify(value));
      };
      const b64 = (hashes: Uint8Array[]) => hashes.map((hash) => Buffer.from(hash).toString("base64"));
      const { misbehave } = log;
      try {
        switch (url.pathname) {
          case "/.well-known/est/cacerts":
            response.writeHead(200, { "content-type": "application/pkcs7-mime; smime-type=certs-only" });
            response.end(base64Body(certsOnlyDer([new Uint8Array(authority.certificate.rawData)])));
            return;
          case "/v1/log/key":
            response.writeHead(200, { "content-type": "text/plain" });
            response.end(`${log.key}\n`);
            return;
          case "/v1/log/checkpoint":
            response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
            response.end(misbehave.checkpoint ? misbehave.checkpoint(note) : note);
            return;
          case "/v1/log/leaves": {
            const start = number("start");
            const end = Math.min(number("end"), start + 1000);
            const leaves = events.slice(start, end).map(leafOf);
            json({ start, leaves: b64(misbehave.leaves ? misbehave.leaves(start, leaves) : leaves) });
            return;
          }
          case "/v1/log/proof/inclusion":
          case "/v1/log/proof/consistency": {
            const inclusion = url.pathname.endsWith("inclusion");
            const [first, second] = inclusion ? ["index", "size"] : ["from", "to"];
            const [a, b] = [number(first), number(second)];
            const hashes = inclusion ? tree.inclusionProof(a, b) : tree.consistencyProof(a, b);
            const lie = inclusion ? misbehave.inclusion : misbehave.consistency;
            json({ [first]: a, [second]: b, hashes: b64(lie ? lie(a, b, hashes) : hashes) });
            return;
          }
        }
        response.writeHead(404, { "content-type": "application/json" });
        response.end('{"error":{"code":"not-found","message":"no such endpoint","exit":2}}');
      } catch (error) {
        response.writeHead(400, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: { code: "beyond-log", message: String(error), exit: 2 } }));
      }
    },
  );
  await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
  const { port } = https.address() as AddressInfo;
  return Object.assign(log, {
    base: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        https.closeAllConnections();
        https.close(() => resolve());
      }),
  });
}

/** A random handle, 32 lowercase hex digits. */
export function newHandle(): string {
  return randomBytes(16).toString("hex");
}

export function newSerial(): string {
  return `4${randomBytes(15).toString("hex")}`;
}
