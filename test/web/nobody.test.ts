// Another local account against the owner's page (docs/spec.md §8): `nobody`, who cannot even
// list the store, reaches the loopback port like any user of the machine. It must not load the
// page, sign in, or lock the element with wrong PINs; the owner, with the link from `reid page`,
// signs in. The attacker is a real process under uid nobody (setpriv), so the test runs as root and
// fails, never skips, when it is not.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { reid, reidOk } from "../helpers/cli.js";
import { finished } from "../helpers/process.js";
import { PageClient, PIN, type ServedPage, servedPage, status, type WebDaemon } from "./helpers.js";

/**
 * What nobody runs: plain HTTP to 127.0.0.1:PORT with the page's own Host and Origin, as a browser
 * on the page would send them. `load` fetches the page's files and API reads; `lock` signs in with a
 * wrong PIN `tries` times, waiting out each back-off the page names. One JSON line per answer.
 */
const ATTACKER = `
const http = require("node:http");
const [mode, port, tries] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3] || 0)];
const origin = "http://localhost:" + port;
let cookie = "";
function send(method, path, body, headers) {
  return new Promise((resolve) => {
    const request = http.request({ host: "127.0.0.1", port, method, path, headers: {
      host: "localhost:" + port, origin, ...(cookie ? { cookie } : {}), ...headers } }, (response) => {
      const set = response.headers["set-cookie"];
      if (set) cookie = set[0].split(";")[0];
      let text = "";
      response.on("data", (chunk) => { text += chunk; if (path === "/api/events") response.destroy(); });
      const done = () => { let json = null; try { json = JSON.parse(text); } catch {}
        resolve({ path, status: response.statusCode, text: text.slice(0, 400), code: json?.error?.code ?? null, json }); };
      response.on("end", done); response.on("close", done);
    });
    request.on("error", (error) => resolve({ path, status: 0, text: String(error), code: null, json: null }));
    request.end(body);
  });
}
(async () => {
  if (mode === "load") {
    for (const path of ["/", "/app.js", "/style.css", "/vendor/simplewebauthn-browser.js", "/api/session", "/api/status", "/api/events"]) {
      const { json, ...reply } = await send("GET", path);
      console.log(JSON.stringify(reply));
    }
    return;
  }
  let counted = 0;
  for (let sent = 0; counted < tries && sent < 40; sent++) {
    const session = await send("GET", "/api/session");
    const csrf = session.json?.csrf ?? "";
    const reply = await send("POST", "/api/sign-in/pin", JSON.stringify({ pin: "000000" }),
      { "content-type": "application/json", "x-csrf-token": csrf });
    console.log(JSON.stringify({ path: reply.path, status: reply.status, code: reply.code, text: reply.text }));
    const wait = /try again in (\\d+) s/.exec(reply.text);
    if (wait) await new Promise((r) => setTimeout(r, Number(wait[1]) * 1000 + 100));
    else counted++;
  }
})();
`;

interface Answer {
  readonly path: string;
  readonly status: number;
  readonly code: string | null;
  readonly text: string;
}

/** Runs the attacker as uid nobody, gid nogroup, no supplementary groups. */
async function asNobody(args: readonly string[]): Promise<Answer[]> {
  const child = spawn(
    "setpriv",
    ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, "-e", ATTACKER, ...args],
    { env: { PATH: process.env.PATH }, cwd: "/", stdio: ["ignore", "pipe", "pipe"] },
  );
  const result = await finished(child);
  assert.equal(result.code, 0, `the attacker did not run: ${result.stderr.toString()}`);
  return result.stdout
    .toString()
    .trim()
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Answer);
}

describe("another local account (nobody) against the owner's page", () => {
  let served: ServedPage;
  let store: string;
  let pinFile: string;
  let daemon: WebDaemon;

  before(async () => {
    assert.equal(
      process.getuid?.(),
      0,
      "this test acts as the account nobody through setpriv, which needs root: run it as root",
    );
    served = await servedPage("reid-web-nobody-");
    ({ store, pinFile, daemon } = served);
  });

  after(() => served?.close());

  test("nobody loads neither the page, nor its files, nor its API, nor its event stream", async () => {
    const answers = await asNobody(["load", String(daemon.port)]);
    assert.equal(answers.length, 7);
    for (const answer of answers) {
      assert.notEqual(answer.status, 0, `${answer.path}: ${answer.text}`);
      assert.ok(answer.status >= 400, `${answer.path} answered ${answer.status}: ${answer.text}`);
      assert.match(answer.text, /open the link from .?reid page/, answer.path);
      assert.doesNotMatch(answer.text, /app\.js|simplewebauthn|"csrf"|"generation"/, answer.path);
    }
  });

  test("nobody's wrong PINs, waited out one by one, neither sign in nor lock the element", async () => {
    const answers = await asNobody(["lock", String(daemon.port), "7"]);
    assert.ok(answers.length >= 7, JSON.stringify(answers));
    for (const answer of answers) assert.notEqual(answer.status, 200, answer.text);
    const owner = (await status(store)).owner;
    assert.equal(owner.locked, false, "the element was locked by another account");
    assert.equal(owner.failures, 0, "another account's tries were counted against the owner's PIN");
    // The owner's PIN still works at the terminal, with no recovery code.
    const before = (await status(store)).generation;
    await reidOk(["--store", store, "--pin-file", pinFile, "reset"]);
    assert.equal((await status(store)).generation, before + 1);
  });

  test("the owner, with the link from `reid page`, signs in", async () => {
    const link = await reidOk(["--store", store, "page"]);
    assert.match(link.stdout.trim(), new RegExp(`^http://localhost:${daemon.port}/\\S+$`));
    const client = new PageClient(daemon);
    const reply = await client.signInWithPin(PIN);
    assert.equal(reply.json.signedIn, true);
    assert.equal((await client.get("/api/status")).status, 200);
    // The owner's `reid page` is the owner's account's alone: nobody cannot run it against the store.
    const stranger = await reid(["--store", store, "page"], { uid: 65534, gid: 65534 });
    assert.notEqual(stranger.code, 0);
    assert.doesNotMatch(stranger.stdout, /http:\/\//);
  });
});
