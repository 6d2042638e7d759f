// The fleet: a page of devices at a time in handle order (the API's keyset paging: "More" asks
// for the next page after the last handle shown), all or those of one status.
import { api, deviceLink, element, failed, short } from "./api.js";

const PAGE = 50;

export function fleetPanel() {
  const list = document.getElementById("fleet");
  const more = document.getElementById("fleet-more");
  const count = document.getElementById("fleet-count");
  const status = document.getElementById("fleet-status");
  let after = null;
  let shown = 0;

  async function load(next) {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (status.value) query.set("status", status.value);
    if (next) query.set("after", next);
    const page = await api("GET", `/v1/devices?${query}`);
    if (!next) {
      list.replaceChildren();
      shown = 0;
    }
    for (const device of page.devices) list.append(row(device));
    shown += page.devices.length;
    after = page.after;
    more.hidden = after === null;
    const which = status.value ? `${status.value} ` : "";
    count.textContent = `${shown} ${which}device${shown === 1 ? "" : "s"}${after === null ? "" : " so far"}`;
  }

  function row(device) {
    return element("li", { dataset: { handle: device.handle, status: device.status } }, [
      element("a", { className: "handle", href: deviceLink(device.handle), textContent: device.handle }),
      element("span", { className: `status status-${device.status}`, textContent: device.status }),
      element("span", { className: "when", textContent: `enrolled ${device.enrolledAt}` }),
      element("span", {
        className: "links",
        textContent: `previous ${short(device.predecessor)}, next ${short(device.successor)}`,
      }),
    ]);
  }

  document.getElementById("fleet-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    load(null).catch(failed);
  });
  status.addEventListener("change", () => load(null).catch(failed));
  more.addEventListener("click", () => load(after).catch(failed));

  return {
    load: () => load(null),
    clear() {
      list.replaceChildren();
      count.textContent = "";
      more.hidden = true;
    },
  };
}
