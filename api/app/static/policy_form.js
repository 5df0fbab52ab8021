// The 政策要素 form: a tab beside the YAML editor.  The YAML stays the source of truth: the form
// is read from it (POST /api/v1/policies/form/read) and every change is written back to it
// (POST /api/v1/policies/form/write), after which the editor validates it as if typed.  A YAML
// the form cannot show keeps the YAML tab, with the note saying why.  Plain JavaScript.
(() => {
  "use strict";

  const data = JSON.parse(document.getElementById("editor-data").textContent);
  const lang = data.lang === "en" ? "en" : "zh";
  const $ = (id) => document.getElementById(id);
  const area = $("document");
  const WORDS = {
    zh: {
      tab_form: "政策要素表单", tab_yaml: "YAML", loading: "正在读取…",
      basics: "基本信息", id: "政策编号（小写字母、数字和短横线）", title: "政策名称", title_en: "英文名称",
      department: "主管部门", basis: "政策依据（文件名称及文号）", category: "政策类别", none: "（未选）",
      audience: "服务对象", mode: "服务方式", valid_from: "生效日期", valid_until: "截止日期（可空）",
      conditions: "资格条件", join: "以下条件", add_row: "＋ 条件", add_group: "＋ 一组条件",
      add_group_row: "＋ 家庭成员/员工条件", remove: "删除", up: "上移", down: "下移",
      field: "字段", tag: "标签（标签库）", pick: "请选择", value: "取值", times: "倍数",
      number: "数值", parameter: "参数", by_field: "按", days: "天",
      application: "申请时核验的条件", application_hint: "系统无法核验、需在申请时确认的条件，每行一条；会展示给审核人和居民，并写入邀请。免申即享政策没有申请环节，不能填写。",
      amount: "待遇金额", amount_none: "无金额", amount_fixed: "固定金额", amount_table: "分档（决策表）",
      amount_formula: "公式", tier: "第 {n} 档", when: "条件", gets: "金额", add_tier: "＋ 一档",
      otherwise: "其他情况", otherwise_none: "不发放（0 元）", period: "发放周期", unit: "受益单位",
      recipient: "告知对象", formula_hint: "用规则语言书写，例如 (参数.低保标准 - 家庭人均月收入) * 家庭人口数",
      resident: "告知居民", summary: "告知居民的说明（一句话）", summary_en: "英文说明", materials: "所需材料（每行一项）",
      where: "办理地点", apply_url: "办理网址", contact: "咨询电话/联系人", objection_days: "异议期（天，免申即享）",
      written: "已写入 YAML", cannot: "表单暂不能写入 YAML：", lost: "切换到表单会丢弃这些注释：",
      members: "家庭成员", employees: "员工", count_is: "人数", first_match: "从上到下，取第一个符合的档位。",
      row_problem: "第 {n} 档：", table_problem: "决策表：",
      relations: "与已发布政策的关系", relation_kind: "关系", relation_policy: "已发布政策", add_relation: "＋ 关系",
      relation_hint: "资格范围与已发布政策相同或被其包含时，须声明关系才能提交审核。替代：本政策发布后原政策停用；补充：两项都享受；互斥：只享受其中一项。",
      wins: "互斥时以哪项为准", wins_larger: "年度待遇较高者", wins_this: "本政策", wins_other: "该政策：{title}",
    },
    en: {
      tab_form: "Policy form", tab_yaml: "YAML", loading: "Reading…",
      basics: "Basic facts", id: "Policy id (lowercase letters, digits, dashes)", title: "Title", title_en: "English title",
      department: "Department", basis: "Legal basis", category: "Category", none: "(none)",
      audience: "Audience", mode: "Mode", valid_from: "Valid from", valid_until: "Valid until (optional)",
      conditions: "Eligibility", join: "These conditions", add_row: "+ condition", add_group: "+ group",
      add_group_row: "+ member/employee condition", remove: "Delete", up: "Up", down: "Down",
      field: "Field", tag: "Tag (tag library)", pick: "Choose", value: "Value", times: "times",
      number: "Number", parameter: "Parameter", by_field: "by", days: "days",
      application: "Conditions checked at application", application_hint: "What no record shows and the applicant confirms, one per line; shown to the reviewer and the resident and carried into the invitation. Not for auto-grants, which have no application.",
      amount: "Amount", amount_none: "No amount", amount_fixed: "Fixed sum", amount_table: "Tiers (decision table)",
      amount_formula: "Formula", tier: "Tier {n}", when: "When", gets: "Amount", add_tier: "+ tier",
      otherwise: "Otherwise", otherwise_none: "Nothing (0)", period: "Period", unit: "Benefit unit",
      recipient: "Told to", formula_hint: "In the rule language, e.g. (parameters.dibao_standard - household_income_per_capita) * household_size",
      resident: "What the resident reads", summary: "Summary for the resident", summary_en: "Summary in English", materials: "Materials (one per line)",
      where: "Where to apply", apply_url: "Address to apply online", contact: "Contact", objection_days: "Days to object (auto-grant)",
      written: "Written to the YAML", cannot: "The form cannot be written yet: ", lost: "The form drops these comments: ",
      members: "Household members", employees: "Employees", count_is: "count", first_match: "Read top to bottom; the first tier that matches applies.",
      row_problem: "Tier {n}: ", table_problem: "Table: ",
      relations: "How it stands to published policies", relation_kind: "Relation", relation_policy: "Published policy", add_relation: "+ relation",
      relation_hint: "A policy whose eligible set equals or lies inside a published one must declare how the two stand before it can be submitted. Replaces: the other is retired on publishing; supplements: both apply; excludes: a subject gets one.",
      wins: "Which one a subject keeps", wins_larger: "The larger annual benefit", wins_this: "This policy", wins_other: "That policy: {title}",
    },
  };
  const w = WORDS[lang];
  // The schema's and the parameters' units, as a Chinese screen writes them.
  const UNIT_ZH = { year: "岁", years: "年", month: "月", months: "个月", day: "天", days: "天", CNY: "元",
    "CNY/month": "元/月", "CNY/year": "元/年", "CNY/day": "元/天", "10k CNY/year": "万元/年", person: "人" };
  const unitWords = (unit) => (unit ? (lang === "en" ? unit : UNIT_ZH[unit] || unit) : "");
  const fmt = (s, v) => s.replace(/\{(\w+)\}/g, (_, k) => v[k]);
  const word = (entry) => (lang === "en" ? entry.en : entry.zh);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "value") node.value = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  async function api(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: Object.assign(
        { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
        body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try { json = await response.json(); } catch (_) { json = null; }
    return { ok: response.ok, status: response.status, json };
  }

  // ---------------------------------------------------------------- the tabs
  const codeEditor = $("code-editor");
  const picker = $("field-picker");
  const tabs = el("div", { class: "form-tabs", role: "tablist" });
  const formTab = el("button", { type: "button", role: "tab", id: "tab-form", onclick: () => showForm() }, w.tab_form);
  const yamlTab = el("button", { type: "button", role: "tab", id: "tab-yaml", onclick: () => showYaml() }, w.tab_yaml);
  tabs.append(formTab, yamlTab);
  const note = el("p", { id: "form-note", class: "warning", role: "status", hidden: true });
  const panel = el("div", { id: "form-panel", role: "tabpanel", hidden: true });
  const status = el("p", { id: "form-status", role: "status", "aria-live": "polite" });
  codeEditor.before(tabs, note, panel);
  panel.after(status);

  let choices = null;
  let published = null; // the policies in force, to pick a relation's by title
  let form = null;
  let tableProblems = [];
  const readOnly = () => area.readOnly || area.disabled;

  function select(tab) {
    formTab.setAttribute("aria-selected", tab === "form" ? "true" : "false");
    yamlTab.setAttribute("aria-selected", tab === "yaml" ? "true" : "false");
    panel.hidden = tab !== "form";
    codeEditor.hidden = tab === "form";
    if (picker) picker.hidden = tab === "form";
  }
  function showYaml() {
    select("yaml");
    status.textContent = "";
  }
  async function showForm() {
    if (!choices) {
      const r = await api("GET", "/api/v1/policies/form/choices");
      if (!r.ok) { note.hidden = false; note.textContent = (r.json && r.json.error && r.json.error.message) || `HTTP ${r.status}`; return; }
      choices = r.json;
    }
    if (!published) {
      const r = await api("GET", "/api/v1/policies");
      published = r.ok ? r.json : [];
    }
    status.textContent = w.loading;
    const r = await api("POST", `/api/v1/policies/form/read?lang=${lang}`, { document: area.value });
    status.textContent = "";
    if (!r.ok || !r.json.form) {
      note.hidden = false;
      note.textContent = r.ok ? r.json.note : `HTTP ${r.status}`;
      select("yaml");
      return;
    }
    form = r.json.form;
    note.hidden = !r.json.lost.length;
    note.textContent = r.json.lost.length ? w.lost + r.json.lost.join(" ") : "";
    tableProblems = [];
    select("form");
    render();
  }

  // ---------------------------------------------------------------- writing back
  let timer = null;
  let seq = 0;
  function changed(rerender) {
    if (rerender) render();
    clearTimeout(timer);
    timer = setTimeout(write, 300);
  }
  async function write() {
    const mine = ++seq;
    const r = await api("POST", `/api/v1/policies/form/write?lang=${lang}`, { form });
    if (mine !== seq) return;
    panel.querySelectorAll(".form-error").forEach((n) => n.remove());
    if (!r.ok) {
      const error = (r.json && r.json.error) || {};
      const message = error.message || `HTTP ${r.status}`;
      status.className = "bad";
      status.textContent = w.cannot + message;
      // beside the part of the form it is about, in the page's language
      const section = $(`form-${error.section || "basics"}`);
      if (section) section.append(el("p", { class: "form-error", role: "alert" }, message));
      for (const id of ["save-draft", "submit-review"]) if ($(id)) $(id).disabled = true;
      return;
    }
    status.className = "ok";
    status.textContent = `✓ ${w.written}`;
    tableProblems = r.json.table;
    renderTableProblems();
    if (area.value !== r.json.document) {
      area.value = r.json.document;
      area.dispatchEvent(new Event("input", { bubbles: true })); // the editor validates it
      area.blur();
    }
  }

  // ---------------------------------------------------------------- small widgets
  const fieldsOf = (scope) => (choices.fields[scope] || []);
  const fieldNamed = (scope, name) => fieldsOf(scope).find((f) => f.name === name);
  const tagsOf = (audience) => choices.tags[audience] || [];
  const parameterNamed = (name) => choices.parameters.find((p) => p.name === name);
  let uid = 0;
  const nextId = (stem) => `${stem}-${++uid}`;

  function labelled(text, control, extra) {
    const id = control.id || nextId("f");
    control.id = id;
    return el("div", { class: "form-field" }, el("label", { for: id }, text), control, extra || null);
  }
  function textInput(key, attrs) {
    return el("input", Object.assign({ type: "text", name: key, value: form[key] || "", disabled: readOnly(),
      oninput: (e) => { form[key] = e.target.value || null; changed(false); } }, attrs || {}));
  }
  function selectOf(options, current, onchange, attrs) {
    const s = el("select", Object.assign({ disabled: readOnly(), onchange: (e) => onchange(e.target.value) }, attrs || {}),
      options.map(([value, text, title]) => el("option", { value, title: title || null }, text)));
    s.value = current === null || current === undefined ? "" : current;
    return s;
  }
  function linesInput(key, attrs) {
    return el("textarea", Object.assign({ name: key, rows: 3, disabled: readOnly(),
      oninput: (e) => { form[key] = e.target.value.split("\n").map((s) => s.trim()).filter(Boolean); changed(false); } },
    attrs || {}), (form[key] || []).join("\n"));
  }
  function moveButtons(list, i, after) {
    return [
      el("button", { type: "button", class: "small", title: w.up, "aria-label": w.up, disabled: readOnly() || i === 0,
        onclick: () => { [list[i - 1], list[i]] = [list[i], list[i - 1]]; after(); } }, "↑"),
      el("button", { type: "button", class: "small", title: w.down, "aria-label": w.down, disabled: readOnly() || i === list.length - 1,
        onclick: () => { [list[i + 1], list[i]] = [list[i], list[i + 1]]; after(); } }, "↓"),
      el("button", { type: "button", class: "small remove", title: w.remove, "aria-label": w.remove, disabled: readOnly(),
        onclick: () => { list.splice(i, 1); after(); } }, "×"),
    ];
  }

  // An amount: a number, or a parameter (and, for a scale or categories, which bracket).
  function amountWidget(value, set, name) {
    const isParam = value && value.parameter;
    const params = choices.parameters;
    const kind = selectOf(
      [["number", w.number], ...params.map((p) => [`p:${p.name}`, `${w.parameter}：${lang === "en" ? p.name : p.zh}`, word({ zh: p.about_zh, en: p.about_en })])],
      isParam ? `p:${value.parameter}` : "number",
      (v) => {
        if (v === "number") set({ number: "" });
        else {
          const p = parameterNamed(v.slice(2));
          set({ parameter: p.name, index: p.kind === "amount" ? null : (p.by || p.brackets[0]), times: null });
        }
        changed(true);
      }, { "aria-label": w.gets, "data-role": "amount-kind", name: `${name}-kind` });
    if (!isParam) {
      return el("span", { class: "amount" }, kind,
        el("input", { type: "text", inputmode: "decimal", size: 8, name, "aria-label": w.gets, value: (value && value.number) || "", disabled: readOnly(),
          oninput: (e) => { set({ number: e.target.value.trim() }); changed(false); } }), lang === "en" ? " CNY" : " 元");
    }
    const p = parameterNamed(value.parameter);
    let index = null;
    if (p && p.kind !== "amount") {
      const byField = p.by ? [[p.by, `${w.by_field} ${fieldLabel(data_audience(), p.by)}`]] : [];
      index = selectOf([...byField, ...p.brackets.map((b) => [b, b])], value.index,
        (v) => { value.index = v; changed(false); }, { "aria-label": w.parameter, "data-role": "bracket", name: `${name}-bracket` });
    }
    return el("span", { class: "amount" }, kind, index, p ? el("small", {}, ` ${unitWords(p.unit)}`) : null);
  }
  const data_audience = () => form.audience;
  function fieldLabel(scope, name) {
    const f = fieldNamed(scope, name);
    return f ? (lang === "en" ? f.name : f.zh) : name;
  }

  // ---------------------------------------------------------------- condition rows
  const OPS_BY_TYPE = {
    integer: ["ge", "gt", "le", "lt", "eq", "ne"], number: ["ge", "gt", "le", "lt", "eq", "ne"],
    enum: ["eq", "ne", "in", "not_in"], string: ["eq", "ne", "in", "not_in"],
    boolean: ["is_true", "is_false"], date: ["ge", "gt", "le", "lt", "within_days"], datetime: ["ge", "gt", "le", "lt", "within_days"],
    tags: ["has_tag", "lacks_tag"],
  };
  function opWords(code, type) {
    const op = choices.operators.find((o) => o.value === code);
    if (!op) return code;
    return lang === "en" ? op.en : (type === "date" && op.zh_date ? op.zh_date : op.zh);
  }
  function rowType(scope, row) {
    if (row.subject === "tags") return "tags";
    const f = fieldNamed(scope, row.subject);
    return f ? (f.type === "enum" || (f.values && f.values.length) ? "enum" : f.type) : "string";
  }
  function blankValue(type, op) {
    if (op === "in" || op === "not_in") return [];
    if (op === "is_true" || op === "is_false") return null;
    if (type === "integer" || type === "number" || op === "within_days") return { number: "" };
    if (type === "date") return { date: "" };
    return "";
  }
  function subjectSelect(scope, row, audience, onchange) {
    const options = [["", w.pick]];
    for (const f of fieldsOf(scope)) options.push([f.name, lang === "en" ? f.name : `${f.zh}`, word({ zh: f.about_zh, en: f.about_en })]);
    if (audience) options.push(["tags", w.tag]);
    return selectOf(options, row.subject, onchange, { "aria-label": w.field, "data-role": "subject" });
  }
  function valueWidget(scope, row, audience) {
    const type = rowType(scope, row);
    const f = fieldNamed(scope, row.subject);
    const set = (v) => { row.value = v; changed(false); };
    if (row.operator === "is_true" || row.operator === "is_false") return null;
    if (type === "tags") {
      const tags = tagsOf(audience);
      const s = selectOf([["", w.pick], ...tags.map((t) => [t.id, `${t.zh}`, word({ zh: t.about_zh, en: t.about_en })])], row.value,
        (v) => { row.value = v; changed(true); }, { "aria-label": w.tag, "data-role": "value" });
      const tag = tags.find((t) => t.id === row.value);
      return el("span", {}, s, tag ? el("small", { class: "about" }, word({ zh: tag.about_zh, en: tag.about_en })) : null);
    }
    if (type === "enum" && f) {
      const labels = lang === "en" ? f.values_en : f.values_zh;
      if (row.operator === "in" || row.operator === "not_in") {
        const chosen = new Set(row.value || []);
        return el("span", { class: "checks", "data-role": "value" }, f.values.map((v, i) =>
          el("label", { class: "inline" }, el("input", { type: "checkbox", value: v, checked: chosen.has(v), disabled: readOnly(),
            onchange: (e) => { if (e.target.checked) chosen.add(v); else chosen.delete(v); row.value = f.values.filter((x) => chosen.has(x)); changed(false); } }),
          ` ${labels[i] || v}`)));
      }
      return selectOf([["", w.pick], ...f.values.map((v, i) => [v, labels[i] || v])], row.value, set, { "aria-label": w.value, "data-role": "value" });
    }
    if (row.operator === "within_days") {
      return el("span", {}, el("input", { type: "text", inputmode: "numeric", size: 6, "aria-label": w.value, "data-role": "value",
        value: (row.value && row.value.number) || "", disabled: readOnly(), oninput: (e) => set({ number: e.target.value.trim() }) }), ` ${w.days}`);
    }
    if (type === "date") {
      return el("input", { type: "date", "aria-label": w.value, "data-role": "value", value: (row.value && row.value.date) || "", disabled: readOnly(),
        onchange: (e) => set({ date: e.target.value }) });
    }
    if (type === "integer" || type === "number") {
      const isParam = row.value && row.value.parameter;
      const amounts = choices.parameters.filter((p) => p.kind === "amount");
      const source = selectOf([["number", w.number], ...amounts.map((p) => [p.name, `${w.parameter}：${lang === "en" ? p.name : p.zh}`])],
        isParam ? row.value.parameter : "number",
        (v) => { row.value = v === "number" ? { number: "" } : { parameter: v, index: null, times: null }; changed(true); },
        { "aria-label": w.parameter, "data-role": "value-kind" });
      const input = isParam
        ? el("input", { type: "text", inputmode: "decimal", size: 4, "aria-label": w.times, placeholder: "1", value: row.value.times || "", disabled: readOnly(),
            oninput: (e) => { row.value.times = e.target.value.trim() || null; changed(false); } })
        : el("input", { type: "text", inputmode: "decimal", size: 8, "aria-label": w.value, "data-role": "value", value: (row.value && row.value.number) || "", disabled: readOnly(),
            oninput: (e) => set({ number: e.target.value.trim() }) });
      return el("span", {}, isParam ? [input, ` ${w.times} × `, source] : [input, f && f.unit ? ` ${unitWords(f.unit)}` : "", " ", source]);
    }
    if (row.operator === "in" || row.operator === "not_in") {
      return el("input", { type: "text", "aria-label": w.value, "data-role": "value", placeholder: "北京市，天津市", value: (row.value || []).join("，"), disabled: readOnly(),
        oninput: (e) => set(e.target.value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean)) });
    }
    return el("input", { type: "text", "aria-label": w.value, "data-role": "value", value: row.value || "", disabled: readOnly(), oninput: (e) => set(e.target.value) });
  }
  function conditionRow(scope, row, audience) {
    const type = rowType(scope, row);
    const ops = OPS_BY_TYPE[type] || ["eq", "ne"];
    return el("span", { class: "row-body" },
      subjectSelect(scope, row, audience, (v) => {
        row.subject = v;
        const t = rowType(scope, row);
        row.operator = (OPS_BY_TYPE[t] || ["eq"])[0];
        row.value = blankValue(t, row.operator);
        changed(true);
      }),
      selectOf(ops.map((o) => [o, opWords(o, type)]), row.operator, (v) => {
        const before = row.operator;
        row.operator = v;
        if ((before === "in" || before === "not_in") !== (v === "in" || v === "not_in") || v === "within_days" || before === "within_days") row.value = blankValue(type, v);
        changed(true);
      }, { "aria-label": "operator", "data-role": "operator" }),
      valueWidget(scope, row, audience));
  }
  function groupRow(row, audience) {
    const agg = choices.aggregates.find((a) => a.name === row.aggregate);
    const scope = agg ? agg.group : "members";
    const aggs = choices.aggregates.filter((a) => (audience === "enterprise" ? a.group === "employees" : a.group === "members"));
    row.where = row.where || { type: "group", join: "all", rows: [] };
    return el("div", { class: "group-row" },
      selectOf(aggs.map((a) => [a.name, lang === "en" ? a.name : a.zh]), row.aggregate, (v) => {
        row.aggregate = v;
        const a = choices.aggregates.find((x) => x.name === v);
        if (a.op === "count") { row.operator = row.operator || "ge"; row.value = row.value || "1"; } else { row.operator = null; row.value = null; }
        changed(true);
      }, { "aria-label": scope === "members" ? w.members : w.employees, "data-role": "aggregate" }),
      agg && agg.op === "count"
        ? el("span", {}, selectOf(["ge", "gt", "le", "lt", "eq"].map((o) => [o, opWords(o, "integer")]), row.operator, (v) => { row.operator = v; changed(false); }),
            el("input", { type: "text", size: 4, inputmode: "numeric", value: row.value || "", disabled: readOnly(), "aria-label": w.count_is,
              oninput: (e) => { row.value = e.target.value.trim() || null; changed(false); } }))
        : null,
      groupEditor(row.where, scope, null));
  }
  // A group of rows: 全部满足 / 任一满足, each row a condition, a nested group or a group row.
  function groupEditor(group, scope, audience) {
    const box = el("div", { class: "cond-group", "data-join": group.join });
    const head = el("div", { class: "group-head" }, `${w.join} `,
      selectOf(Object.values(choices.joins).map((j) => [j.value, word(j)]), group.join, (v) => { group.join = v; changed(true); }, { "aria-label": w.join, "data-role": "join" }));
    box.append(head);
    const list = el("ol", { class: "cond-rows" });
    group.rows.forEach((row, i) => {
      const body = row.type === "group" ? groupEditor(row, scope, audience)
        : row.type === "group_row" ? groupRow(row, audience) : conditionRow(scope, row, audience);
      list.append(el("li", { "data-row": i + 1 }, body, el("span", { class: "row-tools" }, moveButtons(group.rows, i, () => changed(true)))));
    });
    box.append(list);
    if (!readOnly()) {
      const first = fieldsOf(scope)[0];
      box.append(el("div", { class: "group-tools" },
        el("button", { type: "button", "data-role": "add-row", onclick: () => { group.rows.push({ type: "row", subject: first ? first.name : "", operator: "eq", value: "" }); fixRow(scope, group.rows[group.rows.length - 1]); changed(true); } }, w.add_row),
        el("button", { type: "button", "data-role": "add-group", onclick: () => { group.rows.push({ type: "group", join: group.join === "all" ? "any" : "all", rows: [] }); changed(true); } }, w.add_group),
        audience && audience !== "household"
          ? el("button", { type: "button", "data-role": "add-group-row", onclick: () => {
              const a = choices.aggregates.find((x) => x.group === (audience === "enterprise" ? "employees" : "members") && x.op === "any");
              group.rows.push({ type: "group_row", aggregate: a.name, where: { type: "group", join: "all", rows: [] }, operator: null, value: null });
              changed(true);
            } }, w.add_group_row)
          : null));
    }
    return box;
  }
  function fixRow(scope, row) {
    const t = rowType(scope, row);
    row.operator = (OPS_BY_TYPE[t] || ["eq"])[0];
    row.value = blankValue(t, row.operator);
  }

  // ---------------------------------------------------------------- the amount
  function amountSection() {
    const a = form.amount || { kind: "none" };
    form.amount = a;
    const kinds = [["none", w.amount_none], ["fixed", w.amount_fixed], ["table", w.amount_table], ["formula", w.amount_formula]];
    const radios = el("fieldset", { class: "kinds" }, el("legend", {}, w.amount), kinds.map(([k, text]) =>
      el("label", { class: "inline" }, el("input", { type: "radio", name: "amount-kind", value: k, checked: a.kind === k, disabled: readOnly(),
        onchange: () => {
          a.kind = k;
          if (k === "fixed" && !a.fixed) a.fixed = { number: "" };
          if (k === "table" && !a.table) a.table = { tiers: [], otherwise: null };
          if (k === "formula" && !a.formula) a.formula = "";
          if (k !== "none" && !form.benefit_period) form.benefit_period = "month";
          changed(true);
        } }), ` ${text}`)));
    const body = el("div", { class: "amount-body" });
    if (a.kind === "fixed") body.append(amountWidget(a.fixed, (v) => { a.fixed = v; }, "amount-fixed"));
    if (a.kind === "formula") {
      body.append(labelled(w.amount_formula, el("textarea", { rows: 2, name: "formula", disabled: readOnly(), spellcheck: "false",
        oninput: (e) => { a.formula = e.target.value; changed(false); } }, a.formula || ""), el("small", {}, w.formula_hint)));
    }
    if (a.kind === "table") body.append(tableEditor(a.table));
    const wordsSelect = (key, list, none) => selectOf([...(none ? [["", w.none]] : []), ...list.map((x) => [x.value, word(x)])], form[key],
      (v) => { form[key] = v || null; changed(true); }, { name: key });
    const extras = a.kind === "none" ? null : el("div", { class: "form-grid" },
      labelled(w.period, wordsSelect("benefit_period", choices.periods, false)),
      labelled(w.unit, wordsSelect("unit", choices.units, true)),
      labelled(w.recipient, wordsSelect("recipient", choices.recipients, true)));
    return el("section", { class: "form-section", id: "form-amount", "data-key": "benefit" }, radios, body, extras);
  }
  function tableEditor(table) {
    const rows = table.tiers;
    const list = el("ol", { class: "tiers", id: "tiers" });
    rows.forEach((tier, i) => {
      list.append(el("li", { "data-tier": i + 1 },
        el("div", { class: "tier-head" }, el("strong", {}, fmt(w.tier, { n: i + 1 })), el("span", { class: "row-tools" }, moveButtons(rows, i, () => changed(true)))),
        el("div", { class: "tier-body" },
          groupEditor(tier.when, form.audience, form.audience),
          el("div", { class: "gets" }, `→ ${w.gets} `, amountWidget(tier.amount, (v) => { tier.amount = v; }, `tier-${i + 1}-amount`))),
        el("p", { class: "tier-problem", hidden: true })));
    });
    const first = fieldsOf(form.audience).find((f) => f.type === "integer" || f.type === "number");
    return el("div", { class: "table-editor" },
      el("p", { class: "hint" }, w.first_match),
      list,
      readOnly() ? null : el("button", { type: "button", id: "add-tier", onclick: () => {
        rows.push({ when: { type: "group", join: "all", rows: [{ type: "row", subject: first ? first.name : "", operator: "ge", value: { number: "" } }] }, amount: { number: "" } });
        changed(true);
      } }, w.add_tier),
      el("div", { class: "otherwise" }, `${w.otherwise} → `,
        el("label", { class: "inline" }, el("input", { type: "checkbox", id: "otherwise-none", checked: !table.otherwise, disabled: readOnly(),
          onchange: (e) => { table.otherwise = e.target.checked ? null : { number: "" }; changed(true); } }), ` ${w.otherwise_none}`),
        table.otherwise ? amountWidget(table.otherwise, (v) => { table.otherwise = v; }, "otherwise") : null),
      el("ul", { id: "table-problems" }));
  }
  function renderTableProblems() {
    const box = $("table-problems");
    if (!box) return;
    box.replaceChildren(...tableProblems.map((p) =>
      el("li", { "data-severity": p.severity, "data-tier": p.tier || "" }, p.tier ? fmt(w.row_problem, { n: p.tier }) : w.table_problem, p.message)));
    document.querySelectorAll("#tiers > li").forEach((li) => {
      const mine = tableProblems.filter((p) => p.tier === Number(li.dataset.tier));
      const box2 = li.querySelector(".tier-problem");
      box2.hidden = !mine.length;
      box2.textContent = mine.map((p) => p.message).join("；");
      box2.dataset.severity = mine.some((p) => p.severity === "error") ? "error" : "warning";
    });
  }

  // ---------------------------------------------------------------- relations
  // How the draft stands to published policies (rules.relations): the kind in words, the other
  // policy picked by its title among those of the same audience, and for 互斥 which one wins.
  function relationsSection() {
    form.relations = form.relations || [];
    const list = el("ol", { class: "relations-list", id: "relation-rows" });
    const others = () => published.filter((p) => p.audience === form.audience && p.policy_id !== form.id);
    const titleOf = (id) => { const p = published.find((x) => x.policy_id === id); return p ? p.title : id; };
    form.relations.forEach((r, i) => {
      const options = [["", w.pick], ...others().map((p) => [p.policy_id, `${p.title}（${p.department}，${p.policy_id}）`])];
      if (r.policy_id && !options.some(([v]) => v === r.policy_id)) options.push([r.policy_id, r.policy_id]);
      const wins = r.kind === "excludes"
        ? labelled(w.wins, selectOf([["", w.wins_larger], [form.id, w.wins_this], ...(r.policy_id ? [[r.policy_id, fmt(w.wins_other, { title: titleOf(r.policy_id) })]] : [])],
            r.wins, (v) => { r.wins = v || null; changed(false); }, { "data-role": "relation-wins" }))
        : null;
      list.append(el("li", { "data-relation": i + 1 },
        el("div", { class: "form-grid" },
          labelled(w.relation_kind, selectOf(choices.relations.map((k) => [k.value, word(k)]), r.kind,
            (v) => { r.kind = v; if (v !== "excludes") r.wins = null; changed(true); }, { "data-role": "relation-kind" })),
          labelled(w.relation_policy, selectOf(options, r.policy_id,
            (v) => { r.policy_id = v; if (r.wins && r.wins !== form.id) r.wins = null; changed(true); }, { "data-role": "relation-policy" })),
          wins),
        el("span", { class: "row-tools" }, moveButtons(form.relations, i, () => changed(true)))));
    });
    return el("section", { class: "form-section", id: "form-relations", "data-key": "relations" }, el("h3", {}, w.relations),
      el("p", { class: "hint" }, w.relation_hint), list,
      readOnly() ? null : el("button", { type: "button", id: "add-relation",
        onclick: () => { form.relations.push({ kind: "replaces", policy_id: "", wins: null }); changed(true); } }, w.add_relation));
  }

  // ---------------------------------------------------------------- the whole form
  function render() {
    const f = form;
    const t = textInput;
    const audienceSelect = selectOf(choices.audiences.map((a) => [a.value, word(a)]), f.audience, (v) => {
      f.audience = v;
      f.conditions = { type: "group", join: "all", rows: [] };
      if (f.amount && f.amount.table) f.amount.table.tiers = [];
      changed(true);
    }, { name: "audience" });
    const modes = el("fieldset", { class: "kinds", id: "form-mode" }, el("legend", {}, w.mode), choices.modes.map((m) =>
      el("label", { class: "inline", title: m.en }, el("input", { type: "radio", name: "mode", value: m.value, checked: f.mode === m.value, disabled: readOnly(),
        onchange: () => { f.mode = m.value; changed(true); } }), ` ${word(m)}`)));
    const category = selectOf([["", w.none], ...choices.categories.map((c) => [c, c])], f.category, (v) => { f.category = v || null; changed(false); }, { name: "category" });
    const date = (key) => el("input", { type: "date", name: key, value: (f[key] && f[key].date) || "", disabled: readOnly(),
      onchange: (e) => { f[key] = e.target.value ? { date: e.target.value } : null; changed(false); } });
    const auto = f.mode === "auto_grant";
    panel.replaceChildren(
      el("section", { class: "form-section", id: "form-basics" }, el("h3", {}, w.basics),
        el("div", { class: "form-grid" },
          labelled(w.id, t("id", { spellcheck: "false", autocapitalize: "off" })), labelled(w.title, t("title")),
          labelled(w.title_en, t("title_en")), labelled(w.department, t("department")),
          labelled(w.basis, t("basis")), labelled(w.category, category), labelled(w.audience, audienceSelect),
          labelled(w.valid_from, date("valid_from")), labelled(w.valid_until, date("valid_until"))),
        modes),
      el("section", { class: "form-section", id: "form-conditions", "data-key": "eligibility" }, el("h3", {}, w.conditions),
        groupEditor(f.conditions, f.audience, f.audience)),
      el("section", { class: "form-section", id: "form-application", "data-key": "application_conditions" }, el("h3", {}, w.application),
        el("p", { class: "hint" }, w.application_hint),
        linesInput("application_conditions", { "aria-label": w.application, disabled: readOnly() || (auto && !(f.application_conditions || []).length) })),
      amountSection(),
      el("section", { class: "form-section", id: "form-resident" }, el("h3", {}, w.resident),
        el("div", { class: "form-grid" },
          labelled(w.summary, t("summary")), labelled(w.summary_en, t("summary_en")),
          labelled(w.where, t("where")), labelled(w.apply_url, t("apply_url")), labelled(w.contact, t("contact")),
          auto ? labelled(w.objection_days, el("input", { type: "number", min: 0, name: "objection_days", value: f.objection_days ?? "", disabled: readOnly(),
            oninput: (e) => { f.objection_days = e.target.value === "" ? null : Number(e.target.value); changed(false); } })) : null),
        labelled(w.materials, linesInput("materials"))),
      relationsSection(),
    );
    renderTableProblems();
    placeProblems();
  }

  // Validation problems of the YAML shown in the form too, beside the section of their key.
  function keyAtLine(line) {
    const lines = area.value.split("\n");
    for (let i = Math.min(line, lines.length) - 1; i >= 0; i--) {
      const m = lines[i].match(/^([a-z_]+):/);
      if (m) return m[1];
    }
    return null;
  }
  function placeProblems() {
    if (panel.hidden || !form) return;
    panel.querySelectorAll(".section-problems").forEach((n) => n.remove());
    const items = [...document.querySelectorAll("#problems li")];
    const byKey = {};
    for (const li of items) {
      const key = keyAtLine(Number(li.dataset.line || 1));
      const section = panel.querySelector(`[data-key="${key}"]`) || $("form-basics");
      (byKey[section.id] = byKey[section.id] || { section, items: [] }).items.push(li);
    }
    for (const { section, items: found } of Object.values(byKey)) {
      section.append(el("ul", { class: "section-problems" }, found.map((li) => el("li", { "data-severity": li.dataset.severity }, li.textContent))));
    }
  }
  new MutationObserver(placeProblems).observe($("problems"), { childList: true });
  // The duplicate notice's 声明替代/补充/互斥 buttons add a line to the YAML: the form reads it
  // again, or its next write would drop the relation just declared.
  document.addEventListener("click", (e) => {
    if (e.target.closest && e.target.closest("button.declare") && !panel.hidden) showForm();
  });

  // The tab last chosen is remembered; the YAML editor is the default.  A document the form
  // cannot show says so on opening.
  const TAB_KEY = "zhida-editor-tab";
  formTab.addEventListener("click", () => localStorage.setItem(TAB_KEY, "form"));
  yamlTab.addEventListener("click", () => localStorage.setItem(TAB_KEY, "yaml"));
  if (localStorage.getItem(TAB_KEY) === "form") showForm();
  else {
    select("yaml");
    api("POST", `/api/v1/policies/form/read?lang=${lang}`, { document: area.value }).then((r) => {
      if (r.ok && !r.json.form) {
        note.hidden = false;
        note.textContent = r.json.note;
      }
    });
  }
})();
