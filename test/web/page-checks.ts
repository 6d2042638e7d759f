// What every test of a page in Chromium checks the same way: the message the page shows, its
// layout (no sideways scroll on a phone) with screenshots kept as artifacts, and axe-core's
// accessibility rules.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";

/** Screenshots of the owner's console at the project's root, kept by CI (`.ci/run` leaves them). */
export const PAGE_ARTIFACTS = new URL("../../test-artifacts/page/", import.meta.url).pathname;
const AXE = new URL("../../node_modules/axe-core/axe.min.js", import.meta.url).pathname;

/** The page's #message once it matches `pattern`. */
export async function message(page: Page, pattern: RegExp): Promise<string> {
  await page.waitForFunction(
    ({ source, flags }) =>
      new RegExp(source, flags).test(
        (
          globalThis as unknown as {
            document: { getElementById(id: string): { textContent: string } | null };
          }
        ).document.getElementById("message")?.textContent ?? "",
      ),
    { source: pattern.source, flags: pattern.flags },
  );
  return (await page.textContent("#message")) ?? "";
}

/** The document's width and the viewport's, in CSS pixels. */
async function widths(page: Page): Promise<{ document: number; viewport: number }> {
  return page.evaluate("({ document: document.documentElement.scrollWidth, viewport: innerWidth })");
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * axe-core run on the page as it is (injected through the debugging protocol, which the page's CSP
 * does not govern): any violation of impact serious or critical fails.
 */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  if (!(await page.evaluate("typeof axe !== 'undefined'"))) await page.evaluate(readFileSync(AXE, "utf8"));
  const violations = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))",
  )) as AxeViolation[];
  const grave = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    grave.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `axe-core on ${what}`,
  );
}

/**
 * The page at 1280 and at 360 CSS pixels wide: a full-page screenshot of each as NAME-WIDTH.png, no
 * sideways scroll at either width, and axe-core's check at both. The viewport is 1280 wide after.
 */
export async function look(page: Page, name: string): Promise<void> {
  mkdirSync(PAGE_ARTIFACTS, { recursive: true });
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    // One frame for the layout to follow the new width.
    await page.evaluate("new Promise((resolve) => requestAnimationFrame(() => resolve(null)))");
    const measured = await widths(page);
    assert.ok(
      measured.document <= measured.viewport,
      `${name} at ${width} px scrolls sideways: the document is ${measured.document} px wide`,
    );
    await page.screenshot({ path: join(PAGE_ARTIFACTS, `${name}-${width}.png`), fullPage: true });
    await assertAccessible(page, `${name} at ${width} px`);
  }
}
