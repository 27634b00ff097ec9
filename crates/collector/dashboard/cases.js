// The dashboard's cases view: filters (status, assignee, tag), one case's
// timeline with reply / note / status / priority / assignee / tags, the
// timings per week and the top roadblocks. Reads /v1/cases* with the same
// secret key as app.js (sessionStorage). `#case=<id>` (the link in Slack
// messages) opens that case.
//
// Everything from the API (users' comments, replies) goes in as text nodes.
"use strict";
(function () {
  const KEY_STORAGE = "touchpoint:dashboard:key";
  const $ = (id) => document.getElementById(id);
  const fmtTime = (ms) => (ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "—");
  const fmtDuration = (ms) => {
    if (ms === null || ms === undefined) return "—";
    const h = ms / 3_600_000;
    return h < 1 ? `${Math.round(ms / 60_000)} min` : h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} d`;
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function table(headers, rows) {
    const head = el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h))));
    const body = el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c)))));
    return el("table", {}, head, body);
  }

  async function api(path, options) {
    const res = await fetch(path, {
      ...options,
      headers: {
        Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE)}`,
        ...(options && options.body ? { "Content-Type": "application/json" } : {}),
      },
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(body.error || `HTTP ${res.status}`), { status: res.status });
    return body;
  }

  const say = (text) => ($("cases-status").textContent = text);

  // ------------------------------------------------------------ list

  function filters() {
    const q = new URLSearchParams({ status: $("cases-filter-status").value });
    if ($("cases-filter-assignee").value.trim()) q.set("assignee", $("cases-filter-assignee").value.trim());
    if ($("cases-filter-tag").value.trim()) q.set("tag", $("cases-filter-tag").value.trim());
    return q;
  }

  async function loadList() {
    const { cases } = await api(`/v1/cases?${filters()}`);
    const rows = cases.map((c) => {
      const open = el("button", { type: "button", class: "small", "aria-label": `Open case: ${c.title} (${c.user_id || c.anonymous_id || ""})` }, "Open");
      open.addEventListener("click", () => openCase(c.id));
      return [fmtTime(c.created_at), c.title, c.user_id || c.anonymous_id || "—", c.status, c.priority, c.assignee || "—", c.tags.join(", ") || "—", open];
    });
    $("cases-list").replaceChildren(
      rows.length ? table(["Opened", "Case", "User", "Status", "Priority", "Assignee", "Tags", ""], rows) : el("p", { class: "empty" }, "No cases match."),
    );
  }

  async function loadReports() {
    const [{ weeks }, { roadblocks }] = await Promise.all([api("/v1/cases/timings"), api("/v1/cases/roadblocks")]);
    $("cases-timings").replaceChildren(
      weeks.length
        ? table(["Week of", "Opened", "Solved", "Median first response", "Median resolution"],
            weeks.map((w) => [w.week, w.opened, w.solved, fmtDuration(w.median_first_response_ms), fmtDuration(w.median_resolution_ms)]))
        : el("p", { class: "empty" }, "No cases yet."),
    );
    $("cases-roadblocks").replaceChildren(
      roadblocks.length
        ? table(["Reason", "Cases", "Not solved"], roadblocks.map((r) => [r.tag, r.cases, r.unsolved]))
        : el("p", { class: "empty" }, "No reason tags yet."),
    );
  }

  // ------------------------------------------------------------ one case

  function entryText(e) {
    const who = e.author ? `${e.author}: ` : "";
    switch (e.kind) {
      case "reply": return `${who}replied by email — ${e.body}`;
      case "note": return `${who}note — ${e.body}`;
      case "csat": return `The user rated the help ${e.body} of 5`;
      default: return `${who}${e.kind} → ${e.body || "none"}`;
    }
  }

  function comment(c) {
    const e = c.detail && c.detail.event;
    if (c.detail && c.detail.message) return c.detail.message;
    if (e && e.type === "survey_answered") return `${e.question_id} = ${Array.isArray(e.value) ? e.value.join(", ") : e.value}`;
    return "";
  }

  async function openCase(id) {
    let c;
    try {
      c = await api(`/v1/cases/${encodeURIComponent(id)}`);
    } catch (e) {
      say(`Could not open the case: ${e.message}`);
      return;
    }
    const field = (label, input) => el("label", {}, label, " ", input);
    const status = el("select", { id: "case-status" }, ...["open", "waiting", "solved"].map((s) => el("option", { value: s, selected: s === c.status }, s)));
    const priority = el("select", { id: "case-priority" }, ...["low", "normal", "high", "urgent"].map((p) => el("option", { value: p, selected: p === c.priority }, p)));
    const assignee = el("input", { id: "case-assignee", value: c.assignee || "" });
    const tags = el("input", { id: "case-tags", value: c.tags.join(", "), placeholder: "export_speed, pricing" });
    const save = el("button", { type: "button" }, "Save changes");
    save.addEventListener("click", () =>
      act(c.id, "PATCH", "", {
        status: status.value,
        priority: priority.value,
        assignee: assignee.value.trim() || null,
        tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
      }),
    );
    const text = el("textarea", { id: "case-text", rows: "4", "aria-label": "Reply or note" });
    const reply = el("button", { type: "button" }, "Send reply");
    reply.addEventListener("click", () => act(c.id, "POST", "/reply", { body: text.value }));
    const addNote = el("button", { type: "button", class: "secondary" }, "Add note");
    addNote.addEventListener("click", () => act(c.id, "POST", "/notes", { body: text.value }));
    const timeline = c.timeline.length
      ? el("ol", { class: "timeline", "aria-label": "Timeline" }, ...c.timeline.map((e) => el("li", {}, el("time", {}, fmtTime(e.at)), " ", entryText(e))))
      : el("p", { class: "empty" }, "Nothing on the timeline yet.");
    $("case-detail").replaceChildren(
      el("h3", {}, c.title),
      el("p", {}, `${c.user_id || c.anonymous_id || "unknown user"} · opened ${fmtTime(c.created_at)} · first response ${fmtTime(c.first_response_at)}`
        + (c.csat !== null ? ` · CSAT ${c.csat}/5` : "")),
      comment(c) ? el("blockquote", {}, comment(c)) : "",
      el("div", { class: "controls" }, field("Status", status), field("Priority", priority), field("Assignee", assignee), field("Tags", tags), save),
      timeline,
      el("div", { class: "controls" }, text, reply, addNote),
    );
    $("case-detail").hidden = false;
    $("case-detail").dataset.caseId = c.id;
  }

  async function act(id, method, path, body) {
    try {
      await api(`/v1/cases/${encodeURIComponent(id)}${path}`, { method, body: JSON.stringify(body) });
      say(path === "/reply" ? "Reply sent." : "Saved.");
      await Promise.all([openCase(id), loadList(), loadReports()]);
    } catch (e) {
      say(`Could not save: ${e.message}`);
    }
  }

  // ------------------------------------------------------------ entry

  async function load() {
    try {
      await Promise.all([loadList(), loadReports()]);
      const m = location.hash.match(/^#case=([\w-]+)$/);
      if (m) await openCase(m[1]);
    } catch (e) {
      $("cases-list").replaceChildren(el("p", { class: "empty" }, e.status === 404 ? "No cases on this collector." : `Could not load: ${e.message}`));
    }
  }

  for (const id of ["cases-filter-status", "cases-filter-assignee", "cases-filter-tag"]) {
    const input = $(id);
    if (input) input.addEventListener("change", () => loadList().catch((e) => say(`Could not load: ${e.message}`)));
  }
  window.addEventListener("hashchange", () => load());
  window.TouchpointCases = { load };
})();
