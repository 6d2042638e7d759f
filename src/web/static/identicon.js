// A handle's visual fingerprint: a 5x5 grid, mirrored left to right, drawn from the handle's bytes,
// so two elements are told apart at a glance (as ssh's randomart or GitHub's identicons do). It is a
// convenience for the eye, never a check: the handle itself is what the owner compares.

const SVG = "http://www.w3.org/2000/svg";

/** The handle's bytes (it is hex); anything else is hashed by its character codes alone. */
function bytesOf(handle) {
  if (/^(?:[0-9a-f]{2})+$/i.test(handle)) {
    return handle.match(/../g).map((pair) => Number.parseInt(pair, 16));
  }
  return [...handle].map((c) => c.codePointAt(0) & 0xff);
}

/**
 * An <svg> for `handle`: the first byte picks the hue, the next two which of the 15 cells of the
 * left three columns are filled; the right two columns mirror the left two. Colours are SVG
 * attributes (the CSP allows no inline style).
 */
export function identicon(handle, label) {
  const bytes = bytesOf(handle);
  const hue = Math.round(((bytes[0] ?? 0) / 256) * 360);
  const bits = ((bytes[1] ?? 0) << 8) | (bytes[2] ?? 0);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 5 5");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("shape-rendering", "crispEdges");
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("width", "5");
  background.setAttribute("height", "5");
  background.setAttribute("fill", `hsl(${hue} 30% 92%)`);
  svg.append(background);
  for (let row = 0; row < 5; row++) {
    for (let column = 0; column < 3; column++) {
      if (!((bits >> (row * 3 + column)) & 1)) continue;
      for (const x of column === 2 ? [2] : [column, 4 - column]) {
        const cell = document.createElementNS(SVG, "rect");
        cell.setAttribute("x", String(x));
        cell.setAttribute("y", String(row));
        cell.setAttribute("width", "1");
        cell.setAttribute("height", "1");
        cell.setAttribute("fill", `hsl(${hue} 65% 38%)`);
        svg.append(cell);
      }
    }
  }
  return svg;
}
