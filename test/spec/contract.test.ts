// docs/spec.md is the contract: its lists come from the code's tables. The daemon API of §6.4 is
// DAEMON_API (every operation with its method, path, owner flag and input fields, nothing more), the
// binding messages of §7.3 are DEVICE_MESSAGES (request and answer fields too), and every error code
// the source raises is in §3.4 with its exit code. Each check is first shown to fail on a page with a
// row taken out, a row made up or a flag flipped, and on a source tree with a code of its own.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { PROOF_REFUSAL_REASONS } from "../../src/auth/proofs.js";
import { DEVICE_MESSAGES } from "../../src/binding/messages.js";
import { DAEMON_API } from "../../src/daemon/routes.js";
import { pkcs11Codes } from "../../src/pkcs11/errors.js";
import { OPERATOR_OPERATIONS } from "../../src/registry/api/operations.js";
import { tempDir } from "../helpers/temp.js";
import { type Raised, raisedCodes } from "./raised-codes.js";
import {
  bindingMessages,
  builtOperations,
  daemonOperations,
  differences,
  errorCodes,
  operatorOperations,
  subsection,
} from "./spec-tables.js";

const SPEC = readFileSync(new URL("../../docs/spec.md", import.meta.url), "utf8");
const SRC = new URL("../../src/", import.meta.url).pathname;

const daemonBuilt = () => [
  ...builtOperations(DAEMON_API.element.operations),
  ...builtOperations(DAEMON_API.binding.operations),
  ...builtOperations(DAEMON_API.enrollment.operations),
  ...builtOperations(DAEMON_API.page.operations),
];
const messagesBuilt = () => builtOperations(DEVICE_MESSAGES.operations, true);

/** The page with `find` replaced (it must be there: a mutation that misses proves nothing). */
function edited(find: string | RegExp, replace: string | ((match: string) => string)): string {
  const changed =
    typeof replace === "string" ? SPEC.replace(find, replace) : SPEC.replace(find, (match) => replace(match));
  assert.notEqual(changed, SPEC, `the page has no ${String(find)}`);
  return changed;
}

/** The table row of §N.M that starts with `start`, whole. */
function row(number: string, start: string): string {
  const found = subsection(SPEC, number)
    .split("\n")
    .find((line) => line.startsWith(start));
  assert.ok(found, `§${number} has no row starting with ${start}`);
  return found;
}

/**
 * Codes the source passes on rather than makes: the other side's code rebuilt (a device's, the
 * daemon's), a usage error re-raised with the message it belongs to, and the proof refusals, whose
 * codes are the keys of one table.
 */
const PASSED_ON: Readonly<Record<string, readonly string[]>> = {
  "auth/proofs.ts reason": PROOF_REFUSAL_REASONS,
  "pkcs11/errors.ts auth.code": pkcs11Codes("auth"),
  "pkcs11/errors.ts storage.code": pkcs11Codes("storage"),
  "binding/http.ts refusal.code": [],
  "http/wire.ts error.code": [],
  "http/schema.ts error.code": [],
};

/** An answer's codes that no source line raises: made where an unknown failure is answered. */
const ANSWERED = ["internal"];

/** Each raised code (literal, or passed on) with its exits; a code from an unknown expression is a problem. */
function codesRaised(raised: readonly Raised[]): { codes: Map<string, Set<number>>; problems: string[] } {
  const codes = new Map<string, Set<number>>();
  const problems: string[] = [];
  const add = (code: string, exits: readonly number[]) => {
    const known = codes.get(code) ?? new Set<number>();
    for (const exit of exits) known.add(exit);
    codes.set(code, known);
  };
  for (const site of raised) {
    if (site.code !== null) {
      add(site.code, site.exits);
      continue;
    }
    const passed = PASSED_ON[`${site.where.replace(/:\d+$/, "")} ${site.expression}`];
    if (passed) for (const code of passed) add(code, site.exits);
    else problems.push(`${site.where} raises the code '${site.expression}', which is no literal`);
  }
  return { codes, problems };
}

/** Codes raised and not in §3.4 (or with another exit), and codes in §3.4 that nothing raises. */
function codeDifferences(
  markdown: string,
  raised: readonly Raised[],
  all: readonly Raised[] = raised,
): string[] {
  const documented = errorCodes(markdown);
  const { codes, problems } = codesRaised(raised);
  for (const [code, exits] of codes) {
    const listed = documented.get(code);
    if (!listed) {
      problems.push(
        `'${code}' is raised (${raised.find((site) => site.code === code)?.where}) but not in §3.4`,
      );
      continue;
    }
    for (const exit of exits) {
      if (!listed.has(exit)) problems.push(`'${code}' is raised with exit ${exit}, §3.4 says ${[...listed]}`);
    }
  }
  const anywhere = codesRaised(all).codes;
  for (const code of documented.keys()) {
    if (!anywhere.has(code) && !ANSWERED.includes(code))
      problems.push(`'${code}' is in §3.4 but nothing raises it`);
  }
  return problems;
}

describe("§10.10, the operator's API, is OPERATOR_OPERATIONS", () => {
  const built = () => builtOperations(OPERATOR_OPERATIONS.operations);
  test("every operation documented with its method, path and input; nothing else", () => {
    assert.deepEqual(differences(operatorOperations(SPEC), built()), []);
  });

  test("the check fails on a row taken out and a field documented in the wrong place", () => {
    const tokens = row("10.10", "| `createToken` ");
    assert.deepEqual(differences(operatorOperations(edited(`${tokens}\n`, "")), built()), [
      "createToken (POST /v1/tokens) is not documented",
    ]);
    const page = row("10.10", "| `devicePage` ");
    const moved = edited(page, page.replace("`limit`? (query)", "`limit`?"));
    assert.deepEqual(differences(operatorOperations(moved), built()), [
      "devicePage's input is status? (query); after? (query); limit? (query), documented as status? (query); after? (query); limit?",
    ]);
  });
});

describe("§6.4, the daemon API, is DAEMON_API", () => {
  test("every operation documented with its method, path, owner flag and input; nothing else", () => {
    assert.deepEqual(differences(daemonOperations(SPEC), daemonBuilt()), []);
  });

  test("the check fails on a row taken out, a row made up, a flipped owner flag and a field too many", () => {
    const status = row("6.4", "| `status` ");
    const seal = row("6.4", "| `seal` ");
    const unseal = row("6.4", "| `unseal` ");
    const removed = edited(`${status}\n`, "");
    assert.deepEqual(differences(daemonOperations(removed), daemonBuilt()), [
      "status (GET /v1/status) is not documented",
    ]);
    const bogus = edited(`${status}\n`, `${status}\n| \`reboot\` | \`POST /v1/reboot\` | yes | | | |\n`);
    assert.deepEqual(differences(daemonOperations(bogus), daemonBuilt()), [
      "reboot (POST /v1/reboot) is documented but does not exist",
    ]);
    const flipped = edited(seal, seal.replace("| yes |", "| no |"));
    assert.deepEqual(differences(daemonOperations(flipped), daemonBuilt()), [
      "seal is an owner operation, documented otherwise",
    ]);
    const extra = edited(unseal, unseal.replace("(no body)", "`force`: boolean"));
    assert.deepEqual(differences(daemonOperations(extra), daemonBuilt()), [
      "unseal's input is nothing, documented as force",
    ]);
  });
});

describe("§7.3, the binding messages, is DEVICE_MESSAGES", () => {
  test("every message documented with its method, path, owner flag, request and answer fields; nothing else", () => {
    assert.deepEqual(differences(bindingMessages(SPEC), messagesBuilt()), []);
  });

  test("the check fails on a message taken out, one made up, a path changed and an answer field missing", () => {
    const hello = row("7.3", "| `hello` ");
    const removed = edited(`${hello}\n`, "");
    assert.deepEqual(differences(bindingMessages(removed), messagesBuilt()), [
      "hello (POST /v1/bind/hello) is not documented",
    ]);
    const bogus = edited(`${hello}\n`, `${hello}\n| \`ping\` | \`POST /v1/ping\` | no | \`v\` | \`v\` |\n`);
    assert.deepEqual(differences(bindingMessages(bogus), messagesBuilt()), [
      "ping (POST /v1/ping) is documented but does not exist",
    ]);
    const moved = edited(hello, hello.replace("/v1/bind/hello", "/v1/hello"));
    assert.deepEqual(differences(bindingMessages(moved), messagesBuilt()), [
      "hello is POST /v1/bind/hello, documented as POST /v1/hello",
    ]);
    const short = edited(hello, hello.replace("; `signature` (64) |", " |"));
    assert.deepEqual(differences(bindingMessages(short), messagesBuilt()), [
      "hello's answer is v; handle; ed25519; x25519; challenge; signature, documented as v; handle; ed25519; x25519; challenge",
    ]);
  });
});

describe("§3.4, the error codes, lists every code the source raises", () => {
  const raised = raisedCodes(SRC);

  test("every code raised is documented with its exit code; every documented code is raised", () => {
    assert.deepEqual(codeDifferences(SPEC, raised, raised), []);
  });

  test("the scanner follows subclasses to their codes and exits, defaults included", (t) => {
    const { dir } = tempDir(t);
    mkdirSync(join(dir, "a"));
    writeFileSync(
      join(dir, "errors.ts"),
      [
        "export const ExitCode = { internal: 1, usage: 2, state: 3, auth: 4 } as const;",
        "export class ReidError extends Error { constructor(readonly code: string, readonly exitCode: number, m: string) { super(m); } }",
        'export class UsageError extends ReidError { constructor(m: string, code = "usage") { super(code, ExitCode.usage, m); } }',
        'export class Fixed extends UsageError { constructor() { super("fixed message", "fixed-code"); } }',
        "export class Page extends ReidError { constructor(status: number, code: string, exit = status === 400 ? ExitCode.usage : ExitCode.auth) { super(code, exit, ''); } }",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "a", "use.ts"),
      [
        'throw new UsageError("bad");',
        'throw new UsageError("bad", "bad-thing");',
        'throw new ReidError("gone", ExitCode.internal, "");',
        'throw new Page(400, "not-json");',
        'throw new Page(403, "csrf");',
        "throw new Page(403, someCode);",
        "throw new Fixed();",
      ].join("\n"),
    );
    const found = raisedCodes(dir).map(({ code, exits, where, expression }) => [
      where,
      code ?? expression,
      exits.join(","),
    ]);
    assert.deepEqual(found, [
      ["a/use.ts:1", "usage", "2"],
      ["a/use.ts:2", "bad-thing", "2"],
      ["a/use.ts:3", "gone", "1"],
      ["a/use.ts:4", "not-json", "2"],
      ["a/use.ts:5", "csrf", "4"],
      ["a/use.ts:6", "someCode", "4"],
      ["errors.ts:4", "fixed-code", "2"],
    ]);
    assert.deepEqual(codesRaised(raisedCodes(dir)).problems, [
      "a/use.ts:6 raises the code 'someCode', which is no literal",
    ]);
  });

  test("the check fails on a code the page lacks, a wrong exit, and a row nothing raises", () => {
    const made = (code: string, exits: number[]): Raised => ({
      code,
      exits,
      where: "x.ts:1",
      expression: "",
    });
    const all = [...raised];
    assert.deepEqual(codeDifferences(SPEC, [...all, made("brand-new", [3])], raised), [
      "'brand-new' is raised (x.ts:1) but not in §3.4",
    ]);
    assert.deepEqual(codeDifferences(SPEC, [...all, made("store-owned", [6])], raised), [
      "'store-owned' is raised with exit 6, §3.4 says 3",
    ]);
    const bogus = edited(
      /\| `usage` \| 2 \|[^\n]*\n/,
      (match) => `${match}| \`never-raised\` | 2 | C | made up |\n`,
    );
    assert.deepEqual(codeDifferences(bogus, all, raised), [
      "'never-raised' is in §3.4 but nothing raises it",
    ]);
    const without = edited(/\| `store-owned` \|[^\n]*\n/, "");
    assert.deepEqual(codeDifferences(without, all, raised), [
      `'store-owned' is raised (${all.find((site) => site.code === "store-owned")?.where}) but not in §3.4`,
    ]);
  });
});
