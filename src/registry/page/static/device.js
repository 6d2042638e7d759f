// One device: its facts, its succession chain as a picture, and its revocation, which asks for
// the device's handle typed again before it is sent.
import { api, element, failed, say } from "./api.js";
import { chainPicture } from "./chain.js";

export function devicePanel({ revoked }) {
  const panel = document.getElementById("device-panel");
  const title = document.getElementById("device-title");
  const facts = document.getElementById("device-facts");
  const chain = document.getElementById("chain");
  const form = document.getElementById("revoke-form");
  const confirm = document.getElementById("revoke-confirm");
  const button = document.getElementById("revoke-button");
  const none = document.getElementById("revoke-none");
  /** The handle shown, or null. */
  let shown = null;
  /** Every handle of the shown chain: an event about any of them redraws it. */
  let members = new Set();

  async function show(handle, { bring = false } = {}) {
    const report = await api("GET", `/v1/devices/${encodeURIComponent(handle)}`);
    shown = handle;
    members = new Set(report.chain.map((link) => link.handle));
    render(report);
    panel.hidden = false;
    // Asked for (a link followed), the device comes into view and its heading takes the focus, so
    // a keyboard or screen reader goes on from there; redrawn for an event, it stays where it is.
    if (bring) {
      panel.scrollIntoView({ block: "start" });
      title.focus({ preventScroll: true });
    }
  }

  function render(report) {
    const { device, certificate } = report;
    const rows = [
      ["Handle", device.handle],
      ["Status", device.status],
      ["Enrolled", device.enrolledAt],
      ["Updated", device.updatedAt],
    ];
    // A listed device (imported) has none until it enrolls with its listed key.
    if (certificate === null)
      rows.push(["Certificate", "none yet: issued when it enrolls with its listed key"]);
    else {
      rows.push(["Certificate", `${certificate.serial} (${certificate.status})`]);
      rows.push(["Valid", `${certificate.notBefore} to ${certificate.notAfter}`]);
    }
    if (certificate !== null && certificate.revokedAt !== null) {
      rows.push(["Revoked", `${certificate.revokedAt} (${certificate.revocationReason})`]);
    }
    const position = report.chain.findIndex((link) => link.asked) + 1;
    rows.push([
      "Chain",
      `${report.chain.length} identit${report.chain.length === 1 ? "y" : "ies"}, this is ${position}`,
    ]);
    facts.replaceChildren(
      ...rows.flatMap(([name, value]) => [
        element("dt", { textContent: name }),
        element("dd", { textContent: value, dataset: { fact: name.toLowerCase() } }),
      ]),
    );
    chain.replaceChildren(chainPicture(report));
    const active = device.status === "active" || device.status === "listed";
    form.hidden = !active;
    none.hidden = active;
    none.textContent = active ? "" : `This identity is ${device.status}: there is nothing to revoke.`;
    confirm.value = "";
    button.disabled = true;
  }

  confirm.addEventListener("input", () => {
    button.disabled = confirm.value.trim() !== shown;
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const handle = shown;
    if (handle === null || confirm.value.trim() !== handle) {
      say("Type the device's handle exactly to confirm the revocation.", "error");
      return;
    }
    const reason = document.getElementById("revoke-reason").value;
    button.disabled = true;
    api("POST", `/v1/devices/${encodeURIComponent(handle)}/revoke`, { reason })
      .then(async (done) => {
        say(
          `Revoked ${done.handle} (${done.reason}) at ${done.revokedAt}: certificate ${done.serial ?? "none"}, event ${done.sequence}.`,
        );
        await show(handle);
        revoked();
      })
      .catch((error) => {
        button.disabled = confirm.value.trim() !== shown;
        failed(error);
      });
  });

  return {
    show: (handle) => show(handle, { bring: true }).catch(failed),
    /** Redraws the shown device when an event concerns its chain (a succession names its predecessor). */
    touched(event) {
      const concerned = members.has(event.handle) || members.has(event.data.predecessor);
      if (shown !== null && concerned) show(shown).catch(failed);
    },
    clear() {
      shown = null;
      members = new Set();
      facts.replaceChildren();
      chain.replaceChildren();
      panel.hidden = true;
    },
  };
}
