// The setup wizard's live parts. Without JavaScript every value is on the page and the buttons
// still work; with it, the domains step checks DNS every few seconds and moves on once every
// domain is verified, and the SCIM step lists the IdP's requests as they arrive.
"use strict";
(() => {
  const main = document.querySelector("main[data-csrf]");
  const csrf = main ? main.dataset.csrf : "";

  const badge = (text, kind) => {
    const span = document.createElement("span");
    span.className = `badge ${kind}`;
    span.textContent = text;
    return span;
  };

  const domains = document.getElementById("domain-list");
  if (domains && domains.querySelector("[data-domain-id]")) {
    const state = document.getElementById("poll-state");
    const next = document.getElementById("continue");
    const check = async () => {
      let body;
      try {
        const response = await fetch(domains.dataset.poll, {
          method: "POST",
          headers: { Accept: "application/json", "X-CSRF-Token": csrf },
          credentials: "same-origin",
        });
        if (!response.ok) return false;
        body = await response.json();
      } catch {
        return false;
      }
      for (const domain of body.domains) {
        const block = domains.querySelector(`[data-domain-id="${domain.id}"]`);
        if (!block) continue;
        const place = block.querySelector(".domain-state");
        if (place) place.replaceChildren(domain.verified ? badge("verified", "ok") : badge("waiting for DNS", "warn"));
        const error = block.querySelector(".domain-error");
        if (error) error.textContent = domain.verified ? "" : domain.error;
      }
      if (body.all_verified) {
        state.textContent = "Every domain is verified. Moving on…";
        next.classList.remove("secondary");
        setTimeout(() => window.location.assign(next.href), 1500);
        return true;
      }
      return false;
    };
    const loop = async () => {
      if (!(await check())) setTimeout(loop, 3000);
    };
    if (domains.querySelector(".domain-state .badge.warn")) setTimeout(loop, 1000);
  }

  const log = document.getElementById("scim-log");
  if (log) {
    const rows = document.getElementById("scim-events");
    const state = document.getElementById("scim-log-state");
    const cell = (text) => {
      const td = document.createElement("td");
      td.textContent = text;
      return td;
    };
    const refresh = async () => {
      try {
        const response = await fetch(log.dataset.poll, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.ok) {
          const body = await response.json();
          rows.replaceChildren(...body.events.map((e) => {
            const tr = document.createElement("tr");
            const outcome = document.createElement("td");
            outcome.append(badge(e.outcome, e.outcome === "success" ? "ok" : "bad"));
            tr.append(cell(e.time), cell(e.request), outcome, cell(String(e.status)), cell(e.detail));
            return tr;
          }));
          if (body.events.length) state.textContent = `${body.events.length} request(s) so far.`;
        }
      } catch {
        // the next round tries again
      }
      setTimeout(refresh, 2000);
    };
    setTimeout(refresh, 2000);
  }
})();
