// The dashboard's survey editor, over the admin API (/v1/content/surveys/…)
// with the dashboard's secret key. The survey is kept as its definition (the
// JSON the collector validates); every change is saved as the draft a moment
// later, so the collector's validation answers at once: a 422 names each
// problem by JSON path, and the problem is shown next to the field with that
// path. The live preview frames /dashboard/preview.html, the real widget
// showing the saved draft. Publishing publishes the saved draft, and only when
// the last save was accepted.
//
// Texts from the API are put on the page as text (textContent, attributes),
// never as HTML.
"use strict";
(function () {
  const KEY_STORAGE = "touchpoint:dashboard:key";
  const KINDS = [
    ["nps", "NPS (0–10)"],
    ["rating", "Rating (1–max)"],
    ["single_choice", "One choice"],
    ["multi_choice", "Several choices"],
    ["text", "Free text"],
  ];
  const SAVE_DELAY_MS = 500;

  const state = {
    id: null, // the survey being edited
    survey: null, // its definition, as edited
    live: null, // the live version number, or null
    locale: "en",
    problems: [], // of the last save; publishing waits until there are none
    saved: true,
    timer: null,
    saving: null,
    preview: null, // {key, endpoint}
    reloads: 0,
  };

  // ------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  let uid = 0;
  const nextId = (stem) => `ed-${stem}-${++uid}`;

  async function api(path, options) {
    const res = await fetch(path, {
      ...(options || {}),
      headers: {
        Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE)}`,
        "Content-Type": "application/json",
        "X-Touchpoint-Author": "dashboard",
        ...((options && options.headers) || {}),
      },
    });
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      /* empty */
    }
    return { status: res.status, ok: res.ok, body: body || {} };
  }

  const $ = (id) => document.getElementById(id);
  const say = (text) => ($("ed-status").textContent = text);

  /** A text in the edited locale: a plain string is the default (English) text. */
  function textOf(v) {
    if (v === undefined || v === null) return "";
    if (typeof v === "string") return state.locale === "en" ? v : "";
    return v[state.locale] || "";
  }

  function withText(old, value) {
    if (state.locale === "en" && (old === undefined || typeof old === "string")) return value;
    const out = typeof old === "object" && old ? { ...old } : old === undefined ? {} : { en: old };
    if (value === "") delete out[state.locale];
    else out[state.locale] = value;
    return out;
  }

  function localesOf(survey) {
    const found = new Set(["en"]);
    const walk = (v) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        const keys = Object.keys(v);
        if (keys.length && keys.every((k) => /^[a-z]{2,3}(-[A-Za-z0-9]+)*$/.test(k) && typeof v[k] === "string")) keys.forEach((k) => found.add(k));
        else Object.values(v).forEach(walk);
      }
    };
    walk(survey);
    return [...found].sort();
  }

  /** `next` on a question is shorthand for a last rule "any answer"; the editor shows rules only. */
  function normalise(survey) {
    for (const q of survey.questions || []) {
      q.rules = q.rules || [];
      if (q.next) {
        q.rules.push({ when: "any", next: q.next });
        delete q.next;
      }
    }
    survey.endings = survey.endings || [];
    return survey;
  }

  // ------------------------------------------------------------ fields

  /** A labelled input bound to `get`/`set` on the survey, named by its JSON path. */
  function field(label, path, value, onInput, attrs) {
    const id = nextId("f");
    const input = el("input", { id, "data-path": path, value: value ?? "", ...(attrs || {}) });
    input.value = value ?? "";
    input.addEventListener("input", () => {
      onInput(input.type === "number" ? (input.value === "" ? undefined : Number(input.value)) : input.value);
      changed();
    });
    return el("div", { class: "ed-field" }, el("label", { for: id }, label), input);
  }

  function select(label, path, options, value, onChange) {
    const id = nextId("s");
    const s = el("select", { id, "data-path": path });
    for (const [v, text] of options) s.append(el("option", { value: v }, text));
    s.value = value;
    s.addEventListener("change", () => {
      onChange(s.value);
      changed();
      render();
    });
    return el("div", { class: "ed-field" }, el("label", { for: id }, label), s);
  }

  function button(text, onClick, attrs) {
    return el("button", { type: "button", class: "quiet small", ...(attrs || {}), onclick: onClick }, text);
  }

  function move(list, i, by) {
    const j = i + by;
    if (j < 0 || j >= list.length) return;
    [list[i], list[j]] = [list[j], list[i]];
    changed();
    render();
  }

  // ------------------------------------------------------------ the form

  function targets(survey) {
    return [
      ...survey.questions.map((q) => [q.id, `question “${q.id}”`]),
      ...survey.endings.map((e) => [e.id, `ending “${e.id}”`]),
    ];
  }

  function ruleRow(q, qi, r, ri) {
    const base = `questions[${qi}].rules[${ri}]`;
    const when = r.when;
    const type = when === "any" || !when ? "any" : when.score ? "score" : "choice";
    const scored = q.kind === "nps" || q.kind === "rating";
    const choiceKinds = q.kind === "single_choice" || q.kind === "multi_choice";
    const condTypes = [["any", "any answer"]];
    if (scored) condTypes.unshift(["score", "the score is between"]);
    if (choiceKinds) condTypes.unshift(["choice", "the answer is"]);
    const parts = [
      el("span", { class: "ed-word" }, ri === 0 ? "If" : "Else if"),
      select("Condition", `${base}.when`, condTypes, type, (v) => {
        r.when = v === "any" ? "any" : v === "score" ? { score: { min: scored && q.kind === "nps" ? 0 : 1, max: q.kind === "nps" ? 10 : q.max || 5 } } : { choice: (q.choices || [])[0]?.id || "" };
      }),
    ];
    if (type === "score") {
      parts.push(field("From", `${base}.when.score.min`, when.score.min, (v) => (when.score.min = v), { type: "number", class: "ed-num" }));
      parts.push(field("To", `${base}.when.score.max`, when.score.max, (v) => (when.score.max = v), { type: "number", class: "ed-num" }));
    }
    if (type === "choice") {
      const options = (q.choices || []).map((c) => [c.id, textOf(c.label) || c.id]);
      if (!options.some(([v]) => v === when.choice)) options.push([when.choice, `${when.choice} (missing)`]);
      parts.push(select("Choice", `${base}.when.choice`, options, when.choice, (v) => (when.choice = v)));
    }
    const options = targets(state.survey);
    if (!options.some(([v]) => v === r.next)) options.push([r.next || "", r.next ? `“${r.next}” (missing)` : "choose…"]);
    parts.push(el("span", { class: "ed-word" }, "go to"));
    parts.push(select("Next", `${base}.next`, options, r.next || "", (v) => (r.next = v)));
    parts.push(button("Remove rule", () => { q.rules.splice(ri, 1); changed(); render(); }, { "aria-label": `Remove rule ${ri + 1} of question ${qi + 1}` }));
    return el("div", { class: "ed-rule", "data-path": base }, ...parts);
  }

  function questionBox(q, qi) {
    const base = `questions[${qi}]`;
    const box = el("fieldset", { class: "ed-question", "data-path": base },
      el("legend", {}, `Question ${qi + 1}`));
    box.append(
      el("div", { class: "ed-row" },
        field("Id", `${base}.id`, q.id, (v) => {
          // Rules that led to the old id follow it.
          for (const other of state.survey.questions) for (const r of other.rules || []) if (r.next === q.id) r.next = v;
          q.id = v;
        }),
        select("Kind", `${base}.kind`, KINDS, q.kind, (v) => {
          q.kind = v;
          if (v === "rating" && !q.max) q.max = 5;
          if ((v === "single_choice" || v === "multi_choice") && !q.choices) q.choices = [{ id: "yes", label: "Yes" }, { id: "no", label: "No" }];
        })),
      field(`Text (${state.locale})`, `${base}.text`, textOf(q.text), (v) => (q.text = withText(q.text, v)), { class: "ed-wide" }),
    );
    if (q.kind === "rating") box.append(field("Highest score", `${base}.max`, q.max, (v) => (q.max = v), { type: "number", min: 2, max: 10, class: "ed-num" }));
    if (q.kind === "nps" || q.kind === "rating") {
      box.append(el("div", { class: "ed-row" },
        field(`Low label (${state.locale})`, `${base}.low_label`, textOf(q.low_label), (v) => (q.low_label = withText(q.low_label, v))),
        field(`High label (${state.locale})`, `${base}.high_label`, textOf(q.high_label), (v) => (q.high_label = withText(q.high_label, v)))));
    }
    if (q.kind === "single_choice" || q.kind === "multi_choice") {
      const list = el("div", { class: "ed-choices", "data-path": `${base}.choices` }, el("h4", {}, "Choices"));
      q.choices = q.choices || [];
      q.choices.forEach((c, ci) => {
        list.append(el("div", { class: "ed-row", "data-path": `${base}.choices[${ci}]` },
          field("Choice id", `${base}.choices[${ci}].id`, c.id, (v) => (c.id = v)),
          field(`Label (${state.locale})`, `${base}.choices[${ci}].label`, textOf(c.label), (v) => (c.label = withText(c.label, v))),
          button("Remove choice", () => { q.choices.splice(ci, 1); changed(); render(); }, { "aria-label": `Remove choice ${ci + 1} of question ${qi + 1}` })));
      });
      list.append(button("Add choice", () => { q.choices.push({ id: `choice_${q.choices.length + 1}`, label: "New choice" }); changed(); render(); }));
      box.append(list);
    }
    if (q.kind === "text") {
      const id = nextId("opt");
      const check = el("input", { type: "checkbox", id, "data-path": `${base}.optional` });
      check.checked = !!q.optional;
      check.addEventListener("change", () => { q.optional = check.checked || undefined; changed(); });
      box.append(el("div", { class: "ed-field ed-inline" }, check, el("label", { for: id }, "Answer optional")));
      box.append(field(`Placeholder (${state.locale})`, `${base}.placeholder`, textOf(q.placeholder), (v) => (q.placeholder = withText(q.placeholder, v) || undefined)));
    }
    const rules = el("div", { class: "ed-rules", "data-path": `${base}.rules` }, el("h4", {}, "Branching"));
    q.rules.forEach((r, ri) => rules.append(ruleRow(q, qi, r, ri)));
    rules.append(button("Add rule", () => {
      q.rules.push({ when: "any", next: state.survey.endings[0]?.id || "" });
      changed();
      render();
    }, { "aria-label": `Add rule to question ${qi + 1}` }));
    box.append(rules);
    box.append(el("div", { class: "ed-row ed-tools" },
      button("Move up", () => move(state.survey.questions, qi, -1), { "aria-label": `Move up question ${qi + 1}`, disabled: qi === 0 }),
      button("Move down", () => move(state.survey.questions, qi, 1), { "aria-label": `Move down question ${qi + 1}`, disabled: qi === state.survey.questions.length - 1 }),
      button("Remove question", () => { state.survey.questions.splice(qi, 1); changed(); render(); }, { "aria-label": `Remove question ${qi + 1} (${q.id})` })));
    return box;
  }

  function endingBox(e, ei) {
    const base = `endings[${ei}]`;
    e.actions = e.actions || [];
    const box = el("fieldset", { class: "ed-ending", "data-path": base }, el("legend", {}, `Ending ${ei + 1}`),
      el("div", { class: "ed-row" },
        field("Id", `${base}.id`, e.id, (v) => {
          for (const q of state.survey.questions) for (const r of q.rules || []) if (r.next === e.id) r.next = v;
          e.id = v;
        }),
        field(`Title (${state.locale})`, `${base}.title`, textOf(e.title), (v) => (e.title = withText(e.title, v) || undefined))),
      field(`Message (${state.locale})`, `${base}.message`, textOf(e.message), (v) => (e.message = withText(e.message, v)), { class: "ed-wide" }));
    const actions = el("div", { class: "ed-actions-list", "data-path": `${base}.actions` }, el("h4", {}, "Actions (recorded in survey_completed for your backend)"));
    e.actions.forEach((a, ai) => {
      actions.append(el("div", { class: "ed-row", "data-path": `${base}.actions[${ai}]` },
        field("Action", `${base}.actions[${ai}].action`, a.action, (v) => (a.action = v)),
        field("Code", `${base}.actions[${ai}].code`, a.code, (v) => (a.code = v || undefined)),
        button("Remove action", () => { e.actions.splice(ai, 1); changed(); render(); }, { "aria-label": `Remove action ${ai + 1} of ending ${ei + 1}` })));
    });
    actions.append(button("Add action", () => { e.actions.push({ action: "webhook" }); changed(); render(); }, { "aria-label": `Add action to ending ${ei + 1}` }));
    box.append(actions);
    box.append(el("div", { class: "ed-row ed-tools" },
      button("Remove ending", () => { state.survey.endings.splice(ei, 1); changed(); render(); }, { "aria-label": `Remove ending ${ei + 1} (${e.id})` })));
    return box;
  }

  function render() {
    const form = $("ed-form");
    const s = state.survey;
    if (!s) {
      form.replaceChildren(el("p", { class: "empty" }, "Open an existing one, or start from a template."));
      return;
    }
    const focused = document.activeElement && document.activeElement.id;
    const locales = localesOf(s);
    if (!locales.includes(state.locale)) locales.push(state.locale);
    const localeId = nextId("loc");
    const localeSelect = el("select", { id: localeId },
      ...locales.map((l) => el("option", { value: l }, l)));
    localeSelect.value = state.locale;
    localeSelect.addEventListener("change", () => { state.locale = localeSelect.value; render(); });
    const newLocaleId = nextId("newloc");
    const newLocale = el("input", { id: newLocaleId, size: 6, placeholder: "de" });
    form.replaceChildren(
      el("div", { class: "ed-row" },
        el("div", { class: "ed-field" }, el("label", { for: localeId }, "Texts in"), localeSelect),
        el("div", { class: "ed-field" }, el("label", { for: newLocaleId }, "Add a language"), newLocale),
        button("Add language", () => {
          const tag = newLocale.value.trim();
          if (/^[a-z]{2,3}(-[A-Za-z0-9]+)*$/.test(tag)) { state.locale = tag; render(); }
        })),
      field(`Title (${state.locale})`, "title", textOf(s.title), (v) => (s.title = withText(s.title, v) || undefined), { class: "ed-wide" }),
      el("h3", {}, "Questions"),
      ...s.questions.map(questionBox),
      el("div", { class: "ed-row" },
        button("Add question", () => {
          let n = s.questions.length + 1;
          while (s.questions.some((q) => q.id === `question_${n}`)) n++;
          s.questions.push({ id: `question_${n}`, kind: "text", text: "New question", optional: true, rules: [{ when: "any", next: s.endings[0]?.id || "" }] });
          changed();
          render();
        })),
      el("h3", {}, "Endings"),
      ...s.endings.map(endingBox),
      el("div", { class: "ed-row" },
        button("Add ending", () => {
          let n = s.endings.length + 1;
          while (s.endings.some((e) => e.id === `ending_${n}`)) n++;
          s.endings.push({ id: `ending_${n}`, message: "Thank you!" });
          changed();
          render();
        })),
    );
    showProblems();
    if (focused && $(focused)) $(focused).focus();
  }

  // ------------------------------------------------------------ saving, errors

  /** The definition as saved: empty optional texts dropped. */
  function definition() {
    return JSON.parse(JSON.stringify(state.survey));
  }

  function changed() {
    state.saved = false;
    $("ed-publish").disabled = true;
    clearTimeout(state.timer);
    state.timer = setTimeout(save, SAVE_DELAY_MS);
    say("Editing…");
  }

  async function save() {
    clearTimeout(state.timer);
    const run = (async () => {
      const res = await api(`/v1/content/surveys/${encodeURIComponent(state.id)}/draft`, { method: "PUT", body: JSON.stringify(definition()) });
      state.saved = true;
      if (res.status === 422) {
        state.problems = res.body.problems || [];
        say(`Draft not saved: ${state.problems.length} problem(s) to fix before it can be previewed or published.`);
      } else if (res.ok) {
        state.problems = [];
        say("Draft saved. The preview shows it.");
        reloadPreview();
      } else {
        state.problems = [];
        say(`Could not save the draft: ${res.body.error || `HTTP ${res.status}`}`);
      }
      showProblems();
      $("ed-publish").disabled = state.problems.length > 0;
    })();
    state.saving = run;
    await run;
  }

  function showProblems() {
    document.querySelectorAll("#ed-form .ed-error").forEach((n) => n.remove());
    document.querySelectorAll("#ed-form [aria-invalid]").forEach((n) => {
      n.removeAttribute("aria-invalid");
      n.removeAttribute("aria-describedby");
    });
    const summary = $("ed-problems");
    summary.replaceChildren();
    summary.hidden = state.problems.length === 0;
    if (!state.problems.length) return;
    summary.append(el("h3", {}, `${state.problems.length} problem(s)`));
    const list = el("ul");
    state.problems.forEach((p, i) => {
      list.append(el("li", {}, `${p.path || "(the survey)"}: ${p.message}`));
      // The field with this path, else the nearest enclosing part of the form that has one.
      let path = p.path;
      let target = null;
      while (path) {
        target = document.querySelector(`#ed-form [data-path="${CSS.escape(path)}"]`);
        if (target) break;
        const shorter = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
        if (shorter === path) break;
        path = shorter;
      }
      const errorId = `ed-error-${i}`;
      const message = el("p", { class: "ed-error", id: errorId }, p.message);
      if (target && (target.tagName === "INPUT" || target.tagName === "SELECT")) {
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", errorId);
        target.parentElement.after(message);
      } else if (target) {
        target.prepend(message);
      }
    });
    summary.append(list);
  }

  async function publish() {
    if (!state.saved) await save();
    else if (state.saving) await state.saving;
    if (state.problems.length) {
      say(`Publishing refused: the draft has ${state.problems.length} problem(s).`);
      return;
    }
    const res = await api(`/v1/content/surveys/${encodeURIComponent(state.id)}/publish`, { method: "POST", body: JSON.stringify({ after: state.live || 0 }) });
    if (!res.ok) {
      say(`Publishing refused: ${res.body.error || `HTTP ${res.status}`}`);
      if (res.body.problems) { state.problems = res.body.problems; showProblems(); }
      return;
    }
    state.live = res.body.version;
    say(`Published version ${res.body.version}. Widgets get it on their next page load.`);
    await loadVersions();
  }

  // ------------------------------------------------------------ versions, preview

  async function loadVersions() {
    const target = $("ed-versions");
    const res = await api(`/v1/content/surveys/${encodeURIComponent(state.id)}/versions`);
    if (!res.ok) {
      target.replaceChildren(el("p", { class: "empty" }, "Not published yet."));
      return;
    }
    const rows = res.body.versions.map((v) => {
      const changes = Array.isArray(v.changes) ? v.changes.map((c) => c.path || "(new)").join(", ") : "";
      const back = v.version === state.live ? "live" : button(`Roll back to version ${v.version}`, () => rollback(v.version));
      return el("tr", {}, el("td", {}, String(v.version)), el("td", {}, v.published_by), el("td", {}, new Date(v.published_at).toISOString().slice(0, 16).replace("T", " ")),
        el("td", {}, [v.note, changes].filter(Boolean).join(" — ")), el("td", {}, back));
    });
    target.replaceChildren(el("table", {},
      el("thead", {}, el("tr", {}, ...["Version", "By", "When (UTC)", "Changes", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows)));
  }

  async function rollback(version) {
    const res = await api(`/v1/content/surveys/${encodeURIComponent(state.id)}/rollback`, { method: "POST", body: JSON.stringify({ version }) });
    if (!res.ok) {
      say(`Rollback refused: ${res.body.error || `HTTP ${res.status}`}`);
      return;
    }
    say(`Rolled back: version ${res.body.version} is version ${version} again.`);
    await open(state.id);
  }

  function reloadPreview() {
    if (!state.preview || !state.id) return;
    const hash = new URLSearchParams({ endpoint: state.preview.endpoint, key: state.preview.key, survey: state.id, locale: state.locale });
    $("ed-frame").src = `/dashboard/preview.html?n=${++state.reloads}#${hash}`;
  }

  // ------------------------------------------------------------ opening

  async function open(id) {
    const res = await api(`/v1/content/surveys/${encodeURIComponent(id)}`);
    if (!res.ok) {
      say(`Could not open “${id}”: ${res.body.error || `HTTP ${res.status}`}`);
      return;
    }
    const body = res.body.draft?.body || res.body.live?.body || res.body.files;
    state.id = id;
    state.live = res.body.live ? res.body.live.version : null;
    state.survey = normalise(JSON.parse(JSON.stringify(body)));
    state.problems = [];
    state.saved = true;
    $("ed-title").textContent = `Editing “${id}”${state.live ? ` (live: version ${state.live})` : " (not published)"}`;
    $("ed-publish").disabled = false;
    render();
    await loadVersions();
    if (res.body.draft) reloadPreview();
    else await save(); // the preview shows saved drafts: start one from what is open
  }

  async function createFromTemplate(templates) {
    const t = templates.find((x) => x.key === $("ed-template").value);
    const id = $("ed-new-id").value.trim() || t.survey.id;
    const survey = JSON.parse(JSON.stringify(t.survey));
    survey.id = id;
    state.id = id;
    state.live = null;
    state.survey = normalise(survey);
    state.problems = [];
    $("ed-title").textContent = `Editing “${id}” (new, from the ${t.name} template)`;
    render();
    await save();
    await refreshList(id);
    await loadVersions();
  }

  async function refreshList(selected) {
    const res = await api("/v1/content/surveys");
    const items = res.ok ? res.body.items : [];
    $("ed-survey").replaceChildren(...items.map((i) => el("option", { value: i.id },
      `${i.id}${i.version ? ` (version ${i.version})` : i.source === "files" ? " (from files)" : " (draft)"}`)));
    if (selected) $("ed-survey").value = selected;
  }

  // ------------------------------------------------------------ the panel

  async function start() {
    const root = $("editor");
    if (!root || root.dataset.ready) return;
    root.dataset.ready = "true";
    const templatesRes = await api("/v1/content/templates");
    const templates = templatesRes.ok ? templatesRes.body.templates : [];
    const preview = await api("/v1/content/preview");
    state.preview = preview.ok ? preview.body : null;
    root.append(
      el("h2", { id: "h-editor" }, "Content editor"),
      el("p", { class: "hint" }, "Changes are checked and saved as a draft as you type; the preview shows the draft in the real widget. Publishing makes it what widgets load next."),
      el("div", { class: "ed-row ed-bar" },
        el("div", { class: "ed-field" }, el("label", { for: "ed-survey" }, "Existing"), el("select", { id: "ed-survey" })),
        el("button", { type: "button", id: "ed-open", onclick: () => open($("ed-survey").value) }, "Open"),
        el("div", { class: "ed-field" }, el("label", { for: "ed-template" }, "Template"),
          el("select", { id: "ed-template" }, ...templates.map((t) => el("option", { value: t.key }, t.name)))),
        el("div", { class: "ed-field" }, el("label", { for: "ed-new-id" }, "New id"), el("input", { id: "ed-new-id", size: 12, autocomplete: "off", spellcheck: "false" })),
        el("button", { type: "button", id: "ed-create", onclick: () => createFromTemplate(templates) }, "Create from template")),
      el("p", { id: "ed-status", role: "status" }),
      el("h3", { id: "ed-title" }, "Nothing open"),
      el("div", { id: "ed-problems", class: "ed-problems", role: "alert", hidden: true }),
      el("div", { class: "ed-columns" },
        el("form", { id: "ed-form", class: "ed-form", novalidate: true, "aria-labelledby": "ed-title", onsubmit: (ev) => ev.preventDefault() }),
        el("div", { class: "ed-preview" },
          el("h3", {}, "Live preview"),
          el("iframe", { id: "ed-frame", title: "Live preview of the draft in the widget", src: "about:blank" }),
          el("button", { type: "button", class: "quiet small", onclick: reloadPreview }, "Restart preview"))),
      el("div", { class: "ed-row" },
        el("button", { type: "button", id: "ed-publish", onclick: publish, disabled: true }, "Publish")),
      el("h3", {}, "Versions"),
      el("div", { id: "ed-versions" }),
    );
    await refreshList();
    render();
  }

  document.addEventListener("dashboard:ready", () => {
    start().catch((e) => {
      const s = $("ed-status");
      if (s) s.textContent = `The editor could not start: ${e.message}`;
    });
  });
})();
