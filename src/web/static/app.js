// The owner's console. A plain browser module, loaded from this origin only (the CSP allows no
// inline script); WebAuthn goes through @simplewebauthn/browser (the SimpleWebAuthnBrowser global).
// The page never sees the identifier: the API does not send it. Every operation carries its own
// fresh proof (the PIN typed again, or a passkey answering a challenge made for that operation).

import { Connection } from "./connection.js";
import { identicon } from "./identicon.js";
import { ApiError } from "./json-call.js";

(() => {
  const $ = (id) => document.getElementById(id);
  let session = null;
  let events = null;
  /** The erase confirmation the element expects: the handle's short form, or "erase" without one. */
  let eraseExpected = "erase";

  const connection = new Connection({
    onLost: () => stopEvents(),
    onBack: (fresh) => {
      connection.csrf = fresh.csrf;
      renderSession(fresh);
      say("Reconnected to the daemon.", "ok");
    },
    onEnded: (error) => lost(error, "The daemon is back, but its restart ended this session."),
  });
  const api = (method, path, body) => connection.call(method, path, body);

  function say(text, kind) {
    const message = $("message");
    message.textContent = text;
    message.dataset.kind = kind;
    message.hidden = false;
  }

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  function item(text) {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }

  function button(text, onClick, className) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (className) b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  function short(handle) {
    return handle ? handle.slice(0, 8) : "none";
  }

  /** Who did something, for people: a passkey by its name, never by its credential id. */
  function principalName(principal) {
    if (principal === "web:pin") return "the PIN";
    if (principal?.startsWith("web:passkey")) {
      const id = principal.slice("web:passkey:".length);
      const known = session?.passkeys?.find((p) => p.id === id);
      return known?.name ? `passkey “${known.name}”` : "a passkey";
    }
    return principal ?? "";
  }

  // ---- the session ----

  async function loadSession() {
    const fresh = await api("GET", "/api/session");
    connection.csrf = fresh.csrf;
    renderSession(fresh);
    return fresh;
  }

  function renderSession(fresh) {
    session = fresh;
    const pinSet = session.owner.pin;
    const recovering = !$("recovery").hidden;
    show("status-panel", true);
    show("first-run", !pinSet || recovering);
    show("pin-set-form", !pinSet && !recovering);
    show("sign-in", pinSet && !session.signedIn && !recovering);
    show("recovery-unlock", pinSet && !recovering);
    show("owner", pinSet && session.signedIn);
    show("sign-out", session.signedIn);
    $("status-panel").classList.toggle("signed-in", session.signedIn);
    $("who").textContent = session.signedIn ? `signed in with ${principalName(session.principal)}` : "";
    $("passkey-count").textContent =
      session.passkeyCount === 1 ? "(1 registered)" : `(${session.passkeyCount} registered)`;
    $("passkey-sign-in").disabled = session.passkeyCount === 0;
    loadStatus().catch(failed);
    if (session.signedIn) {
      renderPasskeys(session.passkeys);
      startEvents();
      for (const load of [loadPairing, loadBindings, loadKeys, loadAudit, loadConfig]) load().catch(failed);
    } else {
      stopEvents();
      closePairing();
      renderUnlock(null);
    }
  }

  /** The session ended and only a new link of `reid page` opens another: the page shows just that. */
  function lost(error, why) {
    if (!(error instanceof ApiError) || error.code !== "no-link") return;
    session = null;
    stopEvents();
    for (const id of [
      "status-panel",
      "first-run",
      "sign-in",
      "recovery-unlock",
      "owner",
      "sign-out",
      "device",
    ])
      show(id, false);
    renderUnlock(null);
    $("who").textContent = "";
    say(why ? `${why} ${error.message}` : error.message, "error");
  }

  // ---- status ----

  async function loadStatus() {
    const status = await api("GET", "/api/status");
    $("status-state").textContent = status.state;
    $("status-generation").textContent = String(status.generation);
    $("status-handle").textContent = status.handle ?? "none";
    $("status-mode").textContent = status.requests ? `${status.mode} (${status.requests})` : status.mode;
    showHandle(status.handle);
    eraseExpected = status.handle ? short(status.handle) : "erase";
    $("erase-expected").textContent = eraseExpected;
    if (!status.owner) return;
    $("status-format").textContent = status.format;
    $("status-sealed").textContent = status.sealed ? "yes" : "no";
    const owner = status.owner;
    $("status-pin").textContent = owner.locked
      ? "LOCKED: unlock with the recovery code (below, or 'reid pin unlock')"
      : `set, ${owner.failures} wrong ${owner.failures === 1 ? "try" : "tries"}`;
    renderUnlock(owner.unlockedUntil);
    $("mode-now").textContent =
      `The identifier comes from ${status.mode === "factory" ? "the factory source" : `the TRNG (${status.source})`}.`;
    $("mode-random").disabled = status.mode === "random";
    $("mode-factory").disabled = status.mode === "factory";
    $("seal-state").textContent = status.sealed
      ? "The identifier is stored sealed under a key-encryption key."
      : "The identifier is stored unsealed: sealing wraps it under the daemon's key-encryption key.";
    $("do-seal").disabled = status.sealed;
    renderSchedule(status.scheduled);
  }

  /** The handle in the header: its short form and its fingerprint, to tell elements apart at a glance. */
  function showHandle(handle) {
    show("device", handle !== null);
    if (handle === null) return;
    $("handle-short").textContent = short(handle);
    $("identicon").replaceChildren(identicon(handle, `fingerprint of handle ${short(handle)}`));
  }

  function renderSchedule(scheduled) {
    const list = $("scheduled");
    list.replaceChildren();
    for (const entry of scheduled) {
      const li = item(`${entry.type} at ${entry.at}${entry.format ? ` (${entry.format})` : ""} `);
      li.dataset.id = entry.id;
      li.append(
        button(
          "Cancel",
          () =>
            act(`cancel:${entry.id}`, (proof) =>
              api("POST", `/api/schedule/${encodeURIComponent(entry.id)}/cancel`, { proof }),
            ).then((done) => done && say(`Cancelled the ${entry.type} at ${entry.at}.`, "ok")),
          "cancel",
        ),
      );
      list.append(li);
    }
    if (scheduled.length === 0) list.append(item("nothing scheduled"));
  }

  // ---- the unlock window ----

  let unlockEnds = null;

  /**
   * The owner's unlock window as the status says it: its end in the header and the panel, and a
   * timer that takes it off the page when it ends (the daemon ends it by its own clock).
   */
  function renderUnlock(until) {
    clearTimeout(unlockEnds);
    unlockEnds = null;
    const end = until ? Date.parse(until) : Number.NaN;
    const open = session?.signedIn === true && end > Date.now();
    const time = open ? new Date(end).toLocaleTimeString() : "";
    $("unlocked-badge").textContent = open ? `unlocked until ${time}` : "";
    show("unlocked-badge", open);
    $("status-unlocked").textContent = open ? `open until ${until}` : "closed";
    $("unlock-state").textContent = open
      ? `Unlocked until ${time}: reid command, telemetry, enroll and renew run without the PIN until then.`
      : "Locked: reid command, telemetry, enroll and renew need the PIN.";
    $("unlock-state").dataset.open = String(open);
    $("lock-button").disabled = !open;
    if (open) {
      // setTimeout holds at most 2^31-1 ms; a 12 h window is well inside.
      unlockEnds = setTimeout(() => {
        renderUnlock(null);
        if (session?.signedIn) loadStatus().catch(failed);
      }, end - Date.now());
    }
  }

  // ---- settings ----

  const SETTINGS = ["single-type", "passkeys-bypass-lockout"];

  async function loadConfig() {
    const config = await api("GET", "/api/config");
    for (const setting of SETTINGS) {
      const on = config[setting] === true;
      $(`config-${setting}`).textContent = on ? "on" : "off";
      const toggle = $(`config-${setting}-toggle`);
      toggle.textContent = `Turn ${setting} ${on ? "off" : "on"}`;
      toggle.dataset.next = on ? "off" : "on";
    }
    $("config-format").textContent = config.format;
  }

  // ---- bytes for the signing panel ----

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function fromHex(hex) {
    return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
  }

  /** A file to save without a round trip: the CSP governs fetches and images, not a download link. */
  function dataLink(link, bytes, type, name) {
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    link.href = `data:${type};base64,${btoa(binary)}`;
    link.download = name;
  }

  const MAX_MESSAGE = 1024 * 1024;

  /** The message to sign or check: the file chosen, else the text typed (UTF-8). */
  async function messageBytes() {
    const file = $("sign-file").files[0];
    const bytes = file
      ? new Uint8Array(await file.arrayBuffer())
      : new TextEncoder().encode($("sign-text").value);
    if (bytes.length === 0) throw new ApiError("type a message or choose a file", "message-missing", 0);
    if (bytes.length > MAX_MESSAGE)
      throw new ApiError("the page signs messages of 1 MiB at most: use reid sign", "too-large", 0);
    return bytes;
  }

  function csrLink() {
    const subject = $("csr-subject").value.trim();
    $("csr-download").href =
      `/api/csr?algorithm=${encodeURIComponent($("sign-algorithm").value)}${subject ? `&subject=${encodeURIComponent(subject)}` : ""}`;
  }

  // ---- pairing ----

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

  // ---- bindings ----

  async function loadBindings() {
    const { bindings } = await api("GET", "/api/bindings");
    for (const [role, id, none] of [
      ["user", "bound-users", "no user is bound"],
      ["device", "bound-devices", "bound to no device"],
    ]) {
      const list = $(id);
      list.replaceChildren();
      for (const entry of bindings.filter((b) => b.role === role)) list.append(bindingItem(entry));
      if (list.childElementCount === 0) list.append(item(none));
    }
    // The user role: commands and telemetry go to a device this element is bound to.
    const devices = bindings.filter((b) => b.role === "device");
    const target = $("device-target");
    const chosen = target.value;
    target.replaceChildren(
      ...devices.map((d) => {
        const option = document.createElement("option");
        option.value = d.handle;
        option.textContent = `${short(d.handle)} at ${d.address}`;
        return option;
      }),
    );
    if (devices.some((d) => d.handle === chosen)) target.value = chosen;
    show("device-form", devices.length > 0);
    if (devices.length === 0) $("telemetry").replaceChildren();
  }

  function bindingItem(entry) {
    const li = document.createElement("li");
    li.dataset.handle = entry.handle;
    li.className = "with-mark";
    const mark = document.createElement("span");
    mark.className = "identicon small";
    mark.append(identicon(entry.handle, `fingerprint of handle ${short(entry.handle)}`));
    const text = document.createElement("span");
    text.textContent = `${short(entry.handle)}${entry.address ? ` at ${entry.address}` : ""}, bound ${entry.bound} `;
    text.title = entry.handle;
    li.append(
      mark,
      text,
      button(`Unbind ${short(entry.handle)}`, () =>
        act(`unbind:${entry.handle}`, (proof) =>
          api("POST", `/api/bindings/${encodeURIComponent(entry.handle)}/unbind`, { proof }),
        ).then((done) => {
          if (!done) return;
          say(`Unbound ${short(entry.handle)}.`, "ok");
          loadBindings().catch(failed);
        }),
      ),
    );
    return li;
  }

  // ---- keys and the certificate ----

  const KEY_NAMES = { ed25519: "Ed25519", x25519: "X25519", p256: "P-256" };

  async function loadKeys() {
    const keys = await api("GET", "/api/keys");
    const list = $("keys");
    list.replaceChildren();
    for (const [alg, name] of Object.entries(KEY_NAMES)) {
      const li = document.createElement("li");
      li.dataset.alg = alg;
      const hex = document.createElement("code");
      hex.textContent = `${keys[alg].slice(0, 16)}…`;
      hex.title = keys[alg];
      const link = document.createElement("a");
      link.href = `/api/keys/${alg}.pem`;
      link.download = "";
      link.textContent = `Download the ${name} public key (PEM)`;
      li.append(`${name} `, hex, " ", link);
      list.append(li);
    }
    certificateLink();
  }

  function certificateLink() {
    const days = $("cert-days").value.trim() || "365";
    $("cert-download").href =
      `/api/certificate?algorithm=${encodeURIComponent($("cert-algorithm").value)}&days=${encodeURIComponent(days)}`;
  }

  // ---- the audit log ----

  async function loadAudit() {
    const log = await api("GET", "/api/log");
    const verdict = $("audit-verdict");
    const { intact } = log.verdict;
    verdict.dataset.intact = String(intact);
    verdict.textContent = intact
      ? `reid log --verify: the chain is intact (${log.verdict.records} records${log.verdict.from ? `, from #${log.verdict.from}` : ""}); the newest ${log.records.length} ${log.records.length === 1 ? "entry" : "entries"} below.`
      : `reid log --verify: the chain is BROKEN: ${log.verdict.problem}`;
    const list = $("audit");
    list.replaceChildren();
    for (const record of log.records) {
      const li = item(
        `#${record.seq} ${record.time} ${record.request} by ${principalName(record.principal)}: ${record.outcome} (generation ${record.generation})`,
      );
      li.dataset.request = record.request;
      li.dataset.outcome = record.outcome;
      if (record.outcome !== "ok" && record.outcome !== "pending") li.className = "refused";
      list.append(li);
    }
    if (log.records.length === 0) list.append(item("no records"));
  }

  // ---- passkeys ----

  function renderPasskeys(passkeys) {
    const list = $("passkeys");
    list.replaceChildren();
    for (const passkey of passkeys) {
      const name = passkey.name ?? "unnamed";
      const li = item(`${name}: added ${passkey.created}, last used ${passkey.lastUsed ?? "never"} `);
      li.dataset.id = passkey.id;
      li.append(
        button(`Remove ${name}`, () =>
          act(`remove-passkey:${passkey.id}`, (proof) =>
            api("POST", `/api/passkeys/${encodeURIComponent(passkey.id)}/remove`, { proof }),
          ).then((done) => done && loadSession().then(() => say(`Passkey “${name}” removed.`, "ok"))),
        ),
      );
      list.append(li);
    }
    if (passkeys.length === 0) list.append(item("no passkey registered"));
  }

  // ---- live events ----

  function startEvents() {
    if (events) return;
    events = new EventSource("/api/events");
    events.addEventListener("ready", () => {
      $("events-state").textContent = "(connected)";
    });
    events.addEventListener("request", (event) => {
      const n = JSON.parse(event.data);
      const li = item(
        `${n.time} ${n.request}${n.scheduled ? " (scheduled)" : ""}: ${n.state}, generation ${n.generation}, handle ${short(n.handle)}`,
      );
      li.dataset.request = n.request;
      li.dataset.generation = String(n.generation);
      $("events").prepend(li);
      loadStatus().catch(failed);
      loadAudit().catch(failed);
    });
    events.addEventListener("signed-out", () => {
      stopEvents();
      loadSession().catch(failed);
    });
    events.addEventListener("error", () => {
      $("events-state").textContent = "(disconnected)";
      // The stream breaks when the daemon stops: find out whether it still answers.
      connection.check();
    });
  }

  function stopEvents() {
    events?.close();
    events = null;
    $("events-state").textContent = "";
  }

  // ---- operations ----

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
    if (error instanceof ApiError && error.code === "unreachable") return;
    say(describe(error), "error");
    if (error instanceof ApiError && error.status === 401) loadSession().catch(lost);
    else if (session?.signedIn) {
      loadStatus().catch(() => undefined);
      loadAudit().catch(() => undefined);
    }
  }

  function describe(error) {
    if (error instanceof ApiError) return error.message;
    // The browser's own refusal (no user verification, cancelled, timed out): nothing was sent.
    if (error?.name === "NotAllowedError") {
      return "The passkey was not used: the authenticator did not verify you, or the prompt was cancelled (NotAllowedError).";
    }
    return `Something went wrong in the page: ${error?.message ?? String(error)}`;
  }

  function request(type, extra = {}) {
    const format = $("request-format").value.trim();
    return act(type, (proof) =>
      api("POST", "/api/requests", { type, ...(format ? { format } : {}), ...extra, proof }).then((n) =>
        say(`${n.request} done: ${n.state}, generation ${n.generation}, handle ${short(n.handle)}`, "ok"),
      ),
    );
  }

  // ---- forms ----

  /** A new recovery code, shown once until "I have written it down". */
  function showNewRecovery(code) {
    $("new-recovery-code").textContent = code;
    show("recovery-unlock-form", false);
    show("new-recovery", true);
    $("new-recovery-done").focus();
  }

  $("pin-set-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const newPin = $("new-pin").value;
    const again = $("new-pin-again").value;
    try {
      if (newPin !== again)
        throw new ApiError("the two PINs differ: type the same PIN twice", "pin-mismatch", 0);
      const { recoveryCode } = await api("POST", "/api/pin", { newPin });
      $("new-pin").value = "";
      $("new-pin-again").value = "";
      $("recovery-code").textContent = recoveryCode;
      show("pin-set-form", false);
      show("recovery", true);
      say("The owner PIN is set.", "ok");
      $("recovery-done").focus();
    } catch (error) {
      failed(error);
      // Set meanwhile (by `reid pin set`): the page moves on to sign-in.
      if (error instanceof ApiError && error.code === "pin-already-set") loadSession().catch(failed);
    }
  });

  $("recovery-done").addEventListener("click", async () => {
    // Shown once: it leaves the page now.
    $("recovery-code").textContent = "";
    show("recovery", false);
    try {
      await loadSession();
      $("sign-in-pin").focus();
      say("Now sign in with the PIN.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("pin-sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    const pin = $("sign-in-pin").value;
    $("sign-in-pin").value = "";
    try {
      const fresh = await api("POST", "/api/sign-in/pin", { pin });
      connection.csrf = fresh.csrf;
      renderSession(fresh);
      say("Signed in with the PIN.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("passkey-sign-in").addEventListener("click", async () => {
    try {
      const optionsJSON = await api("POST", "/api/sign-in/passkey/options", {});
      const response = await SimpleWebAuthnBrowser.startAuthentication({ optionsJSON });
      const fresh = await api("POST", "/api/sign-in/passkey", { response });
      connection.csrf = fresh.csrf;
      renderSession(fresh);
      say("Signed in with a passkey.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("sign-out").addEventListener("click", async () => {
    try {
      stopEvents();
      const fresh = await api("POST", "/api/sign-out", {});
      connection.csrf = fresh.csrf;
      renderSession(fresh);
      say("Signed out.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("register-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("register-name").value.trim();
    const pin = $("register-pin").value;
    $("register-pin").value = "";
    try {
      if (!name) throw new ApiError("give the passkey a name (laptop, phone…)", "name-missing", 0);
      if (!pin) throw new ApiError("type the PIN again to register a passkey", "pin-missing", 0);
      const optionsJSON = await api("POST", "/api/passkeys/options", {});
      const response = await SimpleWebAuthnBrowser.startRegistration({ optionsJSON });
      await api("POST", "/api/passkeys", { response, pin, name });
      $("register-name").value = "";
      await loadSession();
      say(`Passkey “${name}” registered.`, "ok");
    } catch (error) {
      failed(error);
    }
  });

  // The proof form only holds the proof; Enter in it submits nothing.
  $("proof-form").addEventListener("submit", (event) => event.preventDefault());

  $("do-init").addEventListener("click", () => request("init"));
  $("do-reset").addEventListener("click", () => request("reset"));
  $("erase-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const confirm = $("erase-confirm").value.trim();
    // Checked here first so that no proof is asked for in vain; the element checks it again.
    if (confirm.toLowerCase() !== eraseExpected) {
      say(`To erase, type ${eraseExpected} in the box first: an erase cannot be undone.`, "error");
      $("erase-confirm").focus();
      return;
    }
    request("erase", { confirm }).then((done) => {
      if (done) $("erase-confirm").value = "";
    });
  });

  for (const mode of ["random", "factory"]) {
    $(`mode-${mode}`).addEventListener("click", () => {
      const unlinkable = mode === "random" && $("mode-unlinkable").checked;
      act(`mode-${mode}`, (proof) =>
        api("POST", "/api/mode", { mode, ...(unlinkable ? { unlinkable } : {}), proof }),
      ).then((done) => done && say(`Switched to ${mode} mode.`, "ok"));
    });
  }

  $("do-seal").addEventListener("click", () =>
    act("seal", (proof) => api("POST", "/api/seal", { proof })).then(
      (done) => done && say("The identifier is sealed.", "ok"),
    ),
  );

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

  $("unlock-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const seconds = Number($("unlock-seconds").value);
    let until = null;
    act("unlock", (proof) =>
      api("POST", "/api/unlock", { seconds, proof }).then((opened) => {
        until = opened.until;
      }),
    ).then((done) => done && say(`Unlocked until ${new Date(until).toLocaleTimeString()}.`, "ok"));
  });

  $("lock-button").addEventListener("click", async () => {
    try {
      const { was } = await api("POST", "/api/lock", {});
      await loadStatus();
      say(was ? "Locked: the unlock window is closed." : "The unlock window was already closed.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("pin-change-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const pin = $("pin-change-present").value;
    const newPin = $("pin-change-new").value;
    const again = $("pin-change-again").value;
    for (const id of ["pin-change-present", "pin-change-new", "pin-change-again"]) $(id).value = "";
    try {
      if (!pin) throw new ApiError("type the present PIN: it proves a PIN change", "pin-missing", 0);
      if (newPin !== again)
        throw new ApiError("the two new PINs differ: type the same PIN twice", "pin-mismatch", 0);
      const { recoveryCode } = await api("POST", "/api/pin/change", { pin, newPin });
      await loadSession();
      if (recoveryCode) showNewRecovery(recoveryCode);
      say("PIN changed.", "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("recovery-unlock-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const recoveryCode = $("recovery-unlock-code").value.trim();
    $("recovery-unlock-code").value = "";
    try {
      if (!recoveryCode) throw new ApiError("type the recovery code", "code-missing", 0);
      const unlocked = await api("POST", "/api/pin/unlock", { recoveryCode });
      showNewRecovery(unlocked.recoveryCode);
      say("Unlocked with the recovery code; it is spent.", "ok");
      await loadSession();
    } catch (error) {
      failed(error);
    }
  });

  $("new-recovery-done").addEventListener("click", () => {
    // Shown once: it leaves the page now.
    $("new-recovery-code").textContent = "";
    show("new-recovery", false);
    show("recovery-unlock-form", true);
  });

  for (const setting of SETTINGS) {
    $(`config-${setting}-toggle`).addEventListener("click", (event) => {
      const next = event.currentTarget.dataset.next;
      act(`${setting}-${next}`, (proof) =>
        api("POST", "/api/config", { setting, on: next === "on", proof }),
      ).then((done) => {
        if (!done) return;
        say(`${setting} is ${next}.`, "ok");
        loadConfig().catch(failed);
      });
    });
  }

  $("sign-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const algorithm = $("sign-algorithm").value;
      const message = toHex(await messageBytes());
      const signed = await api("POST", "/api/sign", { algorithm, message });
      $("signed-algorithm").textContent = signed.algorithm;
      $("signature-hex").textContent = signed.signature;
      // The raw signature, as `reid sign --out` writes it.
      dataLink(
        $("signature-download"),
        fromHex(signed.signature),
        "application/octet-stream",
        `reid-${short(signed.handle)}-${signed.algorithm}.sig`,
      );
      show("signed", true);
      say(`Signed with the ${signed.algorithm} key.`, "ok");
    } catch (error) {
      failed(error);
    }
  });

  $("verify-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = $("verify-result");
    result.textContent = "";
    delete result.dataset.valid;
    try {
      const file = $("verify-file").files[0];
      const typed = $("verify-hex").value.trim();
      if (!file && !typed)
        throw new ApiError("choose the signature file, or paste its hex", "signature-missing", 0);
      // The file's bytes or the hex typed: the daemon tells raw from hex as `reid verify` does.
      const signature = toHex(
        file ? new Uint8Array(await file.arrayBuffer()) : new TextEncoder().encode(typed),
      );
      const message = toHex(await messageBytes());
      const checked = await api("POST", "/api/verify", { message, signature });
      result.dataset.valid = String(checked.valid);
      result.textContent = checked.valid
        ? `signature verifies: handle ${checked.handle}, ${checked.algorithm}`
        : checked.candidates.length > 0
          ? `the signature does NOT verify under handle ${checked.handle} (${checked.candidates.join(" or ")})`
          : "the signature is neither an Ed25519 signature (64 bytes) nor an ECDSA P-256 one (DER)";
    } catch (error) {
      failed(error);
    }
  });

  $("sign-algorithm").addEventListener("change", csrLink);
  $("csr-subject").addEventListener("input", csrLink);
  $("csr-form").addEventListener("submit", (event) => event.preventDefault());

  $("export-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("export-key").files[0];
    let key = null;
    try {
      if (!file) throw new ApiError("choose the wrap key file (32 bytes)", "key-missing", 0);
      key = new Uint8Array(await file.arrayBuffer());
      if (key.length !== 32)
        throw new ApiError(
          `the wrap key file must hold exactly 32 bytes; it has ${key.length}`,
          "bad-key-file",
          0,
        );
      const wrapKey = toHex(key);
      let exported = null;
      const done = await act("export", (proof) =>
        api("POST", "/api/export", { wrapKey, proof }).then((answer) => {
          exported = answer;
        }),
      );
      if (!done) return;
      $("exported-generation").textContent = String(exported.generation);
      $("exported-hex").textContent = exported.wrapped;
      // As `reid export` prints it: hex, one line.
      dataLink(
        $("exported-download"),
        new TextEncoder().encode(`${exported.wrapped}\n`),
        "text/plain",
        `reid-${short(exported.handle)}-wrapped.hex`,
      );
      show("exported", true);
      say("Exported, wrapped under your key.", "ok");
    } catch (error) {
      failed(error);
    } finally {
      key?.fill(0);
      // The key file leaves the page with the operation.
      $("export-key").value = "";
    }
  });

  $("bind-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const address = $("bind-address").value.trim();
    const handle = $("bind-handle").value.trim().toLowerCase();
    const code = $("bind-code").value;
    // The setup code leaves the form at once, whatever happens next.
    $("bind-code").value = "";
    let bound = null;
    act(`bind:${handle}`, (proof) =>
      api("POST", "/api/bind", { address, handle, code, proof }).then((r) => {
        bound = r;
      }),
    ).then((done) => {
      if (!done) return;
      say(`Bound to device ${short(bound.device)} at ${bound.address}.`, "ok");
      $("bind-address").value = "";
      $("bind-handle").value = "";
      loadBindings().catch(failed);
    });
  });

  $("device-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const handle = $("device-target").value;
    const name = $("command-name").value.trim();
    const text = $("command-args").value.trim();
    const args = text ? text.split(/\s+/) : [];
    let receipt = null;
    act(`command:${handle}`, (proof) =>
      api("POST", `/api/bindings/${encodeURIComponent(handle)}/command`, { name, args, proof }).then((r) => {
        receipt = r;
      }),
    ).then(
      (done) =>
        done &&
        say(`Device ${short(receipt.device)} accepted '${receipt.name}' (command ${receipt.counter}).`, "ok"),
    );
  });

  $("telemetry-read").addEventListener("click", () => {
    const handle = $("device-target").value;
    const count = Number($("telemetry-count").value);
    let result = null;
    act(`telemetry:${handle}`, (proof) =>
      api("POST", `/api/bindings/${encodeURIComponent(handle)}/telemetry`, { count, proof }).then((r) => {
        result = r;
      }),
    ).then((done) => {
      if (!done) return;
      // As `reid telemetry` prints them: time, sensor, value; opened by this element alone (HPKE).
      $("telemetry").replaceChildren(...result.readings.map((r) => item(`${r.time} ${r.sensor} ${r.value}`)));
      say(
        `${result.readings.length} ${result.readings.length === 1 ? "reading" : "readings"} from ${short(result.device)}.`,
        "ok",
      );
    });
  });

  $("cert-algorithm").addEventListener("change", certificateLink);
  $("cert-days").addEventListener("input", certificateLink);
  $("cert-form").addEventListener("submit", (event) => event.preventDefault());
  $("audit-reload").addEventListener("click", () => loadAudit().catch(failed));
  $("bindings-reload").addEventListener("click", () => loadBindings().catch(failed));

  loadSession().catch((error) =>
    error instanceof ApiError && error.status === 401 ? lost(error) : failed(error),
  );
})();
