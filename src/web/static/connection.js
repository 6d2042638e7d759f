// The page's line to the daemon. The page is served by `reid serve` itself, so when the daemon
// stops, every call fails with the browser's bare "TypeError: Failed to fetch": here that becomes
// words, the controls are greyed out (a disabled fieldset, an inert main), and the page asks again
// every few seconds until the daemon answers.

import { ApiError, callJson } from "./json-call.js";

export const UNREACHABLE =
  "The daemon is not answering (is reid serve running?). What needs it is greyed out; this page reconnects by itself.";
const RETRY_MS = 2000;

export class Connection {
  /** `onBack(session)` runs when the daemon answers again; `onEnded(error)` when it answers but the session is gone. */
  constructor({ onLost, onBack, onEnded }) {
    this.csrf = "";
    this.offline = false;
    this.retry = null;
    this.onLost = onLost;
    this.onBack = onBack;
    this.onEnded = onEnded;
  }

  /** A call to the page's API; a daemon that does not answer is an ApiError with code "unreachable". */
  async call(method, path, body) {
    try {
      const result = await callJson(method, path, body, this.csrf);
      this.answered();
      return result;
    } catch (error) {
      if (error instanceof ApiError) {
        this.answered();
        throw error;
      }
      this.lost();
      throw new ApiError(UNREACHABLE, "unreachable", 0);
    }
  }

  /** Whether the daemon still answers (after the event stream broke, say); marks it lost if not. */
  async check() {
    try {
      await callJson("GET", "/api/session", undefined, this.csrf);
    } catch (error) {
      if (!(error instanceof ApiError)) this.lost();
    }
  }

  lost() {
    if (this.offline) return;
    this.offline = true;
    greyOut(true);
    const banner = document.getElementById("connection");
    banner.textContent = UNREACHABLE;
    banner.hidden = false;
    this.onLost();
    this.retry = setInterval(() => this.probe(), RETRY_MS);
  }

  async probe() {
    let session;
    try {
      session = await callJson("GET", "/api/session", undefined, this.csrf);
    } catch (error) {
      if (!(error instanceof ApiError)) return;
      // It answers, but a restart signed everyone out: only a new link opens the page again.
      this.answered();
      this.onEnded(error);
      return;
    }
    this.answered();
    this.onBack(session);
  }

  answered() {
    if (!this.offline) return;
    this.offline = false;
    clearInterval(this.retry);
    this.retry = null;
    greyOut(false);
    document.getElementById("connection").hidden = true;
  }
}

function greyOut(on) {
  document.getElementById("controls").disabled = on;
  document.querySelector("main").inert = on;
  document.body.classList.toggle("offline", on);
}
