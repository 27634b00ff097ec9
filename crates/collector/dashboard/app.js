// The Touchpoint dashboard: reads the collector's /v1 APIs with the project's
// secret key (kept in sessionStorage for this tab, sent as a Bearer token) and
// draws every chart as inline SVG. No dependencies, nothing from another origin.
//
// Everything that comes from the API (answers are written by end users) is
// put on the page with textContent or as SVG text nodes, never as HTML.
"use strict";
(function () {
  const KEY_STORAGE = "touchpoint:dashboard:key";
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  const fmtNps = (n) => (n === null || n === undefined ? "—" : String(n));
  const fmtPct = (n) => (n === null || n === undefined ? "—" : `${n}%`);
  const fmtTime = (ms) => (ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "—");

  function key() {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    // The filter bar (insight.js) adds its filters to the reads that honour them.
    if (window.TouchpointInsight) path = window.TouchpointInsight.scope(path, options);
    const res = await fetch(path, {
      ...options,
      headers: { Authorization: `Bearer ${key()}`, ...((options && options.headers) || {}) },
    });
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try {
        message = (await res.json()).error || message;
      } catch (_) {
        /* not JSON */
      }
      throw new ApiError(res.status, message);
    }
    return res;
  }

  const json = async (path) => (await api(path)).json();

  function table(headers, rows) {
    const head = el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h))));
    const body = el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c)))));
    return el("table", {}, head, body);
  }

  function note(text) {
    return el("p", { class: "empty" }, text);
  }

  /** A panel whose data could not be read: 404 means "not configured here". */
  function failed(target, e, what) {
    target.replaceChildren(note(e.status === 404 ? `No ${what} on this collector.` : `Could not load: ${e.message}`));
  }

  // ------------------------------------------------------------ charts

  /** NPS per period as a line on a −100…100 scale, a labelled point per period. */
  function trendChart(periods) {
    if (periods.length === 0) return note("No scores yet.");
    // Points sit PAD inside the plot, so the first and last labels are not cut off.
    const W = 520, H = 220, L = 40, R = 12, T = 16, B = 40, PAD = 36;
    const x = (i) => (periods.length === 1 ? L + (W - L - R) / 2 : L + PAD + (i * (W - L - R - 2 * PAD)) / (periods.length - 1));
    const y = (v) => T + ((100 - v) * (H - T - B)) / 200;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "trend" });
    const summary = periods.map((p) => `${p.label}: ${fmtNps(p.nps)} (${p.responses} responses)`).join("; ");
    root.append(svg("title", {}, `NPS per period — ${summary}`));
    for (const v of [100, 50, 0, -50, -100]) {
      root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }));
      root.append(svg("text", { x: L - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, v));
    }
    const points = periods.map((p, i) => `${x(i)},${y(p.nps)}`).join(" ");
    root.append(svg("polyline", { points, class: "line" }));
    periods.forEach((p, i) => {
      const g = svg("g", { class: "point", "data-period": p.label });
      g.append(svg("title", {}, `${p.label}: NPS ${fmtNps(p.nps)}, ${p.responses} responses`));
      g.append(svg("circle", { cx: x(i), cy: y(p.nps), r: 4 }));
      g.append(svg("text", { x: x(i), y: y(p.nps) - 9, class: "value", "text-anchor": "middle" }, fmtNps(p.nps)));
      g.append(svg("text", { x: x(i), y: H - B + 18, class: "tick", "text-anchor": "middle" }, p.label));
      root.append(g);
    });
    return root;
  }

  /** Responses per score 0–10, bars coloured by category. */
  function distributionChart(distribution) {
    if (distribution.length === 0) return note("This survey has no NPS question.");
    const W = 520, H = 220, L = 12, R = 12, T = 22, B = 28;
    const max = Math.max(1, ...distribution.map((d) => d.count));
    const slot = (W - L - R) / distribution.length;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "bars" });
    root.append(svg("title", {}, "Responses per score — " + distribution.map((d) => `${d.score}: ${d.count}`).join(", ")));
    distribution.forEach((d, i) => {
      const h = ((H - T - B) * d.count) / max;
      const cat = d.score <= 6 ? "detractor" : d.score <= 8 ? "passive" : "promoter";
      const g = svg("g", { class: `bar ${cat}`, "data-score": d.score, "data-count": d.count });
      g.append(svg("title", {}, `Score ${d.score}: ${d.count} responses`));
      g.append(svg("rect", { x: L + i * slot + 4, y: H - B - h, width: slot - 8, height: Math.max(h, 0) }));
      g.append(svg("text", { x: L + i * slot + slot / 2, y: H - B - h - 6, class: "value", "text-anchor": "middle" }, d.count));
      g.append(svg("text", { x: L + i * slot + slot / 2, y: H - 8, class: "tick", "text-anchor": "middle" }, d.score));
      root.append(g);
    });
    return root;
  }

  /** Horizontal bars: one row per item, `value` of `total`. */
  function hbars(rows, total, label) {
    const W = 520, ROW = 26, LABEL = 210, R = 70;
    const H = rows.length * ROW + 4;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "hbars" });
    root.append(svg("title", {}, label + " — " + rows.map((r) => `${r.label}: ${r.value}`).join(", ")));
    rows.forEach((r, i) => {
      const y = i * ROW + 2;
      const w = total > 0 ? ((W - LABEL - R) * r.value) / total : 0;
      const g = svg("g", { class: "row", "data-label": r.label, "data-value": r.value });
      g.append(svg("title", {}, `${r.label}: ${r.value}${r.extra ? " — " + r.extra : ""}`));
      g.append(svg("text", { x: LABEL - 8, y: y + 16, class: "label", "text-anchor": "end" }, r.label));
      g.append(svg("rect", { x: LABEL, y: y + 3, width: W - LABEL - R, height: ROW - 8, class: "track" }));
      g.append(svg("rect", { x: LABEL, y: y + 3, width: Math.max(w, 0), height: ROW - 8, class: "fill" }));
      g.append(svg("text", { x: W - R + 6, y: y + 16, class: "value" }, r.text !== undefined ? r.text : r.value));
      root.append(g);
    });
    return root;
  }

  // ------------------------------------------------------------ panels

  function showSurvey(r) {
    $("nps-value").textContent = fmtNps(r.nps.nps);
    $("nps-responses").textContent = r.nps.responses;
    $("nps-promoters").textContent = r.nps.promoters;
    $("nps-passives").textContent = r.nps.passives;
    $("nps-detractors").textContent = r.nps.detractors;
    $("showings").textContent = r.showings;
    $("response-rate").textContent = fmtPct(r.response_rate);
    $("completion-rate").textContent = fmtPct(r.completion_rate);
    $("trend").replaceChildren(trendChart(r.over_time.periods));
    $("distribution").replaceChildren(distributionChart(r.distribution));

    const blocks = r.follow_ups.map((q) => {
      const block = el("div", { class: "question", "data-question": q.question_id });
      block.append(el("h3", {}, q.text), el("p", { class: "hint" }, `${q.answered} answered`));
      if (q.choices.length > 0) {
        const rows = q.choices.map((c) => ({
          label: c.label,
          value: c.count,
          extra: `${c.detractors} detractors, ${c.passives} passives, ${c.promoters} promoters`,
        }));
        block.append(hbars(rows, Math.max(1, q.answered), q.text));
      }
      if (q.kind === "text") {
        block.append(
          q.texts.length === 0
            ? note("No answers yet.")
            : el("ul", { class: "texts" }, ...q.texts.slice(0, 20).map((t) =>
                el("li", {}, el("q", {}, t.text), el("span", { class: "who" }, ` — ${t.user_id || "anonymous"}${t.score !== null ? `, score ${t.score}` : ""}`)))),
        );
      }
      return block;
    });
    $("follow-ups").replaceChildren(...(blocks.length ? blocks : [note("This survey has no follow-up questions.")]));
  }

  function showFunnel(data) {
    const blocks = data.segments.map((s) => {
      const block = el("div", { class: "segment", "data-segment": s.segment });
      block.append(el("h3", {}, `${s.segment} · ${s.checklist} · ${s.users} ${s.users === 1 ? "user" : "users"}`));
      const rows = s.items.map((i) => ({
        label: i.item_id,
        value: i.users_completed,
        text: `${i.users_completed}/${s.users}`,
        extra: i.median_ms_to_complete === null ? "" : `median ${(i.median_ms_to_complete / 3600000).toFixed(1)} h`,
      }));
      block.append(hbars(rows, s.users, `Funnel of ${s.segment}`));
      return block;
    });
    $("funnel").replaceChildren(...blocks);
  }

  function showChurn(data) {
    $("churn").replaceChildren(
      data.users.length === 0
        ? note("Nobody is at risk.")
        : table(["User", "Segment", "First seen", "Last seen"], data.users.map((u) => [u.user, u.segment, fmtTime(u.first_seen), fmtTime(u.last_seen)])),
    );
  }

  function caseSummary(c) {
    const e = c.detail && c.detail.event;
    if (e && e.type === "survey_answered") return `${e.question_id} = ${Array.isArray(e.value) ? e.value.join(", ") : e.value}`;
    if (e && e.type === "survey_completed") return `ending ${e.ending_id}`;
    if (e) return e.type;
    if (c.detail && c.detail.churn_risk) return `no success within ${c.detail.churn_risk.days} days`;
    if (c.detail && c.detail.account) return `account ${c.detail.account.id} (health ${c.detail.account.health}): ${c.detail.reason}`;
    return "";
  }

  function showCases(data) {
    if (data.cases.length === 0) {
      $("cases").replaceChildren(note("No open cases."));
      return;
    }
    const rows = data.cases.map((c) => {
      const close = el("button", { type: "button", class: "small", "aria-label": `Close case: ${c.title} (${c.user_id || c.anonymous_id || ""})` }, "Close");
      close.addEventListener("click", async () => {
        close.disabled = true;
        try {
          await api(`/v1/cases/${encodeURIComponent(c.id)}/close`, { method: "POST" });
          await loadCases();
        } catch (e) {
          close.disabled = false;
          $("status").textContent = `Could not close the case: ${e.message}`;
        }
      });
      const who = c.user_id || c.anonymous_id || (c.detail && c.detail.assigned_to ? `→ ${c.detail.assigned_to}` : "—");
      return [fmtTime(c.created_at), c.title, who, caseSummary(c), close];
    });
    $("cases").replaceChildren(table(["Opened", "Case", "User", "Why", ""], rows));
  }

  function showHelp(data) {
    if (data.searches === 0) {
      $("help").replaceChildren(note("No help searches recorded yet."));
      return;
    }
    const summary = el("p", { class: "hint" }, `${data.without_result} of ${data.searches} searches found nothing.`);
    const list = data.queries.length === 0
      ? note("Every search found something.")
      : table(["Query", "Searches", "People", "Last searched"], data.queries.map((q) => [q.query, q.count, q.people, fmtTime(q.last_searched)]));
    $("help").replaceChildren(summary, list);
  }

  const fmtAge = (ms) =>
    ms === null || ms === undefined ? "—" : ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 3_600_000)} h`;

  function showStreams(data) {
    if (data.streams.length === 0) {
      $("streams").replaceChildren(note("No event streams are configured."));
      return;
    }
    const rows = data.streams.map((s) => [
      s.id,
      s.types.join(", "),
      String(s.delivered),
      String(s.behind),
      fmtAge(s.oldest_undelivered_age_ms),
      s.attempts > 0 ? `failing: ${s.attempts} attempt(s), next ${fmtTime(s.next_attempt_at)}` : "ok",
      s.last_error ? `${s.last_error} (${fmtTime(s.last_error_at)})` : "—",
    ]);
    $("streams").replaceChildren(table(["Stream", "Types", "Delivered", "Behind", "Oldest waiting", "State", "Last error"], rows));
  }

  // ------------------------------------------------------------ people

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const sum = (counts) => Object.values(counts || {}).reduce((a, b) => a + b, 0);

  function showRetention(data) {
    const kept = data.retention_days ? `Events are deleted ${plural(data.retention_days, "day", "days")} after they arrive.` : "Events are kept without a time limit (no retention_days for this project).";
    $("retention").textContent = `${kept} ${plural(data.erasures.length, "erasure", "erasures")} logged.`;
  }

  async function loadPeople() {
    try {
      showRetention(await json("/v1/erasures"));
    } catch (e) {
      $("retention").textContent = `Could not load the erasure log: ${e.message}`;
    }
  }

  function personId() {
    const id = $("person-id").value.trim();
    if (!id) $("person-result").textContent = "Enter a user id first.";
    return id;
  }

  async function exportPerson() {
    const id = personId();
    if (!id) return;
    await download(`/v1/people/${encodeURIComponent(id)}/export`, `person-${id}.json`);
    $("person-result").textContent = `Exported everything stored about ${id}.`;
  }

  async function erasePerson() {
    const id = personId();
    if (!id) return;
    if (!$("person-confirm").checked) {
      $("person-result").textContent = "Tick the box to confirm: erasing cannot be undone.";
      return;
    }
    $("person-erase").disabled = true;
    try {
      const { erased } = await (await api(`/v1/people/${encodeURIComponent(id)}`, { method: "DELETE" })).json();
      const deleted = sum(erased.deleted);
      const scrubbed = sum(erased.scrubbed);
      $("person-result").textContent = deleted + scrubbed + erased.files === 0
        ? `Nothing stored about ${id} (the request is logged).`
        : `Erased ${id}: ${plural(deleted, "row", "rows")} deleted, ${plural(scrubbed, "row", "rows")} rewritten, ${plural(erased.files, "email file", "email files")} deleted.`;
      $("person-confirm").checked = false;
      await Promise.all([loadPeople(), loadCases()]);
    } catch (e) {
      $("person-result").textContent = `Could not erase: ${e.message}`;
    } finally {
      $("person-erase").disabled = false;
    }
  }

  // ------------------------------------------------------------ accounts

  const fmtTrend = (n) => (n === null || n === undefined ? "—" : n > 0 ? `▲ +${n}` : n < 0 ? `▼ ${n}` : "± 0");

  function healthBadge(score, stage) {
    return el("span", { class: `health ${stage}`, "data-health": score }, String(score));
  }

  function showAccounts(data) {
    if (data.accounts.length === 0) {
      $("accounts").replaceChildren(note("No accounts yet: call Touchpoint.group(accountId, traits) in your app."));
      return;
    }
    const rows = data.accounts.map((a) => {
      const open = el("button", { type: "button", class: "link", "aria-label": `Open account ${a.account_id}` }, a.name || a.account_id);
      open.addEventListener("click", () => loadAccount(a.account_id));
      return [open, healthBadge(a.health, a.stage), fmtTrend(a.trend), a.stage, a.tier, a.owner || "—", a.users, (a.lists || []).join(", ") || "—"];
    });
    const t = table(["Account", "Health", "Trend (7 d)", "Stage", "Tier", "Owner", "Users", "Lists"], rows);
    t.classList.add("accounts");
    $("accounts").replaceChildren(t);
  }

  /** Each signal's points out of its maximum, as labelled bars. */
  function breakdownChart(contributions) {
    const W = 620, row = 26, L = 110, R = 70;
    const H = contributions.length * row + 8;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "breakdown" });
    root.append(svg("title", {}, "Score breakdown — " + contributions.map((c) => `${c.signal}: ${c.points} of ${c.max_points}`).join(", ")));
    contributions.forEach((c, i) => {
      const y = 4 + i * row;
      const full = W - L - R;
      const g = svg("g", { class: "signal", "data-signal": c.signal });
      g.append(svg("text", { x: L - 8, y: y + 15, "text-anchor": "end" }, c.signal));
      g.append(svg("rect", { x: L, y: y + 3, width: full, height: 16, class: "track" }));
      g.append(svg("rect", { x: L, y: y + 3, width: Math.max(0, (full * c.points) / 100), height: 16, class: "fill" }));
      g.append(svg("rect", { x: L + (full * c.points) / 100, y: y + 3, width: Math.max(0, (full * (c.max_points - c.points)) / 100), height: 16, class: "rest" }));
      g.append(svg("text", { x: W - R + 6, y: y + 15, class: "value" }, `${c.points} / ${c.max_points}`));
      root.append(g);
    });
    return root;
  }

  function showAccount(d) {
    const a = d.account;
    const body = [];
    const dl = el("dl", { class: "summary" },
      el("div", { class: "big" }, el("dt", {}, "Health"), el("dd", {}, healthBadge(a.health, a.stage))),
      el("div", {}, el("dt", {}, "Trend (7 d)"), el("dd", {}, fmtTrend(a.trend))),
      el("div", {}, el("dt", {}, "Stage"), el("dd", {}, a.stage)),
      el("div", {}, el("dt", {}, "Tier"), el("dd", {}, a.tier)),
      el("div", {}, el("dt", {}, "Owner"), el("dd", {}, a.owner || "—")),
      el("div", {}, el("dt", {}, "Users"), el("dd", {}, a.users)));
    body.push(el("p", { class: "hint" }, `${a.name || a.account_id} (${a.account_id}) — stage ${a.stage} because ${d.stage_reason}`));
    body.push(el("div", { class: "figures" }, dl));
    body.push(el("h3", {}, "Score breakdown"));
    body.push(breakdownChart(d.breakdown));
    body.push(table(["Signal", "Points", "Why"], d.breakdown.map((c) => [c.signal, `${c.points} of ${c.max_points}`, c.detail])));
    body.push(el("h3", {}, "Users"));
    body.push(table(["User", "Last seen", "Latest NPS", "Checklist"], d.users.map((u) => [
      u.user_id, fmtTime(u.last_seen), u.nps === null || u.nps === undefined ? "—" : u.nps,
      u.checklist ? `${u.checklist[0]}: ${u.checklist[1]} of ${u.checklist[2]}` : "—",
    ])));
    body.push(el("h3", {}, "NPS answers"));
    body.push(d.nps_history.length === 0 ? note("No NPS answers yet.") : table(["When", "User", "Score"], d.nps_history.map((n) => [fmtTime(n.ts), n.user_id, n.score])));
    body.push(el("h3", {}, "Account-level checklist items"));
    body.push(d.account_checklist.length === 0 ? note("No account-level items.") : table(["Checklist", "Item", "Done", "By"], d.account_checklist.map((i) => [
      i.checklist_id, i.title, i.done_at ? fmtTime(i.done_at) : `${i.count || 0} so far`,
      (i.by || []).map((b) => `${b.user_id} ×${b.count}`).join(", ") || "—",
    ])));
    body.push(el("h3", {}, "Cases"));
    body.push(d.cases.length === 0 ? note("No cases.") : table(["Opened", "Case", "Status", "Assigned to"], d.cases.map((c) => [fmtTime(c.created_at), c.title, c.status, c.assigned_to || c.user_id || "—"])));
    body.push(el("h3", {}, "Routing decisions"));
    body.push(d.routing.length === 0 ? note("Not routed.") : table(["When", "Rule", "Why", "Did"], d.routing.map((r) => [
      fmtTime(r.decided_at), r.rule_id, r.reason,
      (r.actions || []).map((x) => (x.action === "list" ? `list ${x.list}` : x.action === "case" ? `case → ${x.assigned_to || "no owner"}` : `webhook ${x.url}`)).join("; "),
    ])));
    body.push(el("h3", {}, "Health history"));
    body.push(d.history.length === 0 ? note("No history recorded yet.") : table(["When", "Health", "Stage", "Tier"], d.history.map((h) => [fmtTime(h.at), h.score, h.stage, h.tier])));
    $("account-body").replaceChildren(...body);
    $("h-account").textContent = `Account: ${a.name || a.account_id}`;
    $("account").hidden = false;
  }

  async function loadAccount(id) {
    try {
      showAccount(await json(`/v1/accounts/${encodeURIComponent(id)}`));
      $("account").scrollIntoView();
    } catch (e) {
      $("status").textContent = `Could not load the account: ${e.message}`;
    }
  }

  // ------------------------------------------------------------ loading

  async function loadCases() {
    try {
      showCases(await json("/v1/cases?status=open"));
    } catch (e) {
      failed($("cases"), e, "automations");
    }
  }

  async function loadSurvey() {
    const id = $("survey").value;
    if (!id) return;
    const report = await json(`/v1/dashboard/surveys/${encodeURIComponent(id)}?interval=${$("interval").value}`);
    showSurvey(report);
  }

  async function loadAll() {
    $("status").textContent = "Loading…";
    const panels = [
      loadSurvey(),
      json("/v1/checklists/funnel").then(showFunnel, (e) => failed($("funnel"), e, "checklists")),
      json("/v1/checklists/churn-risk?days=7").then(showChurn, (e) => failed($("churn"), e, "checklists")),
      loadCases(),
      json("/v1/accounts").then(showAccounts, (e) => failed($("accounts"), e, "accounts")),
      json("/v1/dashboard/help-searches").then(showHelp, (e) => failed($("help"), e, "help searches")),
      json("/v1/streams").then(showStreams, (e) => failed($("streams"), e, "event streams")),
      loadPeople(),
      window.TouchpointCases ? window.TouchpointCases.load() : null,
    ];
    await Promise.all(panels);
    $("status").textContent = `Updated ${fmtTime(Date.now())}`;
    document.body.dataset.loaded = "true";
    document.dispatchEvent(new Event("touchpoint:loaded"));
  }

  async function start() {
    if (!key()) return showLogin("");
    let surveys;
    try {
      surveys = (await json("/v1/dashboard/surveys")).surveys;
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        sessionStorage.removeItem(KEY_STORAGE);
        return showLogin(e.message);
      }
      return showLogin(`Could not reach the collector: ${e.message}`);
    }
    $("survey").replaceChildren(...surveys.map((s) => el("option", { value: s.id }, s.title ? `${s.title} (${s.id})` : s.id)));
    // Open on the first survey with an NPS question (the list is by id).
    const first = surveys.find((s) => s.has_nps) || surveys[0];
    if (first) $("survey").value = first.id;
    $("login").hidden = true;
    $("controls").hidden = false;
    $("board").hidden = false;
    document.dispatchEvent(new CustomEvent("dashboard:ready")); // editor.js starts on it
    try {
      await loadAll();
    } catch (e) {
      $("status").textContent = `Could not load: ${e.message}`;
    }
  }

  function showLogin(error) {
    $("board").hidden = true;
    $("controls").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = error;
    $("key").focus();
  }

  async function download(path, name) {
    try {
      const blob = await (await api(path)).blob();
      const url = URL.createObjectURL(blob);
      const a = el("a", { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      $("status").textContent = `Could not export: ${e.message}`;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = $("key").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY_STORAGE, value);
      $("key").value = "";
      start();
    });
    $("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      showLogin("");
    });
    $("survey").addEventListener("change", () => loadSurvey().catch((e) => ($("status").textContent = e.message)));
    $("interval").addEventListener("change", () => loadSurvey().catch((e) => ($("status").textContent = e.message)));
    $("export-responses").addEventListener("click", () => {
      const id = $("survey").value;
      download(`/v1/export/responses.csv?survey_id=${encodeURIComponent(id)}`, `responses-${id}.csv`);
    });
    $("export-events").addEventListener("click", () => download("/v1/export/events.csv", "events.csv"));
    $("export-accounts").addEventListener("click", () => download("/v1/export/accounts.csv", "accounts.csv"));
    $("person").addEventListener("submit", (ev) => {
      ev.preventDefault();
      exportPerson();
    });
    $("person-erase").addEventListener("click", () => erasePerson());
    document.addEventListener("touchpoint:filters", () => loadAll().catch((e) => ($("status").textContent = e.message)));
    start();
  });
})();
