// The operator's page (docs/spec.md §10.11). Plain browser modules from this origin only (the CSP
// allows no inline script): sign-in with the operator token, then the fleet, one device's chain,
// revocation, enrollment tokens and the live events, all through the session.
import { api, failed, SESSION_LOST, say, setCsrf } from "./api.js";
import { devicePanel } from "./device.js";
import { eventsPanel, SHOWN } from "./events.js";
import { fleetPanel } from "./fleet.js";
import { tokensPanel } from "./tokens.js";

const $ = (id) => document.getElementById(id);
const RESUME_MS = 2000;

const fleet = fleetPanel();
const device = devicePanel({ revoked: () => fleet.load().catch(failed) });
const tokens = tokensPanel();
const events = eventsPanel({
  onEvent: (event) => device.touched(event),
  // The server ended the stream: signed out or expired (the page goes back to sign-in), or it could
  // not read the database (the page goes on after the last event shown, a little later).
  onEnd: () =>
    loadSession()
      .then(() => signedIn && setTimeout(() => signedIn && events.resume(), RESUME_MS))
      .catch(failed),
});
let signedIn = false;

async function loadSession() {
  render(await api("GET", "/session"));
}

function render(session) {
  setCsrf(session.csrf);
  const was = signedIn;
  signedIn = session.signedIn;
  $("sign-in").hidden = signedIn;
  $("operator").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  $("who").textContent = signedIn ? "signed in as the operator" : "";
  if (signedIn && !was) {
    fleet.load().catch(failed);
    events.start(Math.max(0, session.lastEventSequence - SHOWN));
    route();
  } else if (!signedIn) {
    fleet.clear();
    device.clear();
    tokens.clear();
    events.clear();
  }
}

/** #device=HANDLE shows that device: links in the fleet, the chain and the back button lead there. */
function route() {
  const match = /^#device=([0-9a-f]{32})$/.exec(location.hash);
  if (signedIn && match) device.show(match[1]);
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const field = $("sign-in-token");
  const token = field.value.trim();
  // The token leaves the page with this one request; the field forgets it at once.
  field.value = "";
  api("POST", "/sign-in", { token })
    .then((session) => {
      $("message").hidden = true;
      render(session);
    })
    .catch(failed);
});

$("sign-out").addEventListener("click", () => {
  api("POST", "/sign-out", {})
    .then((session) => {
      render(session);
      say("Signed out.");
    })
    .catch(failed);
});

document.addEventListener(SESSION_LOST, () => {
  if (signedIn) {
    loadSession()
      .then(() => say("The session ended: sign in again.", "error"))
      .catch(failed);
  }
});
window.addEventListener("hashchange", route);

loadSession().catch(failed);
