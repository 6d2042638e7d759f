// The layering of src/: every import points down the layers below (so no cycle among its top-level
// folders; type-only and dynamic imports count), nothing in web/ or binding/ imports daemon/ (the
// daemon composes them, not the other way round), the element imports nothing of the surfaces that
// use it (binding/, web/, daemon/, http/, cli/),
// and the page reaches the element and the binding only through their APIs: from element/, binding/
// and auth/ it imports the APIs' types, the input checks every surface shares, the views built on the
// API alone and the Actor, never the control unit, the service or the owner's PIN. The checker is first run on small trees with known faults, so it
// cannot pass by finding nothing.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { tempDir } from "../helpers/temp.js";
import { around, cycles, describeCycle, folderArrows, forbidden, importsOf, upward } from "./imports.js";

const SRC = new URL("../../src/", import.meta.url).pathname;

function tree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/**
 * The layers of src/, top first: a folder imports only from layers below its own. The CLI composes
 * everything; the daemon composes the element with the page, the binding and the enrollment
 * (the element's side of a registry); the page also drives the binding's operations for the owner,
 * so the binding lies below it; these and the fleet registry (a server of its own, beside them,
 * never knowing an element) speak HTTP through http/, and what the registry and the
 * enrollment share (the EST wire, the succession statement) lies below both; the element drives storage, entropy and the factory side through the owner's gate and the
 * audit log; the TPM and PKCS#11 clients and the formats know nothing above them.
 */
const LAYERS = [
  ["cli"],
  ["daemon"],
  ["web", "registry", "enrollment"],
  ["binding"],
  ["http"],
  ["element"],
  ["audit", "auth", "factory", "derive"],
  ["storage"],
  ["tpm", "pkcs11", "format", "entropy"],
  ["errors"],
  ["types"],
] as const;

/**
 * What the page may import from the element, the binding and auth: their APIs, the input checks
 * every surface shares and the views built on the API alone, nothing of their insides.
 */
const PAGE_SEES = {
  from: ["web"],
  into: ["element", "auth", "binding"],
  through: [
    "element/api.ts",
    "element/inputs.ts",
    "element/request.ts",
    "element/settings-view.ts",
    "element/verify-signature.ts",
    "auth/actor.ts",
    "binding/api.ts",
    "binding/inputs.ts",
  ],
};

/** What the checks below report for the tree at `root`: empty when it is clean. */
function faults(root: string): string[] {
  const imports = importsOf(root);
  const arrows = folderArrows(imports);
  return [
    ...cycles(arrows).map((component) => describeCycle(component, arrows)),
    ...forbidden(imports, { from: ["web", "binding"], to: "daemon" }),
    // The registry is the server side of a fleet: it knows certificates and handles, never an element
    // nor the binding of one element to another.
    ...forbidden(imports, { from: ["registry"], to: "element" }),
    ...forbidden(imports, { from: ["registry"], to: "binding" }),
    ...around(imports, PAGE_SEES),
  ];
}

/** Arrows against the layers of src/. */
function againstLayers(root: string): string[] {
  return upward(folderArrows(importsOf(root)), LAYERS);
}

describe("the import check", () => {
  test("finds a cycle made of a type-only and a dynamic import, and an import into daemon/", (t) => {
    const { dir } = tempDir(t);
    tree(dir, {
      "errors.ts": "export class E {}\n",
      "a/one.ts": 'import type { B } from "../b/two.js";\nimport { E } from "../errors.js";\n',
      "b/two.ts": 'export type B = 1;\nexport const load = () => import("../c/three.js");\n',
      // A string and a comment that look like imports are not imports.
      "c/three.ts":
        'import { x } from "../a/one.js";\nconst s = "import { y } from \'../d/four.js\'";\n// import "../d/four.js";\n',
      "d/four.ts": 'export * from "../errors.js";\n',
      "web/page.ts": 'import { run } from "../daemon/server.js";\n',
      "daemon/server.ts": 'import { page } from "../web/page.js";\n',
      "binding/ok.ts": 'import "node:http";\nimport { E } from "../errors.js";\n',
    });
    assert.deepEqual(faults(dir), [
      "cycle among a, b, c:\n  a -> b: a/one.ts\n  b -> c: b/two.ts\n  c -> a: c/three.ts",
      "cycle among daemon, web:\n  daemon -> web: daemon/server.ts\n  web -> daemon: web/page.ts",
      "web/page.ts imports daemon/server.ts",
    ]);
  });

  test("a tree whose arrows all point one way passes", (t) => {
    const { dir } = tempDir(t);
    tree(dir, {
      "errors.ts": "export class E {}\n",
      "a/one.ts": 'import type { B } from "../b/two.js";\n',
      "b/two.ts": 'export const load = () => import("../errors.js");\n',
      "daemon/server.ts": 'import { page } from "../web/page.js";\nimport "../binding/ok.js";\n',
      "web/page.ts": 'import { E } from "../errors.js";\n',
      "binding/ok.ts": 'export { E } from "../errors.js";\n',
    });
    assert.deepEqual(faults(dir), []);
  });
});

describe("the layers", () => {
  test("an arrow up or across the layers is found with its files, and so is a folder in no layer", (t) => {
    const { dir } = tempDir(t);
    tree(dir, {
      "errors.ts": "export class E {}\n",
      // What the element imported before the daemon composed it with the bindings.
      "element/api.ts": 'import type { BindingApi } from "../binding/api.js";\n',
      "element/element.ts": 'import { bindingCompanion } from "../binding/companion.js";\n',
      "binding/api.ts": 'import type { E } from "../errors.js";\n',
      "binding/companion.ts": 'export const load = () => import("../web/address.js");\n',
      "web/address.ts": 'import { E } from "../errors.js";\n',
      "entropy/source.ts": 'import type { S } from "../storage/store.js";\n',
      "storage/store.ts": 'import type { E } from "../errors.js";\n',
      "stray/thing.ts": 'import { E } from "../errors.js";\n',
    });
    assert.deepEqual(againstLayers(dir), [
      "binding -> web points up or across: binding/companion.ts",
      "element -> binding points up or across: element/api.ts, element/element.ts",
      "entropy -> storage points up or across: entropy/source.ts",
      "stray is in no layer",
    ]);
  });
});

describe("the registry", () => {
  test("an import of the element from registry/, or of the daemon or the binding, is found", (t) => {
    const { dir } = tempDir(t);
    tree(dir, {
      "errors.ts": "export class E {}\n",
      "registry/enroll.ts":
        'import type { ElementApi } from "../element/api.js";\nimport "../derive/certificate.js";\n',
      "registry/serve.ts":
        'export const later = () => import("../daemon/server.js");\nimport "../binding/api.js";\n',
      "element/api.ts": 'import { E } from "../errors.js";\n',
      "derive/certificate.ts": 'import { E } from "../errors.js";\n',
      "daemon/server.ts": 'import { E } from "../errors.js";\n',
      "binding/api.ts": 'import { E } from "../errors.js";\n',
    });
    assert.deepEqual(faults(dir), [
      "registry/enroll.ts imports element/api.ts",
      "registry/serve.ts imports binding/api.ts",
    ]);
    assert.deepEqual(againstLayers(dir), ["registry -> daemon points up or across: registry/serve.ts"]);
  });
});

describe("the page's way to the element", () => {
  test("an import of the control unit, the service or the owner's PIN from web/ is found, type-only or not", (t) => {
    const { dir } = tempDir(t);
    // The imports web/app.ts had before the page went through ElementApi.
    tree(dir, {
      "web/app.ts": [
        'import type { Actor } from "../auth/actor.js";',
        'import { OwnerPin } from "../auth/owner-pin.js";',
        'import type { ElementStatus } from "../element/control-unit.js";',
        'import { REQUEST_TYPES, scheduleTime } from "../element/inputs.js";',
        'import type { ElementService } from "../element/service.js";',
        'import { answerErrors } from "../http/answer.js";',
        "",
      ].join("\n"),
      "web/later.ts": 'export const gate = () => import("../element/owner-gate.js");\n',
      "web/fine.ts": 'import type { ElementApi } from "../element/api.js";\n',
      "daemon/server.ts": 'import { ElementService } from "../element/service.js";\n',
    });
    assert.deepEqual(around(importsOf(dir), PAGE_SEES), [
      "web/app.ts imports auth/owner-pin.ts",
      "web/app.ts imports element/control-unit.ts",
      "web/app.ts imports element/service.ts",
      "web/later.ts imports element/owner-gate.ts",
    ]);
  });
});

describe("src/", () => {
  test("no cycle among its folders, no import from web/ or binding/ into daemon/, and web/ reaches the element only by its API", () => {
    const found = faults(SRC);
    assert.deepEqual(found, [], `\n${found.join("\n")}`);
  });

  test("every import points down the layers: the element below its surfaces, entropy below storage", () => {
    const found = againstLayers(SRC);
    assert.deepEqual(found, [], `\n${found.join("\n")}`);
  });
});
