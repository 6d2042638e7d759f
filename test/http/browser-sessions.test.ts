// A browser page's sessions and their challenges (the owner's page's passkey challenges), on a clock the test moves.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CHALLENGE_MS, IDLE_MS, LIFETIME_MS, Sessions, sameToken } from "../../src/http/browser/sessions.js";

function clocked() {
  let now = 1_000_000;
  const sessions = new Sessions<"sign-in" | "proof">(() => now);
  return { sessions, advance: (ms: number) => (now += ms) };
}

test("a challenge answers once, for its purpose only, and not after it expired", () => {
  const { sessions, advance } = clocked();
  const session = sessions.create("web:pin");
  sessions.issue(session, "proof", "c1", "reset");
  assert.equal(sessions.take(session, "sign-in"), null);
  assert.deepEqual(sessions.take(session, "proof")?.intent, "reset");
  assert.equal(sessions.take(session, "proof"), null, "spent");

  sessions.issue(session, "proof", "c2", "erase");
  sessions.issue(session, "proof", "c3", "reset");
  assert.equal(sessions.take(session, "proof")?.challenge, "c3", "a new challenge replaces the old");

  sessions.issue(session, "proof", "c4", "reset");
  advance(CHALLENGE_MS + 1);
  assert.equal(sessions.take(session, "proof"), null, "expired");
  assert.equal(session.challenges.size, 0, "and gone");
});

test("a session ends after IDLE_MS without use, and after LIFETIME_MS whatever its use", () => {
  const { sessions, advance } = clocked();
  const idle = sessions.create("web:pin");
  advance(IDLE_MS - 1);
  assert.equal(sessions.get(idle.id), idle);
  advance(IDLE_MS + 1);
  assert.equal(sessions.get(idle.id), null);

  const busy = sessions.create("web:pin");
  // Used every half idle time, it lives exactly its lifetime.
  for (let i = 0; i < LIFETIME_MS / (IDLE_MS / 2); i++) {
    advance(IDLE_MS / 2);
    assert.equal(sessions.get(busy.id), busy);
  }
  advance(1);
  assert.equal(sessions.get(busy.id), null);
});

test("signing in replaces the session: a new id and token, the old id gone, its streams closed", () => {
  const { sessions } = clocked();
  const anonymous = sessions.create();
  let closed = false;
  anonymous.streams.add(() => {
    closed = true;
  });
  const signedIn = sessions.signIn(anonymous, "web:passkey:abc");
  assert.notEqual(signedIn.id, anonymous.id);
  assert.notEqual(signedIn.csrf, anonymous.csrf);
  assert.equal(signedIn.principal, "web:passkey:abc");
  assert.equal(sessions.get(anonymous.id), null);
  assert.equal(closed, true);
  assert.equal(sessions.get(undefined), null);
});

test("when full, visits that never signed in are dropped before a signed-in session", () => {
  const { sessions, advance } = clocked();
  const owner = sessions.create("web:pin");
  for (let i = 0; i < 200; i++) {
    advance(1);
    sessions.create();
  }
  assert.equal(sessions.get(owner.id), owner);
});

test("tokens compare whole", () => {
  assert.equal(sameToken("abc", "abc"), true);
  assert.equal(sameToken("abd", "abc"), false);
  assert.equal(sameToken("ab", "abc"), false);
  assert.equal(sameToken(undefined, "abc"), false);
  assert.equal(sameToken("", ""), true);
});
