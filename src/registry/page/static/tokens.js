// A new single-use enrollment token, shown once: the registry keeps its hash, and the page forgets
// it as soon as another is made or the operator signs out.
import { api, failed, say } from "./api.js";

export function tokensPanel() {
  const issued = document.getElementById("token-issued");
  const value = document.getElementById("token-value");
  const expiry = document.getElementById("token-expiry");

  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const label = document.getElementById("token-label").value.trim();
    const ttl = document.getElementById("token-ttl").value;
    clear();
    api("POST", "/v1/tokens", { ttl, ...(label ? { label } : {}) })
      .then((token) => {
        value.textContent = token.token;
        expiry.textContent = `Single use, until ${token.expiresAt}${token.label ? `, label ${token.label}` : ""}.`;
        issued.hidden = false;
        say("Enrollment token created.");
      })
      .catch(failed);
  });

  function clear() {
    value.textContent = "";
    expiry.textContent = "";
    issued.hidden = true;
  }
  return { clear };
}
