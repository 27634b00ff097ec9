// The dashboard's checklist editor (content_kit.js does the saving, problems,
// publishing and versions): which checklist each segment of users gets, and
// each checklist's items with the event rule that completes them.
"use strict";
(function () {
  const { mount } = window.TouchpointContent;

  function segmentBox(body, s, i, ui) {
    const { el, field, select, json, button } = ui;
    const base = `segments[${i}]`;
    const checklists = (body.checklists || []).map((c) => [c.id, `${c.title || c.id} (${c.id})`]);
    return el("fieldset", { class: "ed-question", "data-path": base }, el("legend", {}, `Segment ${i + 1}`),
      el("div", { class: "ed-row" },
        field("Segment id", `${base}.id`, s.id, (v) => (s.id = v)),
        select("Gets checklist", `${base}.checklist`, checklists, s.checklist, (v) => (s.checklist = v))),
      json("Who: traits it requires (JSON, empty for everyone else)", `${base}.when`, s.when, (v) => (s.when = v)),
      el("div", { class: "ed-row ed-tools" },
        button("Move up", () => ui.move(body.segments, i, -1) && ui.rerender(), { "aria-label": `Move up segment ${i + 1}`, disabled: i === 0 }),
        button("Remove segment", () => { body.segments.splice(i, 1); ui.rerender(); }, { "aria-label": `Remove segment ${i + 1} (${s.id})` })));
  }

  function itemBox(c, ci, item, ii, ui) {
    const { el, field, select, list, json, button } = ui;
    const base = `checklists[${ci}].items[${ii}]`;
    const rule = item.complete_when;
    const manual = rule === "manual";
    const box = el("fieldset", { class: "ed-ending", "data-path": base }, el("legend", {}, `Item ${ii + 1} of “${c.id}”`),
      el("div", { class: "ed-row" },
        field("Item id", `${base}.id`, item.id, (v) => (item.id = v)),
        field("Title", `${base}.title`, item.title, (v) => (item.title = v), { class: "ed-wide" })),
      field("Description", `${base}.description`, item.description, (v) => (item.description = v || undefined), { class: "ed-wide" }),
      el("div", { class: "ed-rule", "data-path": `${base}.complete_when` },
        el("span", { class: "ed-word" }, "Done when"),
        select("Rule", `${base}.complete_when.kind`, [["event", "the user tracks an event"], ["manual", "marked done (complete())"]],
          manual ? "manual" : "event", (v) => (item.complete_when = v === "manual" ? "manual" : { event: "" })),
        ...(manual ? [] : [
          field("Event", `${base}.complete_when.event`, rule && rule.event, (v) => (rule.event = v)),
          field("Times", `${base}.complete_when.count`, rule && rule.count, (v) => (rule.count = v), { type: "number", class: "ed-num" }),
        ])),
      manual ? null : json("Only when its properties match (JSON, e.g. {\"rows\": {\">=\": 1}})", `${base}.complete_when.where`, rule && rule.where, (v) => (rule.where = v)),
      el("div", { class: "ed-row" },
        list("Depends on (item ids, comma-separated)", `${base}.depends_on`, item.depends_on, (v) => (item.depends_on = v)),
        select("Counts", `${base}.scope`, [["user", "per user"], ["account", "for the whole account"]], item.scope || "user",
          (v) => (item.scope = v === "user" ? undefined : v))),
      el("div", { class: "ed-row ed-tools" },
        button("Move up", () => ui.move(c.items, ii, -1) && ui.rerender(), { "aria-label": `Move up item ${ii + 1} of ${c.id}`, disabled: ii === 0 }),
        button("Move down", () => ui.move(c.items, ii, 1) && ui.rerender(), { "aria-label": `Move down item ${ii + 1} of ${c.id}`, disabled: ii === c.items.length - 1 }),
        button("Remove item", () => { c.items.splice(ii, 1); ui.rerender(); }, { "aria-label": `Remove item ${ii + 1} of ${c.id} (${item.id})` })));
    return box;
  }

  function checklistBox(body, c, ci, ui) {
    const { el, field, button } = ui;
    const base = `checklists[${ci}]`;
    c.items = c.items || [];
    const users = (body.segments || []).filter((s) => s.checklist === c.id).map((s) => s.id);
    return el("fieldset", { class: "ed-question", "data-path": base },
      el("legend", {}, `Checklist “${c.id}”${users.length ? ` — segments: ${users.join(", ")}` : " — no segment gets it"}`),
      el("div", { class: "ed-row" },
        field("Checklist id", `${base}.id`, c.id, (v) => {
          for (const s of body.segments || []) if (s.checklist === c.id) s.checklist = v;
          c.id = v;
        }),
        field("Checklist title", `${base}.title`, c.title, (v) => (c.title = v), { class: "ed-wide" })),
      el("div", { "data-path": `${base}.items` }, ...c.items.map((item, ii) => itemBox(c, ci, item, ii, ui))),
      el("div", { class: "ed-row" },
        button("Add item", () => {
          let n = c.items.length + 1;
          while (c.items.some((x) => x.id === `item_${n}`)) n++;
          c.items.push({ id: `item_${n}`, title: "New item", complete_when: { event: "" } });
          ui.rerender();
        }, { "aria-label": `Add item to ${c.id}` }),
        button("Remove checklist", () => { body.checklists.splice(ci, 1); ui.rerender(); }, { "aria-label": `Remove checklist ${c.id}` })));
  }

  mount({
    section: "checklist-editor",
    prefix: "cl",
    kind: "checklists",
    noun: "checklists",
    single: true,
    heading: "Checklist editor",
    hint: "Segments choose a checklist by the user's traits (the first that matches; one without conditions for everyone else). "
      + "Items complete when the user tracks their event. Changes are checked and saved as a draft as you type; publishing makes them what widgets load next.",
    blank: () => ({ segments: [{ id: "everyone", checklist: "get_started" }], checklists: [{ id: "get_started", title: "Get started", items: [{ id: "first_step", title: "Take the first step", complete_when: { event: "first_step" } }] }] }),
    form(body, ui) {
      const { el, button } = ui;
      body.segments = body.segments || [];
      body.checklists = body.checklists || [];
      return [
        el("h4", {}, "Segments"),
        el("div", { "data-path": "segments" }, ...body.segments.map((s, i) => segmentBox(body, s, i, ui))),
        el("div", { class: "ed-row" }, button("Add segment", () => {
          body.segments.push({ id: `segment_${body.segments.length + 1}`, checklist: body.checklists[0]?.id || "" });
          ui.rerender();
        })),
        el("h4", {}, "Checklists"),
        el("div", { "data-path": "checklists" }, ...body.checklists.map((c, ci) => checklistBox(body, c, ci, ui))),
        el("div", { class: "ed-row" }, button("Add checklist", () => {
          let n = body.checklists.length + 1;
          while (body.checklists.some((c) => c.id === `checklist_${n}`)) n++;
          body.checklists.push({ id: `checklist_${n}`, title: "New checklist", items: [{ id: "item_1", title: "New item", complete_when: { event: "" } }] });
          ui.rerender();
        })),
      ];
    },
  });
})();
