// Insight for the Touchpoint dashboard: the filter bar (kept in the URL, so a
// view can be shared), success-behavior discovery, the health-score check and
// the breakdowns per segment, tier or plan.
//
// It hooks into app.js in three places only: app.js asks `scope(path)` to add
// the filters to the reads that honour them, re-reads everything on the
// `touchpoint:filters` event, and says `touchpoint:loaded` when it has, which
// is when these panels load. Everything from the API is put on the page as
// text (textContent), never as HTML.
"use strict";
(function () {
  const KEY_STORAGE = "touchpoint:dashboard:key";
  /** The filters, as the collector reads them (`crates/collector/src/insight/filter.rs`). */
  const FIELDS = ["from", "to", "segment", "tier", "plan", "account", "locale", "version"];
  /** Reads that honour the filters. */
  const SCOPED = [/^\/v1\/dashboard\/surveys\/[^/?]+/, /^\/v1\/checklists\/(funnel|churn-risk)/, /^\/v1\/cases(\?|$)/,
                  /^\/v1\/export\/(events|responses)\.csv/, /^\/v1\/insight\/breakdown/];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  /** The filters in force: the page's URL holds them. */
  function filters() {
    const q = new URLSearchParams(location.search);
    const out = new URLSearchParams();
    for (const f of FIELDS) if (q.get(f)) out.set(f, q.get(f));
    for (const [k, v] of q) if (k.startsWith("trait.") && v) out.set(k, v);
    return out;
  }

  function scope(path, options) {
    if (options && options.method && options.method !== "GET") return path;
    if (!SCOPED.some((re) => re.test(path))) return path;
    const f = filters().toString();
    if (!f) return path;
    return path + (path.includes("?") ? "&" : "?") + f;
  }

  window.TouchpointInsight = { scope, filters };

  async function read(path) {
    const res = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE)}` } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = new Error(body.error || `HTTP ${res.status}`);
      e.status = res.status;
      throw e;
    }
    return body;
  }

  const $ = (id) => document.getElementById(id);
  const pct = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`);
  const num = (x, d = 1) => (x === null || x === undefined ? "—" : String(Math.round(x * 10 ** d) / 10 ** d));
  const interval = (e) => (e ? `${num(e.value, 2)} [${num(e.low, 2)}–${num(e.high, 2)}]` : "—");

  function table(headers, rows, rowAttrs) {
    const head = el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h))));
    const body = el("tbody", {}, ...rows.map((cells, i) => el("tr", rowAttrs ? rowAttrs(i) : {}, ...cells.map((c) => el("td", {}, c)))));
    return el("table", {}, head, body);
  }

  // ------------------------------------------------------------ the filter bar

  function filterBar() {
    const current = filters();
    const form = el("form", { id: "filters", class: "filters", "aria-label": "Filters" });
    const input = (name, label, attrs) => {
      const field = el("input", { id: `filter-${name}`, name, value: current.get(name) || "", autocomplete: "off", ...attrs });
      form.append(el("label", { for: `filter-${name}` }, label), field);
      return field;
    };
    input("from", "From", { type: "date" });
    input("to", "To", { type: "date" });
    const segment = el("select", { id: "filter-segment", name: "segment" }, el("option", { value: "" }, "all segments"));
    form.append(el("label", { for: "filter-segment" }, "Segment"), segment);
    const tier = el("select", { id: "filter-tier", name: "tier" }, el("option", { value: "" }, "all tiers"));
    form.append(el("label", { for: "filter-tier" }, "Tier"), tier);
    input("plan", "Plan", { size: 8 });
    input("account", "Account", { size: 10 });
    input("locale", "Locale", { size: 5 });
    input("version", "Version", { size: 5 });
    const traits = el("input", { id: "filter-traits", name: "traits", size: 14, placeholder: "trait=value, …", autocomplete: "off",
      value: [...current].filter(([k]) => k.startsWith("trait.")).map(([k, v]) => `${k.slice(6)}=${v}`).join(", ") });
    form.append(el("label", { for: "filter-traits" }, "Traits"), traits);
    form.append(el("button", { type: "submit" }, "Apply filters"), el("button", { type: "button", id: "filter-clear", class: "quiet" }, "Clear"));

    const apply = (params) => {
      const url = new URL(location.href);
      url.search = params.toString();
      history.replaceState(null, "", url);
      document.dispatchEvent(new Event("touchpoint:filters"));
    };
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const params = new URLSearchParams();
      for (const f of FIELDS) {
        const v = form.elements[f].value.trim();
        if (v) params.set(f, v);
      }
      for (const pair of traits.value.split(",")) {
        const [k, v] = pair.split("=").map((s) => (s || "").trim());
        if (k && v) params.set(`trait.${k}`, v);
      }
      apply(params);
    });
    form.querySelector("#filter-clear").addEventListener("click", () => {
      form.reset();
      for (const f of form.querySelectorAll("input")) f.value = "";
      for (const s of form.querySelectorAll("select")) s.value = "";
      apply(new URLSearchParams());
    });
    return { form, segment, tier };
  }

  /** Options from what the collector knows: segments from the funnel, tiers from the accounts. */
  async function fillChoices(segment, tier) {
    const current = filters();
    try {
      const f = await read("/v1/checklists/funnel");
      segment.replaceChildren(el("option", { value: "" }, "all segments"), ...f.segments.map((s) => el("option", { value: s.segment }, s.segment)));
    } catch (_) { /* no checklists: only "all" */ }
    try {
      const a = await read("/v1/accounts");
      const tiers = [...new Set(a.accounts.map((x) => x.tier))].sort();
      tier.replaceChildren(el("option", { value: "" }, "all tiers"), ...tiers.map((t) => el("option", { value: t }, t)));
    } catch (_) { /* no accounts */ }
    // A filter from a shared URL is kept even when nothing has that value yet.
    for (const [select, name] of [[segment, "segment"], [tier, "tier"]]) {
      const v = current.get(name);
      if (v && ![...select.options].some((o) => o.value === v)) select.append(el("option", { value: v }, v));
      select.value = v || "";
    }
  }

  // ------------------------------------------------------------ panels

  function section(id, title, hint) {
    const s = el("section", { class: "card wide", id, "aria-labelledby": `h-${id}` }, el("h2", { id: `h-${id}` }, title));
    if (hint) s.append(el("p", { class: "hint" }, hint));
    const body = el("div", { id: `${id}-body` });
    return { s, body };
  }

  const VERDICT = {
    stay_more_often: "stay more often",
    stay_less_often: "stay less often",
    no_clear_difference: "no clear difference",
    too_few_to_tell: "too few to tell",
  };

  function showBehaviors(target, d) {
    const caution = el("p", { class: "caution", role: "note" }, d.caution);
    const summary = el("p", { class: "hint" },
      `${d.subjects} ${d.unit === "account" ? "accounts" : "users"} past their first ${d.window_days} days, ${d.retention_subjects} past week 8` +
      (d.sampled ? ` (a fixed sample of ${d.subjects} of ${d.population})` : "") +
      `. An event counts when done within the first ${d.window_days} days.`);
    if (d.behaviors.length === 0) {
      target.replaceChildren(summary, el("p", { class: "empty" }, "No tracked events yet."), caution);
      return;
    }
    const rows = d.behaviors.map((b, i) => [
      String(i + 1),
      b.event,
      `${b.did} / ${b.did_not}`,
      `${pct(b.retention.did.rate && b.retention.did.rate.value)} of ${b.retention.did.of} vs ${pct(b.retention.did_not.rate && b.retention.did_not.rate.value)} of ${b.retention.did_not.of}`,
      interval(b.retention.lift),
      `${num(b.nps.did, 0)} (n=${b.nps.did_n}) vs ${num(b.nps.did_not, 0)} (n=${b.nps.did_not_n})`,
      `${num(b.health.did, 0)} (n=${b.health.did_n}) vs ${num(b.health.did_not, 0)} (n=${b.health.did_not_n})`,
      VERDICT[b.verdict] || b.verdict,
      b.checklist_items.length ? b.checklist_items.join(", ") : "not in a checklist",
      b.advice,
    ]);
    const t = table(["#", "Event", "Did / did not", "Active in weeks 4–8", "Lift [95% CI]", "NPS", "Health", "Verdict", "Checklist", "What to do"], rows,
      (i) => ({ "data-event": d.behaviors[i].event, "data-verdict": d.behaviors[i].verdict }));
    t.classList.add("behaviors");
    target.replaceChildren(summary, t, caution);
  }

  function showBacktest(target, b) {
    const figure = el("dl", { class: "summary" },
      el("div", { class: "big" }, el("dt", {}, "AUC"), el("dd", { id: "backtest-auc" }, b.auc === null ? "—" : num(b.auc, 2))),
      el("div", {}, el("dt", {}, "Account-moments"), el("dd", {}, String(b.samples))),
      el("div", {}, el("dt", {}, "Went inactive"), el("dd", {}, String(b.went_inactive))),
      el("div", {}, el("dt", {}, `Precision below ${b.threshold}`), el("dd", {}, pct(b.precision && b.precision.value))),
      el("div", {}, el("dt", {}, `Recall below ${b.threshold}`), el("dd", {}, pct(b.recall && b.recall.value))));
    const weights = table(["Signal", "Weight today"], b.weights.map(([s, w]) => [s, String(w)]));
    weights.classList.add("weights");
    // Text only: the counts go in as a text node, like everything from the API.
    const sampled = b.sampled
      ? el("p", { id: "backtest-sampled", class: "hint" }, `Scored on a fixed sample of ${b.sampled.accounts} of ${b.sampled.of} accounts.`)
      : "";
    target.replaceChildren(
      el("div", { class: "figures" }, figure),
      el("p", { id: "backtest-summary" }, b.summary),
      sampled,
      el("h3", {}, "Today's weights"),
      weights,
      el("p", { class: "hint" }, b.method),
    );
  }

  function showBreakdown(target, d) {
    if (d.groups.length === 0) {
      target.replaceChildren(el("p", { class: "empty" }, "No responses for these filters."));
      return;
    }
    const trend = (g) => g.trend.map((p) => `${p.label}: ${num(p.nps)} (n=${p.responses})`).join("; ") || "—";
    const rows = d.groups.map((g) => [
      g.group, String(g.showings), String(g.answered), g.response_rate === null ? "—" : `${g.response_rate}%`,
      String(g.nps.responses), num(g.nps.nps),
      g.previous ? `${num(g.previous.nps)} (n=${g.previous.responses})` : "—",
      g.change === null || g.change === undefined ? "—" : (g.change > 0 ? `+${g.change}` : String(g.change)),
      trend(g),
    ]);
    const note = d.previous_period ? "Previous period: the same length just before the chosen dates." : "Choose From and To to compare with the previous period.";
    const t = table(["Group", "Shown", "Answered", "Response rate", "NPS responses", "NPS", "Previous NPS", "Change", "NPS trend"], rows,
      (i) => ({ "data-group": d.groups[i].group }));
    t.classList.add("breakdown-table");
    target.replaceChildren(t, el("p", { class: "hint" }, note));
  }

  const failed = (target, e, what) =>
    target.replaceChildren(el("p", { class: "empty" }, e.status === 404 ? `No ${what} on this collector.` : `Could not load: ${e.message}`));

  // ------------------------------------------------------------ wiring

  document.addEventListener("DOMContentLoaded", () => {
    const { form, segment, tier } = filterBar();
    const bar = el("div", { class: "card wide filter-card", id: "filter-card" }, form);
    const board = $("board");
    board.insertBefore(bar, $("status").nextSibling);

    const behaviors = section("behaviors", "Success behaviors",
      "For each tracked event: those who did it early against those who did not — still active in weeks 4–8, NPS, health. Ranked by lift; the interval is 95%.");
    const days = el("input", { id: "behaviors-days", type: "number", min: 1, max: 365, value: 7, size: 4 });
    const unit = el("select", { id: "behaviors-unit" }, el("option", { value: "user" }, "users"), el("option", { value: "account" }, "accounts"));
    behaviors.s.append(el("div", { class: "controls" }, el("label", { for: "behaviors-days" }, "Done within the first (days)"), days,
      el("label", { for: "behaviors-unit" }, "Compare"), unit), behaviors.body);
    const backtest = section("backtest", "Health score check",
      "Would today's health weights have foreseen the accounts that went inactive? Scored on the stored history at past moments.");
    backtest.s.append(backtest.body);
    const breakdown = section("breakdown", "NPS by group");
    const by = el("select", { id: "breakdown-by" }, ...["segment", "tier", "plan"].map((b) => el("option", { value: b }, b)));
    breakdown.s.append(el("div", { class: "controls" }, el("label", { for: "breakdown-by" }, "Break down by"), by), breakdown.body);
    const after = $("h-nps").closest("section");
    board.insertBefore(breakdown.s, after.nextSibling);
    board.append(behaviors.s, backtest.s);

    const loadBehaviors = () => read(`/v1/insight/behaviors?days=${encodeURIComponent(days.value || 7)}&unit=${unit.value}`)
      .then((d) => showBehaviors(behaviors.body, d), (e) => failed(behaviors.body, e, "events"));
    const loadBacktest = () => read("/v1/insight/backtest").then((b) => showBacktest(backtest.body, b), (e) => failed(backtest.body, e, "accounts"));
    const loadBreakdown = () => {
      const survey = $("survey").value;
      if (!survey) return Promise.resolve();
      return read(scope(`/v1/insight/breakdown?survey_id=${encodeURIComponent(survey)}&by=${by.value}&interval=${$("interval").value}`))
        .then((d) => showBreakdown(breakdown.body, d), (e) => failed(breakdown.body, e, "breakdown"));
    };
    days.addEventListener("change", loadBehaviors);
    unit.addEventListener("change", loadBehaviors);
    by.addEventListener("change", loadBreakdown);
    $("survey").addEventListener("change", loadBreakdown);

    // Discovery and the health check read the whole history and do not depend on the filters:
    // they load once (and discovery again when its own controls change); the breakdown follows the filters.
    let first = true;
    document.addEventListener("touchpoint:loaded", async () => {
      document.body.dataset.insight = "loading";
      if (first) {
        first = false;
        await Promise.all([fillChoices(segment, tier), loadBehaviors(), loadBacktest(), loadBreakdown()]);
      } else {
        await loadBreakdown();
      }
      document.body.dataset.insight = "loaded";
    });
  });
})();
