// The officer's policy editor: syntax highlighting, live validation with each problem under its
// line and column, field completion from the profile schema, the test panel, the reach preview,
// the diff against the published version and the lifecycle buttons.  Plain JavaScript against
// the JSON API; no build step, nothing loaded from elsewhere.
(() => {
  "use strict";

  const data = JSON.parse(document.getElementById("editor-data").textContent);
  const t = data.t;
  const $ = (id) => document.getElementById(id);
  const area = $("document");
  const code = $("highlight");
  const markers = $("markers");
  const suggest = $("suggest");
  const initial = area.value;
  const state = { valid: false, policyId: null, problems: [], exprLines: new Set(), previewed: false };

  // ---------------------------------------------------------------- small helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const span = (cls, text, title) =>
    `<span class="hl-${cls}"${title ? ` title="${esc(title)}"` : ""}>${esc(text)}</span>`;
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => values[k]);

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
    try {
      json = await response.json();
    } catch (_) {
      json = null;
    }
    return { ok: response.ok, status: response.status, json };
  }
  const errorOf = (json, status) =>
    (json && json.error && json.error.message) || `HTTP ${status}`;

  // ---------------------------------------------------------------- the schema's fields
  function audience() {
    const m = area.value.match(/^audience:\s*['"]?(resident|enterprise)/m);
    return m ? m[1] : "resident";
  }
  function fields() {
    return data.fields[audience()] || data.fields.resident;
  }
  function fieldNamed(name) {
    return fields().find((f) => f.name === name || f.zh === name);
  }

  // ---------------------------------------------------------------- highlighting
  const EXPR_KEYS = new Set(["eligibility", "benefit"]);
  const KEYWORDS = new Set(["and", "or", "not", "in"]);
  const CONSTANTS = new Set(["true", "false", "null", "$today"]);
  const TOKEN =
    /(d?"(?:[^"\\]|\\.)*"?|d?'(?:[^'\\]|\\.)*'?)|(\$?[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*)|(\d+(?:\.\d+)?)|(=~~|=~|>=|<=|==|!=|[<>!+\-*/%?:()[\],])|(\s+)|([^])/gu;

  function expr(text) {
    let html = "";
    for (const m of text.matchAll(TOKEN)) {
      const [whole, str, name, num, op] = m;
      if (str) html += span(str[0] === "d" ? "d" : "s", whole);
      else if (name) {
        if (KEYWORDS.has(name)) html += span("o", whole);
        else if (CONSTANTS.has(name)) html += span("b", whole);
        else {
          const f = fieldNamed(name) || (name === "tags" ? { zh: "标签", name: "tags" } : null);
          html += f ? span("f", whole, `${f.zh} · ${f.name}`) : esc(whole);
        }
      } else if (num) html += span("n", whole);
      else if (op) html += span("o", whole);
      else html += esc(whole);
    }
    return html;
  }

  function scalar(rest) {
    const trimmed = rest.trim();
    const lead = rest.slice(0, rest.length - rest.trimStart().length);
    const hash = rest.search(/(^|\s)#/);
    if (/^['"]/.test(trimmed)) return lead + span("s", rest.slice(lead.length));
    if (hash >= 0 && !/['"]/.test(rest.slice(0, hash)))
      return scalar(rest.slice(0, hash)) + span("c", rest.slice(hash));
    if (/^\d{4}-\d{2}-\d{2}$/.test(trimmed)) return lead + span("d", rest.slice(lead.length));
    if (/^-?\d+(\.\d+)?$/.test(trimmed)) return lead + span("n", rest.slice(lead.length));
    if (/^(null|true|false|~)$/.test(trimmed)) return lead + span("b", rest.slice(lead.length));
    return esc(rest);
  }

  // An expression value: quoted ('…' or "…"), plain, or a block scalar (| or >) below the key.
  function exprValue(rest) {
    const lead = rest.slice(0, rest.length - rest.trimStart().length);
    const body = rest.slice(lead.length);
    if (/^[|>][-+]?\s*(#.*)?$/.test(body)) return { block: true, html: lead + span("p", body) };
    const q = body[0];
    if (q === "'" || q === '"') {
      const end = body.lastIndexOf(q);
      if (end > 0) {
        return {
          block: false,
          html: lead + span("q", q) + expr(body.slice(1, end)) + span("q", q) + scalar(body.slice(end + 1)),
        };
      }
      return { block: false, html: lead + span("q", q) + expr(body.slice(1)) };
    }
    return { block: false, html: lead + expr(body) };
  }

  function highlight() {
    const lines = area.value.split("\n");
    const out = [];
    const exprLines = new Set();
    let blockIndent = -1;
    lines.forEach((line, i) => {
      const indent = line.length - line.trimStart().length;
      if (blockIndent >= 0) {
        if (line.trim() === "" || indent > blockIndent) {
          exprLines.add(i);
          out.push(expr(line));
          return;
        }
        blockIndent = -1;
      }
      if (/^\s*#/.test(line)) {
        out.push(span("c", line));
        return;
      }
      const m = line.match(/^(\s*)(-\s+)?([A-Za-z_][\w-]*)(\s*:)(\s.*|)$/);
      if (!m) {
        const item = line.match(/^(\s*)(-\s+)(.*)$/);
        out.push(item ? esc(item[1]) + span("p", item[2]) + scalar(item[3]) : esc(line));
        return;
      }
      const [, ind, dash, key, colon, rest] = m;
      let html = esc(ind) + (dash ? span("p", dash) : "") + span("k", key) + span("p", colon);
      if (EXPR_KEYS.has(key)) {
        const value = exprValue(rest);
        html += value.html;
        exprLines.add(i);
        if (value.block) blockIndent = indent;
      } else html += scalar(rest);
      out.push(html);
    });
    state.exprLines = exprLines;
    // A trailing newline keeps the last line's height when the text ends with one.
    code.innerHTML = out.join("\n") + "\n ";
  }

  // ---------------------------------------------------------------- measuring the text
  const canvas = document.createElement("canvas").getContext("2d");
  function metrics() {
    const style = getComputedStyle(area);
    canvas.font = `${style.fontSize} ${style.fontFamily}`;
    return {
      lineHeight: parseFloat(style.lineHeight),
      padLeft: parseFloat(style.paddingLeft),
      padTop: parseFloat(style.paddingTop),
    };
  }
  // Where column ``col`` (1-based) of line ``line`` (1-based) is drawn, inside the editor box.
  function position(line, col) {
    const m = metrics();
    const text = (area.value.split("\n")[line - 1] || "").slice(0, Math.max(0, col - 1));
    return {
      x: m.padLeft + canvas.measureText(text).width - area.scrollLeft,
      top: m.padTop + (line - 1) * m.lineHeight - area.scrollTop,
      lineHeight: m.lineHeight,
    };
  }
  function caretLineCol(offset) {
    const before = area.value.slice(0, offset).split("\n");
    return { line: before.length, col: before[before.length - 1].length + 1 };
  }

  // ---------------------------------------------------------------- live validation
  function renderProblems() {
    markers.replaceChildren();
    const list = $("problems");
    list.replaceChildren();
    const validity = $("validity");
    const warnings = state.problems.filter((p) => p.severity === "warning").length;
    if (state.valid) {
      validity.textContent = `✓ ${t.pol_valid}${state.policyId ? ` · ${state.policyId}` : ""}` +
        (warnings ? ` · ${fmt(t.pol_warnings, { n: warnings })}` : "");
      validity.className = "ok";
    } else if (state.problems.length) {
      validity.textContent = `${state.problems.length} ${t.pol_problems}`;
      validity.className = "bad";
    }
    const lines = area.value.split("\n");
    const width = area.clientWidth;
    state.problems.forEach((p, n) => {
      const line = Math.max(1, p.line || 1);
      const col = Math.max(1, p.col || 1);
      const at = position(line, col);
      const word = ((lines[line - 1] || "").slice(col - 1).match(/^[\w\u4e00-\u9fff$"'.]+/u) || ["x"])[0];
      const wordWidth = Math.max(8, canvas.measureText(word).width);
      markers.append(
        el("div", {
          class: "squiggle",
          style: `left:${at.x}px;top:${at.top + at.lineHeight - 3}px;width:${wordWidth}px`,
        }),
        el("div", {
          class: "problem",
          id: `problem-${n + 1}`,
          "data-severity": p.severity || "error",
          "data-line": line,
          "data-col": col,
          style: `left:${Math.max(2, Math.min(at.x - 6, width - 260))}px;top:${at.top + at.lineHeight + 1}px`,
          text: p.message,
        }),
      );
      list.append(
        el(
          "li",
          {
            "data-line": line,
            "data-col": col,
            "data-severity": p.severity || "error",
            onclick: () => {
              const offset = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0) + col - 1;
              area.focus();
              area.setSelectionRange(offset, offset);
            },
          },
          `${fmt(t.pol_line_col, { line, col })}: ${p.severity === "warning" ? t.pol_warning : ""}${p.message}`,
        ),
      );
    });
  }

  let validateTimer = null;
  let validateSeq = 0;
  async function validate() {
    const seq = ++validateSeq;
    const text = area.value;
    $("validity").textContent = t.pol_checking;
    $("validity").className = "";
    const r = await api("POST", "/api/v1/policies/validate", { document: text });
    if (seq !== validateSeq) return; // an answer to older text
    if (r.ok) {
      state.valid = r.json.valid;
      state.policyId = r.json.policy_id;
      state.problems = r.json.problems; // errors, and warnings (a valid draft may have some)
    } else {
      state.valid = false;
      state.problems = [{ line: 1, col: 1, message: errorOf(r.json, r.status) }];
    }
    renderProblems();
    updateButtons();
    if (state.valid && state.previewed) schedulePreview();
  }
  function scheduleValidate() {
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, 250);
  }

  // ---------------------------------------------------------------- completion and the picker
  let choices = [];
  let active = 0;
  function currentWord() {
    const pos = area.selectionStart;
    if (pos !== area.selectionEnd) return null;
    const m = area.value.slice(0, pos).match(/[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*$/u);
    if (!m) return null;
    const { line } = caretLineCol(pos);
    if (!state.exprLines.has(line - 1)) return null;
    return { word: m[0], start: pos - m[0].length, end: pos };
  }
  function hideSuggest() {
    suggest.hidden = true;
    choices = [];
  }
  function showSuggest() {
    const w = currentWord();
    if (!w || KEYWORDS.has(w.word)) return hideSuggest();
    const needle = w.word.toLowerCase();
    choices = fields()
      .filter((f) => f.name !== w.word && f.zh !== w.word)
      .filter((f) => f.name.toLowerCase().includes(needle) || f.zh.includes(w.word))
      .sort((a, b) => Number(!a.name.startsWith(needle) && !a.zh.startsWith(w.word)) -
        Number(!b.name.startsWith(needle) && !b.zh.startsWith(w.word)))
      .slice(0, 8);
    if (!choices.length) return hideSuggest();
    active = 0;
    suggest.replaceChildren(
      ...choices.map((f, i) =>
        el("li", {
          role: "option",
          "data-field": f.name,
          "aria-selected": i === active ? "true" : "false",
          onmousedown: (event) => {
            event.preventDefault();
            accept(i);
          },
        }, f.zh, " ", el("code", {}, f.name)),
      ),
    );
    const { line, col } = caretLineCol(w.start);
    const at = position(line, col);
    suggest.style.left = `${Math.max(0, Math.min(at.x, area.clientWidth - 200))}px`;
    suggest.style.top = `${at.top + at.lineHeight + 2}px`;
    suggest.hidden = false;
  }
  function moveActive(step) {
    active = (active + step + choices.length) % choices.length;
    [...suggest.children].forEach((li, i) => li.setAttribute("aria-selected", i === active ? "true" : "false"));
  }
  function accept(i) {
    const w = currentWord();
    const f = choices[i];
    if (!w || !f) return hideSuggest();
    area.setRangeText(f.zh, w.start, w.end, "end");
    hideSuggest();
    changed();
    area.focus();
  }
  function insertAtCaret(text) {
    area.focus();
    area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
    changed();
  }

  function renderPicker() {
    const q = $("field-search").value.trim().toLowerCase();
    const list = $("field-list");
    list.replaceChildren(
      ...fields()
        .filter((f) => !q || f.name.toLowerCase().includes(q) || f.zh.includes(q) || f.about_zh.includes(q))
        .map((f) =>
          el("li", { "data-field": f.name },
            el("button", { type: "button", class: "field", title: f.about_en, onclick: () => insertAtCaret(f.zh) },
              f.zh, " ", el("code", {}, f.name)),
            el("small", {}, `${f.type}${f.unit ? ` · ${f.unit}` : ""} · ${data.lang === "en" ? f.about_en : f.about_zh}`),
            f.values.length
              ? el("div", { class: "values" },
                  f.values.map((v, i) => {
                    // the value's label (特困 for tekun), which a rule may write instead of it
                    const label = (data.lang === "en" ? f.values_en : f.values_zh)[i] || v;
                    const written = data.lang === "en" ? v : label;
                    return el("button", { type: "button", title: v, "data-value": v, onclick: () => insertAtCaret(`"${written}"`) }, label);
                  }))
              : null,
          ),
        ),
    );
  }

  // ---------------------------------------------------------------- the test panel
  function parseProfile(text) {
    const profile = {};
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const m = line.match(/^([^:：]+)[:：]\s*(.*)$/);
      if (!m) throw new Error(`${line}: “field: value”`);
      profile[m[1].trim()] = m[2].trim();
    }
    return profile;
  }
  function fieldLabel(name) {
    const f = fieldNamed(name);
    return f ? (data.lang === "en" ? f.name : f.zh) : name;
  }
  async function runTest() {
    const out = $("test-result");
    const mode = document.querySelector("input[name=test-mode]:checked").value;
    const body = { document: area.value, subject_id: null, profile: null };
    try {
      if (mode === "subject") body.subject_id = $("test-subject").value.trim();
      else body.profile = parseProfile($("test-profile").value);
    } catch (err) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    const r = await api("POST", `/api/v1/policies/test?lang=${data.lang}`, body);
    if (!r.ok) {
      const problems = (r.json && r.json.error && r.json.error.problems) || [];
      out.replaceChildren(
        el("p", { class: "error", role: "alert" }, errorOf(r.json, r.status)),
        ...problems.map((p) => el("p", { class: "error" }, `${fmt(t.pol_line_col, p)}: ${p.message}`)),
      );
      return;
    }
    const d = r.json;
    const benefit = d.benefit !== null
      ? ` · ${t.pol_benefit} ${d.benefit} ${t.pol_yuan}${d.benefit_period ? ` / ${t["pol_period_" + d.benefit_period] || d.benefit_period}` : ""}`
      : "";
    out.replaceChildren(
      el("p", { class: `result-status v-${d.status === "eligible" ? "true" : d.status === "maybe" ? "unknown" : "false"}`, id: "test-status", "data-status": d.status },
        `${d.status_words}${benefit}${d.subject ? ` · ${d.subject}` : ""}`),
      el("div", { class: "scroll" },
        el("table", {},
          el("thead", {}, el("tr", {}, el("th", {}, t.pol_clause), el("th", {}, t.pol_result), el("th", {}, t.pol_values), el("th", {}, t.pol_if))),
          el("tbody", {},
            d.clauses.map((c) =>
              el("tr", { "data-value": c.value },
                el("td", {}, c.words, el("br"), el("code", {}, c.text)),
                el("td", { class: `v-${c.value}` }, c.value_words),
                el("td", {}, Object.entries(c.values).map(([k, v]) => `${fieldLabel(k)} = ${v === null ? "?" : v}`).join("，")),
                el("td", {}, c.counterfactual_words || c.counterfactual || ""),
              )),
          ),
        ),
      ),
    );
  }

  // ---------------------------------------------------------------- the reach preview
  const count = (v) => (typeof v === "number" ? v : 0);
  function bars(groups) {
    const max = Math.max(1, ...groups.map((g) => count(g.eligible) + count(g.maybe)));
    return el("div", { class: "bars" },
      groups.map((g) =>
        el("div", { class: "row", "data-group": g.group },
          el("span", {}, g.group),
          el("span", { class: "bar", title: `${t.eligible}: ${g.eligible} · ${t.maybe}: ${g.maybe}` },
            el("span", { class: "e", style: `width:${(100 * count(g.eligible)) / max}%` }),
            el("span", { class: "m", style: `width:${(100 * count(g.maybe)) / max}%` })),
          el("span", { class: "num" }, String(g.eligible)),
        )),
    );
  }
  function renderVersus(d) {
    const box = $("versus");
    if (!box) return;
    if (!d.versus_published) {
      box.replaceChildren();
      return;
    }
    const v = d.versus_published;
    // Amount changes among those eligible before and after (a tier changed), and the cost.
    const bands = (v.amount_changes || []).filter((b) => b.subjects);
    box.replaceChildren(
      el("p", {}, fmt(t.pol_versus, { version: v.published_version }), "：",
        el("span", { class: "v-true", id: "gains" }, `${t.pol_gains} ${v.newly_eligible}`), "，",
        el("span", { class: "v-false", id: "loses" }, `${t.pol_loses} ${v.no_longer_eligible}`)),
      ...(bands.length ? [el("ul", { id: "amount-changes" }, ...bands.map((b) =>
        el("li", { "data-band": b.change_per_year }, `${b.change_per_year} ¥/yr: ${b.subjects}`)))] : []),
      ...(v.cost_per_year_before != null ? [el("p", { id: "cost-change" },
        `${t.pol_cost_year || ""} ${v.cost_per_year_before} → ${v.cost_per_year_after}`)] : []),
    );
  }
  let previewTimer = null;
  let previewSeq = 0;
  // The button is an explicit run (it spends privacy budget once per answer); a preview as the
  // officer types asks only for an answer already received (409 otherwise: press the button).
  async function preview(explicit = true) {
    state.previewed = true;
    const seq = ++previewSeq;
    const out = $("reach-result");
    out.setAttribute("aria-busy", "true");
    if (!out.firstChild) out.textContent = t.pol_previewing;
    const body = { document: area.value, run: explicit !== false };
    // Parameter changes (dibao_standard=1500, 低保标准=1500): simulated with the draft.
    const changes = ($("parameter-changes")?.value || "").split(/[\s,，;；]+/).filter(Boolean);
    if (changes.length) body.parameters = changes;
    const r = await api("POST", "/api/v1/policies/dry-run", body);
    if (seq !== previewSeq) return;
    out.removeAttribute("aria-busy");
    if (!r.ok) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, errorOf(r.json, r.status)));
      return;
    }
    const d = r.json;
    const period = d.period ? ` / ${t["pol_period_" + d.period] || d.period}` : "";
    out.replaceChildren(
      el("div", { class: "figures", id: "reach-figures" },
        el("div", {}, t.pol_population, el("strong", {}, String(d.population))),
        el("div", {}, t.eligible, el("strong", { id: "reach-eligible" }, String(d.eligible))),
        el("div", {}, t.maybe, el("strong", { id: "reach-maybe" }, String(d.maybe))),
        el("div", {}, t.pol_cost_period, el("strong", { id: "reach-cost" }, `${d.cost_per_period}${period}`)),
        el("div", {}, t.pol_cost_year, el("strong", {}, d.cost_per_year)),
      ),
      ...((d.parameters || []).length
        ? [el("p", { id: "reach-parameters" }, t.pol_parameters_simulated + d.parameters.join("，"))]
        : []),
      ...Object.entries(d.by_group).flatMap(([dimension, groups]) => [
        el("h3", {}, t[`pol_by_${dimension}`] || dimension),
        bars(groups),
      ]),
      el("h3", {}, t.pol_overlaps),
      d.overlaps.length
        ? el("div", { id: "overlaps" },
            d.overlaps.map((o) => el("p", { class: "warning", "data-policy": o.policy_id }, `${o.both} ${t.pol_overlap_text} ${o.policy_id}`)))
        : el("p", { id: "overlaps" }, t.pol_no_overlap),
    );
    renderVersus(d);
  }
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(() => preview(false), 800);
  }

  // ---------------------------------------------------------------- the diff
  function lineDiff(a, b) {
    const n = a.length;
    const m = b.length;
    const lcs = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    const out = [];
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
      else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) { out.push(["-", a[i]]); i++; }
      else { out.push(["+", b[j]]); j++; }
    }
    return out;
  }
  function renderDiff() {
    const box = $("diff");
    if (data.published === null) {
      box.replaceChildren(el("span", { class: "ctx" }, t.pol_no_published));
      return;
    }
    const ops = lineDiff(data.published.replace(/\n$/, "").split("\n"), area.value.replace(/\n$/, "").split("\n"));
    if (ops.every(([op]) => op === " ")) {
      box.replaceChildren(el("span", { class: "ctx" }, t.pol_same));
      return;
    }
    box.replaceChildren(
      ...ops.map(([op, line]) =>
        el("span", { class: op === "+" ? "add" : op === "-" ? "del" : "ctx" }, `${op} ${line}`)),
    );
  }

  // ---------------------------------------------------------------- the lifecycle
  const history = data.history || [];
  const newest = (status) => [...history].reverse().find((v) => v.status === status);
  function updateButtons() {
    for (const id of ["save-draft", "submit-review"]) {
      const button = $(id);
      if (button) button.disabled = !state.valid;
    }
    const review = newest("in_review");
    const published = newest("published");
    const approve = $("approve");
    if (approve) {
      approve.hidden = !review;
      $("reject").hidden = !review;
      const own = review && review.author === data.user.username;
      approve.disabled = Boolean(own);
      $("four-eyes").hidden = !own;
    }
    const retire = $("retire");
    if (retire) retire.hidden = !published;
  }
  function done(message, policyId) {
    sessionStorage.setItem("zhida-editor-done", message);
    window.location.assign(`/console/policies/${encodeURIComponent(policyId)}`);
  }
  function failed(r) {
    const problems = (r.json && r.json.error && r.json.error.problems) || [];
    $("action-result").replaceChildren(
      el("span", { class: "error", role: "alert" }, errorOf(r.json, r.status)),
      ...problems.map((p) => el("span", { class: "error" }, ` ${fmt(t.pol_line_col, p)}: ${p.message}`)),
    );
  }
  async function saveDraft() {
    const note = $("note") ? $("note").value : "";
    const r = await api("POST", "/api/v1/policies/drafts", { document: area.value, note });
    if (!r.ok) {
      failed(r);
      return null;
    }
    return r.json;
  }
  async function move(policyId, version, action) {
    const r = await api("POST", `/api/v1/policies/${encodeURIComponent(policyId)}/versions/${version}/${action}`);
    if (!r.ok) {
      failed(r);
      return null;
    }
    return r.json;
  }
  const wire = (id, handler) => {
    const button = $(id);
    if (button) button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await handler();
      } finally {
        button.disabled = false;
        updateButtons();
      }
    });
  };
  wire("save-draft", async () => {
    const saved = await saveDraft();
    if (saved) done(`${t.pol_done}${saved.policy_id} v${saved.version} ${t.status_draft}`, saved.policy_id);
  });
  wire("submit-review", async () => {
    const last = history[history.length - 1];
    let target = area.value === initial && last && last.status === "draft"
      ? { policy_id: data.policy_id, version: last.version }
      : await saveDraft();
    if (!target) return;
    const moved = await move(target.policy_id, target.version, "submit");
    if (moved) done(`${t.pol_done}${moved.policy_id} v${moved.version} ${t["status_" + moved.status]}`, moved.policy_id);
  });
  // Approving and returning happen on the review page (a return needs a reason, an approval
  // shows what it will cause first): the editor's buttons open it.
  for (const id of ["approve", "reject"]) {
    wire(id, async () => {
      const review = newest("in_review");
      if (review) window.location.assign(`/console/review/${encodeURIComponent(data.policy_id)}/${review.version}`);
    });
  }
  wire("retire", async () => {
    const published = newest("published");
    const moved = published && (await move(data.policy_id, published.version, "retire"));
    if (moved) done(`${t.pol_done}${moved.policy_id} v${moved.version} ${t["status_" + moved.status]}`, moved.policy_id);
  });

  // ---------------------------------------------------------------- events
  function changed() {
    highlight();
    markers.replaceChildren(); // stale until the new answer arrives
    scheduleValidate();
    renderDiff();
    updateButtons();
  }
  area.addEventListener("input", () => {
    changed();
    showSuggest();
  });
  area.addEventListener("scroll", () => {
    code.parentElement.scrollTop = area.scrollTop;
    code.parentElement.scrollLeft = area.scrollLeft;
    renderProblems();
    hideSuggest();
  });
  area.addEventListener("keydown", (event) => {
    if (!suggest.hidden && choices.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        moveActive(event.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        accept(active);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        hideSuggest();
        return;
      }
    }
    if (event.key === "Tab" && !event.shiftKey) {
      event.preventDefault();
      insertAtCaret("  ");
    }
  });
  area.addEventListener("blur", () => setTimeout(hideSuggest, 150));
  $("field-search").addEventListener("input", renderPicker);
  $("run-test").addEventListener("click", runTest);
  $("preview-reach").addEventListener("click", () => preview(true));
  for (const radio of document.querySelectorAll("input[name=test-mode]")) {
    radio.addEventListener("change", () => {
      const subject = radio.value === "subject" && radio.checked;
      $("subject-label").hidden = !subject;
      $("profile-label").hidden = subject;
    });
  }
  window.addEventListener("resize", renderProblems);

  const message = sessionStorage.getItem("zhida-editor-done");
  if (message) {
    sessionStorage.removeItem("zhida-editor-done");
    $("action-result").replaceChildren(el("span", { class: "ok" }, message));
  }
  highlight();
  renderPicker();
  renderDiff();
  updateButtons();
  validate();
})();
