// What the dashboard's checklist, help and targeting editors share: one
// editor over the admin API (/v1/content/<kind>/…) with the dashboard's secret
// key. The item is kept as its definition (the JSON the collector validates);
// each change is saved as the draft a moment later, so the collector's
// validation answers at once: a 422 names each problem by JSON path, shown next
// to the field whose data-path is that path (or the nearest enclosing one).
// Publishing saves, then publishes the draft, and is refused while there are
// problems. Versions can be rolled back.
//
// Texts from the API are put on the page as text (textContent, attributes),
// never as HTML.
"use strict";
window.TouchpointContent = (function () {
  const KEY_STORAGE = "touchpoint:dashboard:key";
  const SAVE_DELAY_MS = 400;

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

  async function api(path, options) {
    const res = await fetch(path, {
      ...(options || {}),
      headers: {
        Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE)}`,
        "Content-Type": "application/json",
        "X-Touchpoint-Author": "dashboard",
      },
    });
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      /* no JSON body */
    }
    return { status: res.status, ok: res.ok, body: body || {} };
  }

  /** Moves list[i] by `by` places, if it stays in the list. */
  function move(list, i, by) {
    const j = i + by;
    if (j < 0 || j >= list.length) return false;
    [list[i], list[j]] = [list[j], list[i]];
    return true;
  }

  /**
   * One editor. `spec`: { section: element id, prefix: id prefix, kind: the API's segment,
   * heading, hint, noun (in button names, e.g. "article"), single: one item "default",
 * blank(id): the body of a new item,
   * form(body, ui): the form's nodes, afterChange(body, ui)?: e.g. a preview, extra: nodes
   * beside the form (optional), prepare(ui)?: awaited once before the first item opens }.
   */
  function mount(spec) {
    const p = spec.prefix;
    const state = { items: [], id: null, body: null, live: null, problems: [], local: {}, timer: null, saving: null, saved: true };
    let uid = 0;
    const nextId = (stem) => `${p}-${stem}-${++uid}`;
    const $ = (suffix) => document.getElementById(`${p}-${suffix}`);
    const say = (text) => ($("status").textContent = text);

    function changed() {
      state.saved = false;
      clearTimeout(state.timer);
      state.timer = setTimeout(save, SAVE_DELAY_MS);
      say("Editing…");
      if (spec.afterChange) spec.afterChange(state.body, ui);
    }

    function rerender() {
      render();
      changed();
    }

    /** A labelled input for the value at `path`; `set` receives the typed value. */
    function field(label, path, value, set, attrs) {
      const id = nextId("f");
      const input = el("input", { id, "data-path": path, ...(attrs || {}) });
      input.value = value === undefined || value === null ? "" : String(value);
      input.addEventListener("input", () => {
        set(input.type === "number" ? (input.value === "" ? undefined : Number(input.value)) : input.value);
        changed();
      });
      return el("div", { class: "ed-field" }, el("label", { for: id }, label), input);
    }

    function textarea(label, path, value, set, attrs) {
      const id = nextId("t");
      const input = el("textarea", { id, "data-path": path, ...(attrs || {}) });
      input.value = value || "";
      input.addEventListener("input", () => {
        set(input.value);
        changed();
      });
      return el("div", { class: "ed-field" }, el("label", { for: id }, label), input);
    }

    function select(label, path, options, value, set) {
      const id = nextId("s");
      const s = el("select", { id, "data-path": path });
      const all = options.some(([v]) => v === value) ? options : [...options, [value, `${value} (missing)`]];
      for (const [v, text] of all) s.append(el("option", { value: v }, text));
      s.value = value;
      s.addEventListener("change", () => {
        set(s.value);
        rerender();
      });
      return el("div", { class: "ed-field" }, el("label", { for: id }, label), s);
    }

    /** A comma-separated list of strings. */
    function list(label, path, values, set, attrs) {
      return field(label, path, (values || []).join(", "), (v) => {
        const items = String(v || "").split(",").map((x) => x.trim()).filter(Boolean);
        set(items.length ? items : undefined);
      }, attrs);
    }

    /** A JSON value (e.g. trait conditions); empty: none. Text that is not JSON is a problem shown here, not sent. */
    function json(label, path, value, set) {
      const id = nextId("j");
      const input = el("textarea", { id, "data-path": path, rows: 2, class: "ed-json", spellcheck: "false" });
      input.value = value === undefined ? "" : JSON.stringify(value);
      input.addEventListener("input", () => {
        const text = input.value.trim();
        try {
          set(text === "" ? undefined : JSON.parse(text));
          delete state.local[path];
        } catch (e) {
          state.local[path] = `not valid JSON: ${e.message}`;
        }
        changed();
      });
      return el("div", { class: "ed-field" }, el("label", { for: id }, label), input);
    }

    function button(text, onClick, attrs) {
      return el("button", { type: "button", class: "quiet small", ...(attrs || {}), onclick: onClick }, text);
    }

    const ui = { el, field, textarea, select, list, json, button, move, changed, rerender, api, nextId, state };

    function render() {
      const form = $("form");
      if (!state.body) {
        form.replaceChildren(el("p", { class: "empty" }, spec.single ? "Loading…" : "Open one, or start a new one."));
        return;
      }
      const focused = document.activeElement && document.activeElement.closest(`#${p}-form`) && document.activeElement.id;
      form.replaceChildren(...spec.form(state.body, ui));
      showProblems();
      if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    }

    function allProblems() {
      return [...Object.entries(state.local).map(([path, message]) => ({ path, message })), ...state.problems];
    }

    async function save() {
      clearTimeout(state.timer);
      if (!state.id) return;
      const run = (async () => {
        if (Object.keys(state.local).length) {
          state.saved = true;
          say("Draft not saved: fix the problems shown next to their fields.");
        } else {
          const res = await api(`/v1/content/${spec.kind}/${encodeURIComponent(state.id)}/draft`, { method: "PUT", body: JSON.stringify(state.body) });
          state.saved = true;
          if (res.status === 422) {
            state.problems = res.body.problems || [];
            say(`Draft not saved: ${state.problems.length} problem(s) to fix before it can be published.`);
          } else if (res.ok) {
            state.problems = [];
            say("Draft saved.");
            if (!state.items.some((i) => i.id === state.id)) await refreshList(state.id);
          } else {
            state.problems = [];
            say(`Could not save the draft: ${res.body.error || `HTTP ${res.status}`}`);
          }
        }
        showProblems();
      })();
      state.saving = run;
      await run;
    }

    function showProblems() {
      const form = $("form");
      form.querySelectorAll(".ed-error").forEach((n) => n.remove());
      form.querySelectorAll("[aria-invalid]").forEach((n) => {
        n.removeAttribute("aria-invalid");
        n.removeAttribute("aria-describedby");
      });
      const problems = allProblems();
      $("publish").disabled = problems.length > 0;
      const summary = $("problems");
      summary.replaceChildren();
      summary.hidden = problems.length === 0;
      if (!problems.length) return;
      summary.append(el("h3", {}, `${problems.length} problem(s)`));
      const items = el("ul");
      problems.forEach((problem, i) => {
        items.append(el("li", {}, `${problem.path || `(the ${spec.noun})`}: ${problem.message}`));
        let path = problem.path;
        let target = null;
        while (path) {
          target = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
          if (target) break;
          const shorter = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
          if (shorter === path) break;
          path = shorter;
        }
        const errorId = `${p}-error-${i}`;
        const message = el("p", { class: "ed-error", id: errorId }, problem.message);
        if (target && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) {
          target.setAttribute("aria-invalid", "true");
          target.setAttribute("aria-describedby", errorId);
          target.parentElement.after(message);
        } else if (target) {
          target.prepend(message);
        } else {
          form.prepend(message);
        }
      });
      summary.append(items);
    }

    async function publish() {
      if (state.saving) await state.saving;
      await save(); // what is published is what the form shows now
      const problems = allProblems();
      if (problems.length) {
        say(`Publishing refused: ${problems.length} problem(s) to fix first.`);
        return;
      }
      const res = await api(`/v1/content/${spec.kind}/${encodeURIComponent(state.id)}/publish`, { method: "POST", body: JSON.stringify({ after: state.live || 0 }) });
      if (!res.ok) {
        say(`Publishing refused: ${res.body.error || `HTTP ${res.status}`}`);
        if (res.body.problems) {
          state.problems = res.body.problems;
          showProblems();
        }
        return;
      }
      state.live = res.body.version;
      $("title").textContent = `Editing the ${spec.noun} “${state.id}” (live: version ${state.live})`;
      say(`Published version ${res.body.version}. Widgets get it on their next page load.`);
      await loadVersions();
      await refreshList(state.id);
    }

    async function loadVersions() {
      const target = $("versions");
      const res = state.live === null ? { ok: false } : await api(`/v1/content/${spec.kind}/${encodeURIComponent(state.id)}/versions`);
      if (!res.ok) {
        target.replaceChildren(el("p", { class: "empty" }, "Not published in this project yet."));
        return;
      }
      const rows = res.body.versions.map((v) => {
        const changes = Array.isArray(v.changes) ? v.changes.map((c) => c.path || "(new)").join(", ") : "";
        const back = v.version === state.live ? "live" : button(`Roll back to version ${v.version}`, () => rollback(v.version), { "aria-label": `Roll back ${spec.noun} to version ${v.version}` });
        return el("tr", {}, el("td", {}, String(v.version)), el("td", {}, v.published_by),
          el("td", {}, new Date(v.published_at).toISOString().slice(0, 16).replace("T", " ")),
          el("td", {}, [v.note, changes].filter(Boolean).join(" — ")), el("td", {}, back));
      });
      target.replaceChildren(el("table", {},
        el("thead", {}, el("tr", {}, ...["Version", "By", "When (UTC)", "Changes", "Roll back"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...rows)));
    }

    async function rollback(version) {
      const res = await api(`/v1/content/${spec.kind}/${encodeURIComponent(state.id)}/rollback`, { method: "POST", body: JSON.stringify({ version }) });
      if (!res.ok) {
        say(`Rollback refused: ${res.body.error || `HTTP ${res.status}`}`);
        return;
      }
      await open(state.id);
      say(`Rolled back: version ${res.body.version} is version ${version} again.`);
    }

    async function open(id) {
      // An id the project does not list yet is new: started from the blank, without asking for it.
      const listed = state.items.some((i) => i.id === id);
      const res = listed ? await api(`/v1/content/${spec.kind}/${encodeURIComponent(id)}`) : { ok: false, status: 404, body: {} };
      let body;
      if (res.ok) body = res.body.draft?.body || res.body.live?.body || res.body.files;
      else if (res.status === 404) body = spec.blank(id);
      else {
        say(`Could not open “${id}”: ${res.body.error || `HTTP ${res.status}`}`);
        return;
      }
      state.id = id;
      state.live = res.ok && res.body.live ? res.body.live.version : null;
      state.body = JSON.parse(JSON.stringify(body || spec.blank(id)));
      state.problems = [];
      state.local = {};
      state.saved = res.ok && !!res.body.draft;
      state.saving = null;
      $("title").textContent = `Editing the ${spec.noun} “${id}”${state.live ? ` (live: version ${state.live})` : " (not published in this project)"}`;
      render();
      if (spec.afterChange) spec.afterChange(state.body, ui);
      await loadVersions();
      say(res.ok && res.body.draft ? "Opened the saved draft." : state.live ? `Opened the live version ${state.live}.` : "Opened.");
    }

    async function refreshList(selected) {
      const res = await api(`/v1/content/${spec.kind}`);
      const items = (state.items = res.ok ? res.body.items : []);
      if (spec.single) return;
      $("existing").replaceChildren(...items.map((i) => el("option", { value: i.id },
        `${i.id}${i.version ? ` (version ${i.version})` : i.source === "files" ? " (from files)" : " (draft)"}`)));
      if (selected) $("existing").value = selected;
    }

    async function start() {
      const root = document.getElementById(spec.section);
      if (!root || root.dataset.ready) return;
      root.dataset.ready = "true";
      const bar = spec.single ? [] : [el("div", { class: "ed-row ed-bar" },
        el("div", { class: "ed-field" }, el("label", { for: `${p}-existing` }, "Existing"), el("select", { id: `${p}-existing` })),
        el("button", { type: "button", id: `${p}-open`, onclick: () => open($("existing").value) }, `Open ${spec.noun}`),
        el("div", { class: "ed-field" }, el("label", { for: `${p}-new-id` }, `New ${spec.noun} id`), el("input", { id: `${p}-new-id`, size: 16, autocomplete: "off", spellcheck: "false" })),
        el("button", { type: "button", id: `${p}-new`, onclick: () => { const id = $("new-id").value.trim(); if (id) open(id); } }, `New ${spec.noun}`))];
      root.append(
        el("h2", { id: `${p}-heading` }, spec.heading),
        el("p", { class: "hint" }, spec.hint),
        ...bar,
        el("p", { id: `${p}-status`, role: "status" }),
        el("h3", { id: `${p}-title` }, "Nothing open"),
        el("div", { id: `${p}-problems`, class: "ed-problems", role: "alert", hidden: true }),
        el("div", { class: spec.aside ? "ed-columns" : "" },
          el("form", { id: `${p}-form`, class: "ed-form", novalidate: true, "aria-labelledby": `${p}-title`, onsubmit: (ev) => ev.preventDefault() }),
          spec.aside ? spec.aside(ui) : null),
        el("div", { class: "ed-row" }, el("button", { type: "button", id: `${p}-publish`, onclick: publish }, `Publish ${spec.noun}`)),
        el("h3", {}, "Versions"),
        el("div", { id: `${p}-versions` }),
      );
      render();
      if (spec.prepare) await spec.prepare(ui);
      await refreshList();
      if (spec.single) await open("default");
    }

    document.addEventListener("dashboard:ready", () => {
      start().catch((e) => {
        const s = $("status");
        if (s) s.textContent = `The editor could not start: ${e.message}`;
      });
    });
    return ui;
  }

  return { el, api, move, mount };
})();
