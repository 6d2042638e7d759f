// A page's call to its own JSON API, as each of reid's pages makes it (the owner's, docs/spec.md
// §8.4; the operator's, §10.11): the session's cookie goes along, a state-changing call carries the
// session's CSRF token, and a refusal becomes an ApiError with the server's code and message.

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export async function callJson(method, path, body, csrf) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRF-Token"] = csrf;
    init.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(path, init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error;
    throw new ApiError(error?.message ?? `HTTP ${response.status}`, error?.code ?? "http", response.status);
  }
  return data;
}
