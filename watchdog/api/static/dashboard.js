// Deploy Watchdog dashboard: progressive enhancement of the server-rendered pages.
// Every request goes through wdFetch, the one place that adds headers (a read token, or the admin token).
"use strict";
(function () {
  const READ_TOKEN_KEY = "watchdog.read_token"; // set by an operator when reads are protected
  let adminToken = "";

  function readHeaders() {
    const t = window.sessionStorage ? sessionStorage.getItem(READ_TOKEN_KEY) : null;
    return t ? { Authorization: "Bearer " + t } : {};
  }

  async function wdFetch(url, opts) {
    const o = Object.assign({ headers: {} }, opts || {});
    o.headers = Object.assign({}, o.admin ? {} : readHeaders(), o.headers);
    if (o.admin) o.headers.Authorization = "Bearer " + adminToken;
    // Reads go same-origin, so the Basic login the browser answered for the page (WATCHDOG_READ_TOKEN)
    // comes along. Admin calls omit every ambient credential: only the typed-in token in the header acts,
    // and the server never takes Basic or a cookie for them, so a forged cross-site request cannot act.
    o.credentials = o.admin ? "omit" : "same-origin";
    delete o.admin;
    return fetch(url, o);
  }
  window.wdFetch = wdFetch;

  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  async function loadCharts(root) {
    for (const img of root.querySelectorAll("img[data-chart]")) {
      try {
        const r = await wdFetch(img.dataset.chart);
        if (!r.ok) continue;
        const url = URL.createObjectURL(await r.blob());
        const old = img.src;
        img.src = url;
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      } catch (e) { /* the server-rendered src stays */ }
    }
  }

  // ---- the deployment page: live progress while it runs ----
  async function refreshLive(holder) {
    const live = holder.querySelector("#live");
    try {
      const r = await wdFetch(holder.dataset.liveUrl, { headers: { Accept: "text/html" } });
      if (r.ok) {
        const html = await r.text();
        const box = document.createElement("div");
        box.innerHTML = html;
        const fresh = box.querySelector("#live");
        if (fresh && fresh.dataset.samples + fresh.dataset.state !== live.dataset.samples + live.dataset.state) {
          const open = [...live.querySelectorAll("details[open]")].map((d) => d.closest("[data-check]")?.dataset.check);
          live.replaceWith(fresh);
          for (const name of open) fresh.querySelector(`[data-check="${CSS.escape(name || "")}"] details`)?.setAttribute("open", "");
          await loadCharts(fresh);
        }
      }
    } catch (e) { /* the next turn tries again */ }
    const now = holder.querySelector("#live");
    setTimeout(() => refreshLive(holder), now.dataset.running === "true" ? 1500 : 10000);
  }

  function gateItems(body) {
    // Tolerant of the checklist's shape: checks | items | checklist, each with ok | status | tick.
    const list = body.checks || body.items || body.checklist || [];
    return list.map((c) => {
      const status = c.status ?? (c.ok === true ? "ok" : c.ok === false ? "failed" : c.tick);
      const required = c.required !== false && status !== "not_required";
      return { name: c.name || c.item || c.title || "?", status: String(status ?? ""), required, reason: c.reason || c.detail || "" };
    });
  }

  async function loadGate(box) {
    try {
      const r = await wdFetch(box.dataset.url, { headers: { Accept: "application/json" } });
      const body = await r.json();
      const items = gateItems(body);
      const allowed = body.allowed ?? r.ok;
      box.innerHTML = `<p><strong class="${allowed ? "gate-ok" : "gate-no"}">${allowed ? "✓ allowed" : "✗ refused"}</strong> now for this artifact.</p>` +
        `<ul class="gate">` + items.map((i) => {
          const ok = ["ok", "true", "pass", "passed", "yes", "✓"].includes(i.status.toLowerCase());
          const cls = !i.required ? "gate-na" : ok ? "gate-ok" : "gate-no";
          const sign = !i.required ? "– not required" : ok ? "✓" : "✗";
          return `<li><span class="${cls}">${esc(sign)}</span> ${esc(i.name)}: ${esc(i.reason)}</li>`;
        }).join("") + `</ul>`;
    } catch (e) {
      box.insertAdjacentHTML("beforeend", `<p>Could not read the checklist: ${esc(e.message)}</p>`);
    }
  }

  function setupAdmin(panel) {
    const input = panel.querySelector("#admin-token");
    const reasonBox = panel.querySelector("#action-reason");
    const out = panel.querySelector("#action-result");
    input.addEventListener("input", () => { adminToken = input.value.trim(); });
    const dep = encodeURIComponent(panel.dataset.deployment);
    const pair = encodeURIComponent(panel.dataset.service) + "/" + encodeURIComponent(panel.dataset.environment);
    const calls = {
      rollback: (why) => ["POST", `/v1/deployments/${dep}/rollback`, { reason: why || "manual rollback from the dashboard" }],
      promote: () => ["POST", `/v1/deployments/${dep}/promote`, null],
      freeze: (why) => ["PUT", `/v1/freezes/${pair}`, { reason: why || "frozen from the dashboard" }],
      unfreeze: () => ["DELETE", `/v1/freezes/${pair}`, null],
      unneeded: (why) => ["PUT", `/v1/deployments/${dep}/rollback-review`, { unneeded: true, reason: why || "" }],
    };
    panel.addEventListener("click", async (e) => {
      const button = e.target.closest("button[data-action]");
      if (!button) return;
      const [method, url, body] = calls[button.dataset.action](reasonBox.value.trim());
      out.className = ""; out.textContent = button.textContent + "…";
      if (!adminToken) { out.className = "error"; out.textContent = "Type the admin token first."; input.focus(); return; }
      try {
        const r = await wdFetch(url, { method, admin: true, headers: body ? { "Content-Type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined });
        const text = await r.text();
        let detail = text;
        try { const j = JSON.parse(text); detail = j.detail || j.state || j.reason || text; } catch (x) { /* not JSON */ }
        out.className = r.ok ? "ok" : "error";
        out.textContent = `${button.textContent}: HTTP ${r.status}${detail ? " — " + detail : ""}`;
      } catch (x) {
        out.className = "error"; out.textContent = `${button.textContent}: ${x.message}`;
      }
    });
  }

  // ---- every page: the refused-policy-reload banner comes and goes without a reload ----
  async function refreshBanner(banner) {
    try {
      const r = await wdFetch("/dashboard/banner", { headers: { Accept: "text/html" } });
      if (r.ok) {
        const box = document.createElement("div");
        box.innerHTML = await r.text();
        const fresh = box.querySelector("#reload-error");
        // Only a change is written: an alert region announces every write.
        if (fresh && fresh.innerHTML !== banner.innerHTML) banner.innerHTML = fresh.innerHTML;
      }
    } catch (e) { /* next turn */ }
    setTimeout(() => refreshBanner(banner), 3000);
  }

  // ---- the list: new rows appear without a reload ----
  async function refreshRows(table) {
    try {
      const r = await wdFetch(table.dataset.live, { headers: { Accept: "text/html" } });
      if (r.ok) document.getElementById("rows").innerHTML = await r.text();
    } catch (e) { /* next turn */ }
    setTimeout(() => refreshRows(table), 3000);
  }

  document.documentElement.classList.remove("no-js");
  const holder = document.querySelector("[data-live-url]");
  if (holder) { loadCharts(holder); setTimeout(() => refreshLive(holder), 1500); }
  const gate = document.getElementById("gate");
  if (gate) loadGate(gate);
  const panel = document.querySelector(".admin[data-deployment]");
  if (panel) setupAdmin(panel);
  const banner = document.getElementById("reload-error");
  if (banner) setTimeout(() => refreshBanner(banner), 3000);
  const table = document.querySelector("table[data-live]");
  if (table) setTimeout(() => refreshRows(table), 3000);
})();
