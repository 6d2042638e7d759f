// The owner's page. A plain browser module, loaded from this origin only (the CSP allows no inline
// script); WebAuthn goes through @simplewebauthn/browser (the SimpleWebAuthnBrowser global). The
// page never sees the identifier: the API does not send it.

import { ApiError, callJson } from "./json-call.js";

(() => {
  const $ = (id) => document.getElementById(id);
  /** The session's CSRF token, sent as X-CSRF-Token on every state-changing call. */
  let csrf = "";
  let signedIn = false;
  let events = null;

  const api = (method, path, body) => callJson(method, path, body, csrf);

  function say(text, kind) {
    const message = $("message");
    message.textContent = text;
    message.dataset.kind = kind;
    message.hidden = false;
  }

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  async function loadSession() {
    const session = await api("GET", "/api/session");
    csrf = session.csrf;
    renderSession(session);
    return session;
  }

  function renderSession(session) {
    signedIn = session.signedIn;
    const pinSet = session.owner.pin;
    show("no-pin", !pinSet);
    show("sign-in", pinSet && !session.signedIn);
    show("owner", pinSet && session.signedIn);
    show("sign-out", session.signedIn);
    $("who").textContent = session.signedIn ? `signed in (${session.principal})` : "";
    $("passkey-count").textContent =
      session.passkeyCount === 1 ? "(1 registered)" : `(${session.passkeyCount} registered)`;
    $("passkey-sign-in").disabled = session.passkeyCount === 0;
    if (session.signedIn) {
      renderPasskeys(session.passkeys);
      startEvents();
      loadStatus().catch(failed);
      loadPairing().catch(failed);
    } else {
      stopEvents();
      closePairing();
    }
  }

  async function loadStatus() {
    const status = await api("GET", "/api/status");
    $("status-state").textContent = status.state;
    $("status-generation").textContent = String(status.generation);
    $("status-handle").textContent = status.handle ?? "none";
    $("status-mode").textContent = `${status.mode} (${status.requests}), source ${status.source}`;
    $("status-format").textContent = status.format;
    $("status-sealed").textContent = status.sealed ? "yes" : "no";
    const owner = status.owner;
    $("status-pin").textContent = owner.locked
      ? "LOCKED: unlock with 'reid pin unlock' and the recovery code"
      : `set, ${owner.failures} wrong ${owner.failures === 1 ? "try" : "tries"}`;
    const list = $("scheduled");
    list.replaceChildren();
    for (const entry of status.scheduled) {
      const item = document.createElement("li");
      item.dataset.id = entry.id;
      item.textContent = `${entry.type} at ${entry.at}${entry.format ? ` (${entry.format})` : ""} `;
      const cancel = document.createElement("button");
      cancel.type = "button";
      cancel.textContent = "Cancel";
      cancel.className = "cancel";
      cancel.addEventListener("click", () =>
        act(`cancel:${entry.id}`, (proof) =>
          api("POST", `/api/schedule/${encodeURIComponent(entry.id)}/cancel`, { proof }),
        ).then((done) => done && say(`Cancelled the ${entry.type} at ${entry.at}.`, "ok")),
      );
      item.append(cancel);
      list.append(item);
    }
    if (status.scheduled.length === 0) list.append(textItem("nothing scheduled"));
  }

  /** Whether this daemon serves a device role: the pairing button works only then. */
  async function loadPairing() {
    const pairing = await api("GET", "/api/pairing");
    const seconds = $("pairing-seconds");
    seconds.max = String(pairing.maxSeconds);
    if (!seconds.dataset.touched) seconds.value = String(pairing.defaultSeconds);
    $("pair-button").disabled = pairing.device === null;
    $("pairing-state").textContent =
      pairing.device === null
        ? "This daemon serves no device role: start it with 'reid serve --device' to pair users."
        : `Users bind to this device at ${pairing.device.address}, only inside a window you open, with its setup code.`;
  }

  let countdown = null;

  /** The code and its QR code while the window is open; both go when it closes. */
  function showPairing(opened) {
    $("pairing-bind").textContent = `reid bind ${opened.address} --expect-handle ${opened.handle}`;
    $("pairing-code").textContent = opened.code;
    // The server's SVG, parsed as SVG (never as HTML) and adopted: markup, no script, no data: URL.
    const svg = new DOMParser().parseFromString(opened.qr, "image/svg+xml").documentElement;
    $("pairing-qr").replaceChildren(document.importNode(svg, true));
    show("pairing-open", true);
    clearInterval(countdown);
    const until = Date.parse(opened.until);
    const tick = () => {
      const left = Math.max(0, Math.round((until - Date.now()) / 1000));
      if (left === 0) return closePairing("The pairing window has closed.");
      $("pairing-countdown").textContent =
        `Open for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} more (${opened.tries} wrong codes close it; one bind spends it).`;
    };
    countdown = setInterval(tick, 1000);
    tick();
  }

  function closePairing(text) {
    clearInterval(countdown);
    countdown = null;
    $("pairing-code").textContent = "";
    $("pairing-qr").replaceChildren();
    show("pairing-open", false);
    if (text) say(text, "ok");
  }

  function renderPasskeys(passkeys) {
    const list = $("passkeys");
    list.replaceChildren();
    for (const passkey of passkeys) {
      const item = textItem(
        `${passkey.id.slice(0, 16)}… added ${passkey.created}, last used ${passkey.lastUsed ?? "never"} `,
      );
      item.dataset.id = passkey.id;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.addEventListener("click", () =>
        act(`remove-passkey:${passkey.id}`, (proof) =>
          api("POST", `/api/passkeys/${encodeURIComponent(passkey.id)}/remove`, { proof }),
        ).then((done) => done && loadSession().then(() => say("Passkey removed.", "ok"))),
      );
      item.append(remove);
      list.append(item);
    }
    if (passkeys.length === 0) list.append(textItem("no passkey registered"));
  }

  function textItem(text) {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }

  function startEvents() {
    if (events) return;
    events = new EventSource("/api/events");
    events.addEventListener("ready", () => {
      $("events-state").textContent = "(connected)";
    });
    events.addEventListener("request", (event) => {
      const n = JSON.parse(event.data);
      const item = textItem(
        `${n.time}  ${n.request}${n.scheduled ? " (scheduled)" : ""} -> ${n.state}, generation ${n.generation}, handle ${n.handle ?? "none"}`,
      );
      item.dataset.request = n.request;
      item.dataset.generation = String(n.generation);
      $("events").prepend(item);
      loadStatus().catch(failed);
    });
    events.addEventListener("signed-out", () => {
      stopEvents();
      loadSession().catch(failed);
    });
    events.addEventListener("error", () => {
      $("events-state").textContent = "(disconnected)";
    });
  }

  function stopEvents() {
    events?.close();
    events = null;
    $("events-state").textContent = "";
  }

  /** The fresh proof for one operation: the PIN typed again, or a passkey answering a new challenge. */
  async function proofFor(intent) {
    if ($("proof-kind-pin").checked) {
      const pin = $("proof-pin").value;
      $("proof-pin").value = "";
      if (!pin) throw new ApiError("type the PIN to confirm this operation", "pin-missing", 0);
      return { pin };
    }
    const optionsJSON = await api("POST", "/api/proof/options", { intent });
    return { passkey: await SimpleWebAuthnBrowser.startAuthentication({ optionsJSON }) };
  }

  /** Runs one owner operation with its own proof; true when it was done. */
  async function act(intent, call) {
    try {
      const proof = await proofFor(intent);
      await call(proof);
      // The session too: the passkey list shows when each was last used.
      await loadSession();
      return true;
    } catch (error) {
      failed(error);
      return false;
    }
  }

  function failed(error) {
    say(describe(error), "error");
    if (error instanceof ApiError && error.status === 401) loadSession().catch(lost);
    else if (signedIn) loadStatus().catch(() => undefined);
  }

  /** The session ended and only a new link of `reid page` opens another: the page shows just that. */
  function lost(error) {
    if (!(error instanceof ApiError) || error.code !== "no-link") return;
    signedIn = false;
    for (const id of ["no-pin", "sign-in", "owner", "sign-out"]) show(id, false);
    say(error.message, "error");
  }

  function describe(error) {
    if (error instanceof ApiError) return error.message;
    // The browser's own refusal (no user verification, cancelled, timed out): nothing was sent.
    if (error?.name === "NotAllowedError") {
      return "The passkey was not used: the authenticator did not verify you, or the prompt was cancelled (NotAllowedError).";
    }
    return `${error?.name ?? "Error"}: ${error?.message ?? String(error)}`;
  }

  function request(type) {
    const format = $("request-format").value.trim();
    return act(type, (proof) =>
      api("POST", "/api/requests", format ? { type, format, proof } : { type, proof }).then((n) =>
        say(`${n.request} done: ${n.state}, generation ${n.generation}, handle ${n.handle ?? "none"}`, "ok"),
      ),
    );
  }

  $("pin-sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    const pin = $("sign-in-pin").value;
    $("sign-in-pin").value = "";
    try {
      renderSession(await api("POST", "/api/sign-in/pin", { pin }).then(rememberCsrf));
      say("Signed in with the PIN.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("passkey-sign-in").addEventListener("click", async () => {
    try {
      const optionsJSON = await api("POST", "/api/sign-in/passkey/options", {});
      const response = await SimpleWebAuthnBrowser.startAuthentication({ optionsJSON });
      renderSession(await api("POST", "/api/sign-in/passkey", { response }).then(rememberCsrf));
      say("Signed in with a passkey.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("sign-out").addEventListener("click", async () => {
    try {
      stopEvents();
      renderSession(await api("POST", "/api/sign-out", {}).then(rememberCsrf));
      say("Signed out.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("register-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const pin = $("register-pin").value;
    $("register-pin").value = "";
    try {
      if (!pin) throw new ApiError("type the PIN again to register a passkey", "pin-missing", 0);
      const optionsJSON = await api("POST", "/api/passkeys/options", {});
      const response = await SimpleWebAuthnBrowser.startRegistration({ optionsJSON });
      await api("POST", "/api/passkeys", { response, pin });
      await loadSession();
      say("Passkey registered.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  // The proof form only holds the proof; Enter in it submits nothing.
  $("proof-form").addEventListener("submit", (event) => event.preventDefault());

  $("do-init").addEventListener("click", () => request("init"));
  $("do-reset").addEventListener("click", () => request("reset"));
  $("do-erase").addEventListener("click", () => request("erase"));

  $("schedule-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const type = $("schedule-type").value;
    const local = $("schedule-at").value;
    const format = $("schedule-format").value.trim();
    if (!local) return say("choose a time", "error");
    // datetime-local is local time without a zone; the API wants an instant.
    const at = new Date(local).toISOString();
    act(`schedule-${type}`, (proof) =>
      api("POST", "/api/schedule", format ? { type, at, format, proof } : { type, at, proof }),
    ).then((done) => done && say(`Scheduled ${type} at ${at}.`, "ok"));
  });

  $("pairing-seconds").addEventListener("input", (event) => {
    event.target.dataset.touched = "yes";
  });

  $("pairing-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const seconds = Number($("pairing-seconds").value);
    act("pair", (proof) => api("POST", "/api/pairing", { seconds, proof }).then(showPairing)).then(
      (done) => done && say("Pairing window open: give the user the setup code.", "ok"),
    );
  });

  function rememberCsrf(session) {
    csrf = session.csrf;
    return session;
  }

  loadSession().catch(failed);
})();
