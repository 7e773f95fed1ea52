"use strict";
(function () {
  const form = document.getElementById("login");
  const error = document.getElementById("login-error");
  I18N.apply();
  document.getElementById("lang").addEventListener("click", () => I18N.toggle());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = {api_key: document.getElementById("api-key").value.trim()};
    const purpose = document.getElementById("purpose").value.trim();
    if (purpose) body.purpose = purpose;
    const response = await fetch("/ops/api/login", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
      credentials: "same-origin"});
    if (response.ok) {
      window.location.assign("/ops/");
      return;
    }
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    error.textContent = I18N.t("login.failed") + " " + detail;
  });
})();
