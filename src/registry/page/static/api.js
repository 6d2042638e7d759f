// The page's calls to its API (/operator/api/): JSON with the session's cookie, and on every
// state-changing call the session's CSRF token. The operator token is never kept here: sign-in
// sends it once and the session carries on.

import { ApiError, callJson } from "./json-call.js";

export const API = "/operator/api";

/** The session's CSRF token, sent as X-CSRF-Token on every state-changing call. */
let csrf = "";

export function setCsrf(token) {
  csrf = token;
}

/** A session that ended (signed out elsewhere, expired) takes the page back to sign-in. */
export const SESSION_LOST = "reid-session-lost";

export async function api(method, path, body) {
  try {
    return await callJson(method, `${API}${path}`, body, csrf);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && error.code !== "operator-refused") {
      document.dispatchEvent(new CustomEvent(SESSION_LOST));
    }
    throw error;
  }
}

export function say(text, kind = "ok") {
  const message = document.getElementById("message");
  message.textContent = text;
  message.dataset.kind = kind;
  message.hidden = false;
}

export function failed(error) {
  say(error instanceof Error ? error.message : String(error), "error");
}

/** A handle's first 8 digits, as the CLI's tables show it. */
export function short(handle) {
  return handle === null ? "-" : `${handle.slice(0, 8)}…`;
}

export function element(tag, properties = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(properties)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else node[name] = value;
  }
  node.append(...children);
  return node;
}

/** The address of a device's view on this page. */
export function deviceLink(handle) {
  return `#device=${handle}`;
}
