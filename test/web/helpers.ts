import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type CDPSession, chromium, type Page } from "playwright-core";
import { REID, reidJson, reidOk } from "../helpers/cli.js";
import { freePort } from "../helpers/ports.js";
import { type Finished, finished } from "../helpers/process.js";

export const PIN = "correct horse 42";
export const ARTIFACTS = new URL("../../.test-artifacts/web/", import.meta.url).pathname;

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Debian's Chromium, headless, driven by playwright-core; `args` are Chromium's own (a pin, say). */
export async function launch(args: readonly string[] = []): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-system-deps as root`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...args] });
}

/** A full-page screenshot of `page` into ARTIFACTS as NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Whether a script injected inline runs on `page`: under the pages' CSP it must not. */
export async function inlineScriptRuns(page: Page): Promise<boolean> {
  interface Globals {
    readonly document: {
      createElement(tag: string): { textContent: string | null };
      readonly body: { append(node: unknown): void };
    };
    readonly injected?: boolean;
  }
  await page.evaluate(() => {
    const { document } = globalThis as unknown as Globals;
    const script = document.createElement("script");
    script.textContent = "window.injected = true";
    document.body.append(script);
  });
  return (await page.evaluate(() => (globalThis as unknown as Globals).injected)) === true;
}

/**
 * A virtual passkey authenticator on `page` that verifies its user and answers at once, as a
 * platform authenticator with a fingerprint would; the session that drives it and its id.
 */
export async function virtualAuthenticator(
  page: Page,
): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/** Writes the PIN to a 0600 file in `dir` and sets it on the store with `reid pin set`. */
export async function setPin(dir: string, store: string, pin = PIN): Promise<string> {
  const file = join(dir, "pin");
  writeFileSync(file, `${pin}\n`, { mode: 0o600 });
  await reidOk(["--store", store, "pin", "set", "--new-pin-file", file]);
  return file;
}

export interface Status {
  state: string;
  generation: number;
  handle: string | null;
  owner: {
    pin: boolean;
    failures: number;
    locked: boolean;
    passkeysBypassLockout: boolean;
    unlockedUntil: string | null;
  };
  scheduled: { id: string; type: string; at: string }[];
}

/** `reid status --json`: through the daemon while one serves the store. */
export function status(store: string): Promise<Status> {
  return reidJson<Status>(["--store", store, "status"]);
}

export interface AuditRecord {
  seq: number;
  request: string;
  principal: string;
  outcome: string;
  generation: number;
}

export async function auditLog(store: string): Promise<AuditRecord[]> {
  return (await reidJson<{ records: AuditRecord[] }>(["--store", store, "log"])).records;
}

/**
 * What a refusal must leave as it was: the identifier, the mode, sealing, the PIN counter, the
 * schedule, the audit log (through the daemon while one serves the store).
 */
export async function snapshot(store: string) {
  const s = await reidJson<Status & { mode: string; sealed: boolean }>(["--store", store, "status"]);
  return {
    generation: s.generation,
    handle: s.handle,
    mode: s.mode,
    sealed: s.sealed,
    failures: s.owner.failures,
    scheduled: s.scheduled.length,
    audit: (await auditLog(store)).length,
  };
}

export { freePort };

export interface WebDaemon {
  readonly pid: number;
  readonly port: number;
  /** http://localhost:PORT */
  readonly origin: string;
  /** A one-time sign-in link from `reid page`, as the owner's account gets it. */
  link(): Promise<string>;
  /** SIGTERM by PID; resolves with the exit. */
  stop(): Promise<Finished>;
}

export interface ServeOptions {
  /** Global options before `serve` (--kek-file FILE, say). */
  readonly globals?: readonly string[];
  /** The page's port (a daemon started again where it was); a free one when absent. */
  readonly port?: number;
}

/**
 * Starts `reid [GLOBALS...] serve --web 127.0.0.1:PORT [EXTRA...]` as a child process and waits for the line
 * that names the page's URL. A port taken between the probe and the bind (exit 2, "in use") is tried again.
 */
export async function serveWeb(
  store: string,
  extra: readonly string[] = [],
  options: ServeOptions = {},
): Promise<WebDaemon> {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort());
    const globals = options.globals ?? [];
    const args = [REID, "--store", store, ...globals, "serve", "--web", `127.0.0.1:${port}`, ...extra];
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = finished(child);
    exited.catch(() => undefined);
    const pid = child.pid;
    assert.ok(pid !== undefined, "cannot start reid serve");
    let out = "";
    const url = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 20_000);
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /the owner's page is at (http:\/\/\S+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      process.kill(pid, "SIGTERM");
      // A daemon that does not stop on SIGTERM is a failure of its own; it is not left running.
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGKILL");
      }, 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    };
    if (url !== null) {
      assert.equal(url, `http://localhost:${port}/`);
      const link = async () => (await reidOk(["--store", store, "page"])).stdout.trim();
      return { pid, port, origin: `http://localhost:${port}`, link, stop };
    }
    const result = await stop();
    if (attempt < 3 && options.port === undefined && /in use/.test(result.stderr.toString())) continue;
    assert.fail(
      `reid serve --web did not start (exit ${result.code ?? result.signal}): stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(result.stderr.toString())}`,
    );
  }
}

/** A store with the owner's PIN set and an identifier, its daemon serving the page. */
export interface ServedPage {
  readonly dir: string;
  readonly store: string;
  readonly pinFile: string;
  readonly daemon: WebDaemon;
  /** Stops the daemon and removes the directory. */
  close(): Promise<void>;
}

export async function servedPage(prefix: string): Promise<ServedPage> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = join(dir, "store");
  const pinFile = await setPin(dir, store);
  await reidOk(["--store", store, "--pin-file", pinFile, "init"]);
  const daemon = await serveWeb(store);
  return {
    dir,
    store,
    pinFile,
    daemon,
    close: async () => {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A refusal of the page's API: its status, its code, and a one-line message without a stack trace. */
export function assertRefused(reply: Reply, httpStatus: number, code: string): void {
  assert.equal(reply.status, httpStatus, reply.text);
  assert.equal(reply.json?.error?.code, code, reply.text);
  assert.deepEqual(Object.keys(reply.json.error).sort(), ["code", "exit", "message"]);
  assert.equal(typeof reply.json.error.message, "string");
  assert.doesNotMatch(reply.json.error.message, /\n|node:internal|\.[jt]s:\d+:\d+/, "no stack trace");
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for JSON bodies
  readonly json: any;
}

/**
 * A plain HTTP client for the page's API, as a browser on the page would call it: to 127.0.0.1 with
 * Host localhost:PORT, a cookie jar of one cookie, Origin and the CSRF token (each can be left out
 * or forged to test the refusals).
 */
export class PageClient {
  cookie: string | null = null;
  csrf = "";
  readonly port: number;
  /** The loopback address to connect from (the page keeps a rate-limit bucket per address). */
  localAddress: string | undefined;

  /** A client of `daemon`'s page; it opens a link of `reid page` before its first session. */
  constructor(private readonly daemon: Pick<WebDaemon, "port" | "link">) {
    this.port = daemon.port;
  }

  get origin(): string {
    return `http://localhost:${this.port}`;
  }

  /** Opens a fresh link of `reid page`: the page's answer (a redirect to / with a new session cookie). */
  async openLink(): Promise<Reply> {
    const link = new URL(await this.daemon.link());
    const reply = await this.get(`${link.pathname}${link.search}`);
    assert.equal(reply.status, 303, reply.text);
    assert.equal(reply.headers.location, "/");
    return reply;
  }

  async open(): Promise<Reply> {
    if (!this.cookie) await this.openLink();
    const reply = await this.get("/api/session");
    assert.equal(reply.status, 200, reply.text);
    this.csrf = reply.json.csrf;
    return reply;
  }

  async signInWithPin(pin = PIN): Promise<Reply> {
    if (!this.csrf) await this.open();
    const reply = await this.post("/api/sign-in/pin", { pin });
    assert.equal(reply.status, 200, reply.text);
    this.csrf = reply.json.csrf;
    return reply;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.send("GET", path, undefined, headers);
  }

  /** A POST with the page's Origin and the session's CSRF token unless `headers` says otherwise (null: leave out). */
  post(path: string, body: unknown, headers: Record<string, string | null> = {}): Promise<Reply> {
    const all: Record<string, string | null> = {
      origin: this.origin,
      "x-csrf-token": this.csrf,
      "content-type": "application/json",
      ...headers,
    };
    const sent = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null)) as Record<
      string,
      string
    >;
    return this.send("POST", path, JSON.stringify(body), sent);
  }

  send(
    method: string,
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: this.port,
          ...(this.localAddress ? { localAddress: this.localAddress } : {}),
          method,
          path,
          headers: {
            host: `localhost:${this.port}`,
            ...(this.cookie ? { cookie: this.cookie } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const setCookie = res.headers["set-cookie"]?.[0];
            if (setCookie) this.cookie = setCookie.split(";")[0] ?? null;
            const text = Buffer.concat(chunks).toString("utf8");
            let json: unknown = null;
            try {
              json = JSON.parse(text);
            } catch {}
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
}
