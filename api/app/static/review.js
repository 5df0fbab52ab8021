// The reviewer's page: the effect of publishing, a return with its reason, an approval confirmed.
// Every decision is a call to the JSON API; the page only shows what it answers.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const t = data.t;
  const $ = (id) => document.getElementById(id);
  const base = `/api/v1/policies/${encodeURIComponent(data.policy_id)}/versions/${data.version}`;
  async function api(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: Object.assign(
        { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
        body === undefined ? {} : { "Content-Type": "application/json" },
      ),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try { json = await response.json(); } catch { json = null; }
    return { ok: response.ok, status: response.status, json };
  }
  const say = (text, error) => {
    const out = $("review-result");
    out.textContent = text;
    out.className = error ? "error" : "";
    if (error) out.setAttribute("role", "alert");
  };
  const errorOf = (r) => (r.json && r.json.error && r.json.error.message) || `HTTP ${r.status}`;

  let effect = null;
  function describe(e) {
    const lines = [
      [t.grants, e.grants], [t.notices, e.notices], [t.questions, e.questions],
      [t.lost, e.no_longer_eligible], [t.cost, e.cost_per_year],
    ];
    if (e.supersedes) lines.push([t.supersedes, `v${e.supersedes}`]);
    if (e.retires.length) lines.push([t.retires, e.retires.join("、")]);
    for (const o of e.overlaps || []) lines.push([`${t.overlap} ${o.policy_id}`, o.both]);
    return lines;
  }
  async function checkEffect() {
    const r = await api("GET", `${base}/consequences`);
    if (!r.ok) {
      say(errorOf(r), true);
      return null;
    }
    effect = r.json;
    const list = $("effect");
    list.replaceChildren();
    for (const [name, value] of describe(effect)) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      dd.dataset.measure = name;
      list.append(dt, dd);
    }
    return effect;
  }
  const button = $("check-effect");
  if (button) button.addEventListener("click", checkEffect);

  const back = $("return");
  if (back) back.addEventListener("click", async () => {
    const reason = $("return-reason").value.trim();
    if (!reason) {
      say(t.reason, true);
      $("return-reason").focus();
      return;
    }
    const r = await api("POST", `${base}/reject`, { reason });
    if (!r.ok) return say(errorOf(r), true);
    say(`${t.done}${r.json.policy_id} v${r.json.version}`);
    window.location.assign("/console/review");
  });

  const approve = $("approve");
  if (approve) approve.addEventListener("click", async () => {
    const e = effect || (await checkEffect());
    const text = e ? describe(e).map(([n, v]) => `${n}: ${v}`).join("\n") : "";
    if (!window.confirm(`${t.confirm}\n${text}`)) return;
    // The document as shown: the API refuses the approval if it is not the version's.
    const r = await api("POST", `${base}/approve`, { document: data.document });
    if (!r.ok) return say(errorOf(r), true);
    say(`${t.done}${r.json.policy_id} v${r.json.version}`);
    window.location.assign(`/console/review/${encodeURIComponent(data.policy_id)}/${data.version}`);
  });
})();
