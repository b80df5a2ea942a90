// Hooklet console: confirmations and a live template preview. The pages
// work without it.
"use strict";

document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-confirm]");
  if (b && !window.confirm(b.dataset.confirm)) {
    e.preventDefault();
  }
});

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-preview]");
  const button = document.getElementById("preview-button");
  if (!form || !button || !window.fetch) {
    return;
  }
  const box = document.getElementById("preview");
  const out = document.getElementById("preview-body");
  button.addEventListener("click", async (e) => {
    e.preventDefault();
    const body = { template: form.elements.template.value };
    const settings = form.elements.settings.value.trim();
    if (settings) {
      try {
        body.settings = JSON.parse(settings);
      } catch (err) {
        box.hidden = false;
        out.textContent = "Settings are not JSON: " + err.message;
        return;
      }
    }
    box.hidden = false;
    out.textContent = "Rendering…";
    try {
      const res = await fetch(form.dataset.preview, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await res.json();
      if (!res.ok) {
        out.textContent = data.line
          ? `Template error at line ${data.line}, column ${data.column}: ${data.detail}`
          : data.detail || data.title;
        return;
      }
      out.textContent = data.skip ? "(skipped: the template does not send this event)" : data.body;
    } catch (err) {
      out.textContent = "Preview failed: " + err.message;
    }
  });
});
