// The dashboard's targeting editor (content_kit.js does the saving, problems,
// publishing and versions): which surveys show on their own, where, to whom,
// after what, and how often. Nudges and per-kind caps are kept as they are.
"use strict";
(function () {
  const { api, mount } = window.TouchpointContent;
  let surveyIds = [];

  function surveyBox(body, s, i, ui) {
    const { el, field, select, list, json, button } = ui;
    const base = `surveys[${i}]`;
    s.targeting = s.targeting || {};
    const t = s.targeting;
    const event = t.event || {};
    return el("fieldset", { class: "ed-question", "data-path": base }, el("legend", {}, `Rule ${i + 1}: survey “${s.id}”`),
      el("div", { class: "ed-row" },
        select("Survey", `${base}.id`, surveyIds.map((id) => [id, id]), s.id, (v) => (s.id = v)),
        field("Priority", `${base}.priority`, s.priority, (v) => (s.priority = v), { type: "number", class: "ed-num" }),
        field("Ask again after (days)", `${base}.recontact_days`, s.recontact_days, (v) => (s.recontact_days = v), { type: "number", class: "ed-num" })),
      list("On pages (path patterns, * matches anything; comma-separated; empty: every page)", `${base}.targeting.urls`, t.urls,
        (v) => (t.urls = v), { class: "ed-wide" }),
      el("div", { class: "ed-rule", "data-path": `${base}.targeting.event` },
        el("span", { class: "ed-word" }, "After"),
        field("Event", `${base}.targeting.event.name`, event.name, (v) => {
          if (v) t.event = { ...(t.event || {}), name: v };
          else delete t.event;
        }),
        field("Times", `${base}.targeting.event.count`, event.count, (v) => {
          if (t.event) t.event.count = v;
        }, { type: "number", class: "ed-num" })),
      el("div", { class: "ed-row" },
        field("Wait after page load (ms)", `${base}.targeting.delay_ms`, t.delay_ms, (v) => (t.delay_ms = v), { type: "number", class: "ed-num" }),
        field("Sample (% of users)", `${base}.targeting.sample_percent`, t.sample_percent, (v) => (t.sample_percent = v), { type: "number", class: "ed-num" }),
        list("Segments (comma-separated)", `${base}.targeting.segments`, t.segments, (v) => (t.segments = v))),
      json("Traits it requires (JSON, e.g. {\"plan\": {\"in\": [\"pro\"]}})", `${base}.targeting.traits`, t.traits, (v) => (t.traits = v)),
      el("div", { class: "ed-row ed-tools" },
        button("Move up", () => ui.move(body.surveys, i, -1) && ui.rerender(), { "aria-label": `Move up rule ${i + 1}`, disabled: i === 0 }),
        button("Remove rule", () => { body.surveys.splice(i, 1); ui.rerender(); }, { "aria-label": `Remove rule ${i + 1} (${s.id})` })));
  }

  mount({
    section: "targeting-editor",
    prefix: "tg",
    kind: "targeting",
    noun: "targeting",
    single: true,
    heading: "Targeting editor",
    hint: "Which surveys show on their own: a survey shows when every condition of its rule holds, at most once per cooldown, "
      + "and not again before its recontact period. Changes are checked as you type; publishing makes them what widgets load next.",
    blank: () => ({ cooldown_hours: 24, surveys: [] }),
    // The surveys this project serves, for the rule's survey choice.
    async prepare() {
      const res = await api("/v1/content/surveys");
      surveyIds = res.ok ? res.body.items.map((i) => i.id) : [];
    },
    form(body, ui) {
      const { el, field, button } = ui;
      body.surveys = body.surveys || [];
      const nudges = (body.nudges || []).length;
      return [
        field("Cooldown between any two (hours)", "cooldown_hours", body.cooldown_hours, (v) => (body.cooldown_hours = v), { type: "number", class: "ed-num" }),
        el("h4", {}, "Surveys"),
        el("div", { "data-path": "surveys" }, ...body.surveys.map((s, i) => surveyBox(body, s, i, ui))),
        el("div", { class: "ed-row" }, button("Add a survey rule", () => {
          body.surveys.push({ id: surveyIds[0] || "", targeting: { urls: ["/"] } });
          ui.rerender();
        })),
        nudges ? el("p", { class: "hint" }, `${nudges} nudge(s) are kept as they are.`) : null,
      ].filter(Boolean);
    },
  });
})();
