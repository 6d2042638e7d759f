// A device's succession chain as a picture: an inline SVG timeline, first identity at the top,
// each identity a node (its handle's short form, its status, when it was enrolled and when it
// stopped being active) linked to the next by the succession that replaced it. Each node is a
// link to that identity's view, so the chain is walked both ways from any of them. Built with DOM
// calls from the report of `registry show` (no markup parsed, nothing inline for the CSP to refuse).
import { deviceLink, short } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 320;
const NODE = 64;
const GAP = 30;
const TOP = 6;
const RAIL = 14;
const LEFT = 30;

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** What a node says of when its identity stopped being active: its status and that time. */
function ended(link) {
  return link.status === "active" ? "active now" : `${link.status} ${link.updatedAt}`;
}

/** The picture of `report.chain`; the identity the report is about is marked (aria-current). */
export function chainPicture(report) {
  const chain = report.chain;
  const height = TOP * 2 + chain.length * NODE + (chain.length - 1) * GAP;
  const picture = svg("svg", {
    width: WIDTH,
    height,
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "list",
    "aria-labelledby": "chain-title",
  });
  chain.forEach((link, i) => {
    const y = TOP + i * (NODE + GAP);
    const centre = y + NODE / 2;
    if (i > 0) {
      // The succession from the one above to this one: the rail between their dots, an arrow down.
      const above = centre - NODE - GAP;
      picture.append(
        svg("line", { class: "line", x1: RAIL, y1: above + 6, x2: RAIL, y2: centre - 12 }),
        svg("path", {
          class: "arrow",
          d: `M${RAIL - 5} ${centre - 14} L${RAIL + 5} ${centre - 14} L${RAIL} ${centre - 7} Z`,
        }),
        svg("text", { class: "link", x: LEFT + 6, y: y - GAP / 2 + 4 }, "succeeded by ↓ (its predecessor ↑)"),
      );
    }
    const number = i + 1;
    const label = `identity ${number} of ${chain.length}: ${link.handle}, ${link.status}, enrolled ${link.enrolledAt}${
      link.status === "active" ? "" : `, ${link.status} ${link.updatedAt}`
    }${link.asked ? " (shown)" : ""}`;
    const anchor = svg("a", {
      href: deviceLink(link.handle),
      role: "listitem",
      "aria-label": label,
      class: link.asked ? "asked" : "",
      "data-handle": link.handle,
      "data-status": link.status,
    });
    if (link.asked) anchor.setAttribute("aria-current", "true");
    anchor.append(
      svg("title", {}, label),
      svg("rect", { class: "node", x: LEFT, y, width: WIDTH - LEFT - 4, height: NODE, rx: 6 }),
      svg("text", { class: "title", x: LEFT + 8, y: y + 18 }, `#${number}  ${short(link.handle)}`),
      svg(
        "text",
        { class: `status-${link.status}`, x: WIDTH - 12, y: y + 18, "text-anchor": "end" },
        link.status,
      ),
      svg("text", { x: LEFT + 8, y: y + 36 }, `enrolled ${link.enrolledAt}`),
      svg("text", { x: LEFT + 8, y: y + 53 }, ended(link)),
    );
    picture.append(anchor, svg("circle", { class: `dot-${link.status}`, cx: RAIL, cy: centre, r: 6 }));
  });
  return picture;
}
