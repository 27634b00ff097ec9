// Turns one run's results (bench/run.mjs) into the "Widget on the host page" section of BENCHMARKS.md.
import { readFileSync } from "node:fs";
import { brotliCompressSync, constants as zlib } from "node:zlib";
export const HEADING = "## Widget on the host page";

const SURVEYS = ["vanilla", "touchpoint", "touchpoint-survey", "posthog", "formbricks"];
const ORDER = ["vanilla", "touchpoint", "touchpoint-survey", "posthog", "formbricks", "driver", "blank"];

const n0 = (x) => (x == null ? "—" : Math.round(x).toLocaleString("en-US"));
const n1 = (x) => (x == null ? "—" : x.toFixed(1));
const n2 = (x) => (x == null ? "—" : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString("en-US"));
const kb = (b) => (b == null ? "—" : `${(b / 1024).toFixed(1)} KB`);
const ratio = (a, b) => (a == null || b == null || b <= 0 ? "—" : `${(a / b).toFixed(a / b < 10 ? 2 : 1)}×`);
const mb = (b) => (b == null ? "—" : `${(b / 1048576).toFixed(2)} MB`);

/** Replaces this section (from its heading to the next "## " heading) or appends it; other sections are kept. */
export function replaceSection(doc, section) {
  if (!doc.trim()) doc = "# Benchmarks\n\nMeasured on this project's reference machine; every number here comes from a script in scripts/.\n";
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trim() === HEADING);
  if (start < 0) return doc.replace(/\n*$/, "\n\n") + section.replace(/\n*$/, "\n");
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end < 0) end = lines.length;
  const before = lines.slice(0, start).join("\n").replace(/\n*$/, "\n\n");
  const after = lines.slice(end).join("\n");
  return before + section.replace(/\n*$/, "\n") + (after ? "\n" + after : "");
}

export function renderSection(r) {
  const C = r.contenders;
  const ids = ORDER.filter((id) => C[id]);
  const S = (id, th) => C[id]?.summary?.[th];
  const blank = (th, k) => S("blank", th)?.[k] ?? 0;
  const caused = (id, th, k) => (S(id, th)?.[k] == null ? null : S(id, th)[k] - blank(th, k));
  const vis = (id, th) => S(id, th)?.visible?.median;
  const label = (id) => C[id].label + (id === "driver" ? " †" : "");
  const bytesBefore = (id) => C[id].bytes.beforeCard.total.brotli;
  const track = (id) => C[id].summary.calls?.trackUs;
  // The call's figure with the work it defers to the end of its task, when that differs visibly (> 10%).
  const taskNote = (id) => {
    const c = C[id].summary.calls;
    return c?.trackTaskUs != null && c.trackTaskUs > 1.1 * c.trackUs ? `; ${n2(c.trackTaskUs)} µs with the end of its task` : "";
  };
  const out = [];
  const p = (s = "") => out.push(s);

  p(HEADING);
  p();
  p(`What a host page pays for the widget, for Touchpoint and peers measured in the same run: a minimal host page per`);
  p(`contender served from 127.0.0.1, loaded cold (new browser context: empty cache and storage) in headless Debian`);
  p(`chromium ${r.chromium}, ${r.runs} loads per contender at 1× and again at 4× CPU (CDP \`Emulation.setCPUThrottlingRate\`),`);
  p(`contenders interleaved in a new random order every round. Ratios against the hand-written vanilla popover are the`);
  p(`headline; absolute times depend on this machine.`);
  p();
  const t = C.touchpoint ? `**Touchpoint** is measured twice: with all three widgets configured, as a real page pays for it (the collector` +
    ` has the demo's \`checklists.json\` and \`help/\`, so the page also fetches and shows the checklist and the help launcher;` +
    ` the targets are judged on this one), and **survey only** (a collector started from an empty directory, which serves` +
    ` neither; the widget's requests for them get 404).` : "";
  if (t) p(t);
  p();

  // Headline.
  p(`### Headline: against the vanilla floor`);
  p();
  p(`| | Downloaded before the card shows (brotli) | Card visible, median, 1× CPU | Card visible, median, 4× CPU | Main-thread script it causes, 1× | \`track()\`, mean of 10,000 calls (bursts of 100) |`);
  p(`|---|---|---|---|---|---|`);
  for (const id of ids.filter((i) => i !== "blank")) {
    const cell = (a, b, fmt) => (a == null ? "—" : id === "vanilla" ? `${fmt(a)}` : `**${ratio(a, b)}** (${fmt(a)})`);
    p(`| ${label(id)} | ${cell(bytesBefore(id), bytesBefore("vanilla"), kb)} | ${cell(vis(id, 1), vis("vanilla", 1), (x) => `${n0(x)} ms`)} | ` +
      `${cell(vis(id, 4), vis("vanilla", 4), (x) => `${n0(x)} ms`)} | ${cell(caused(id, 1, "script"), caused("vanilla", 1, "script"), (x) => `${n1(x)} ms`)} | ` +
      `${track(id) == null ? "n/a" : cell(track(id), track("vanilla"), (x) => `${n2(x)} µs`) + taskNote(id)} |`);
  }
  p();
  if (ids.some((id) => taskNote(id))) {
    p(`\`track()\` is the call itself; where a library defers work to the end of the task (Touchpoint writes the task's events to`);
    p(`\`localStorage\` then), the figure with that work is given beside it (see "Calls").`);
    p();
  }
  p(`† driver.js is the tour side: its time is to the first tour step's popover (with its Next button), not to an NPS card.`);
  p();

  // Targets.
  if (C.touchpoint && C.vanilla) out.push(...targets(r));

  // Times.
  p(`### Time to the card (ms from navigation start)`);
  p();
  p(`Visible: the first animation frame in which the "10" score control (driver.js: the Next button) is laid out inside the`);
  p(`viewport with a non-zero size, not hidden and not at opacity 0 (through shadow roots). Interactive: when the first task`);
  p(`queued from that frame runs, i.e. the frame has been produced and the main thread is free to take a click. Every`);
  p(`contender's click was checked once per run (see "What ran").`);
  p();
  p(`| | 1×: visible, median | p95 | interactive, median | p95 | 4×: visible, median | p95 | interactive, median | p95 | failed loads |`);
  p(`|---|---|---|---|---|---|---|---|---|---|`);
  for (const id of ids) {
    const a = S(id, 1), b = S(id, 4);
    p(`| ${label(id)} | ${n0(a.visible.median)} | ${n0(a.visible.p95)} | ${n0(a.interactive.median)} | ${n0(a.interactive.p95)} | ` +
      `${n0(b.visible.median)} | ${n0(b.visible.p95)} | ${n0(b.interactive.median)} | ${n0(b.interactive.p95)} | ` +
      `${C[id].failures[1] + C[id].failures[4]} of ${2 * r.runs} |`);
  }
  p();
  p(`For the host page alone, "visible" is the first frame after its \`load\` event.`);
  p();

  // Main thread and memory.
  p(`### Main thread and memory (medians)`);
  p();
  p(`CDP \`Performance.getMetrics\` ${r.settleMs} ms after the card is interactive: \`ScriptDuration\` (script) and \`TaskDuration\``);
  p(`(all main-thread tasks), minus the host page alone, so the numbers are what loading the widget and showing the card`);
  p(`cost. Long tasks: \`PerformanceObserver('longtask')\` from navigation start, total duration (count). Heap: \`JSHeapUsedSize\``);
  p(`after a forced GC, minus the host page alone; wasm: the byte length of the widget module's \`WebAssembly.Memory\`.`);
  p();
  p(`| | Script, 1× | Tasks, 1× | Long tasks, 1× | Script, 4× | Tasks, 4× | Long tasks, 4× | JS heap after GC | wasm memory |`);
  p(`|---|---|---|---|---|---|---|---|---|`);
  for (const id of ids) {
    const a = S(id, 1), b = S(id, 4);
    const c = (th, k) => n1(id === "blank" ? S(id, th)[k] : caused(id, th, k));
    const lt = (s) => `${n0(s.longtaskMs)} ms (${n0(s.longtaskCount)})`;
    const heap = id === "blank" ? a.heap : caused(id, 1, "heap");
    p(`| ${label(id)}${id === "blank" ? " — absolute" : ""} | ${c(1, "script")} ms | ${c(1, "task")} ms | ${lt(a)} | ${c(4, "script")} ms | ` +
      `${c(4, "task")} ms | ${lt(b)} | ${mb(heap)} | ${a.wasm ? mb(a.wasm) : "—"} |`);
  }
  p();

  // Bytes.
  p(`### Bytes the page downloads for the widget`);
  p();
  p(`Every response the page received (resource timing), up to ${r.settleMs} ms after the card; sizes of the bodies as served, and`);
  p(`compressed here (gzip -9, brotli q11; the server sends them uncompressed). "Before" = finished before the card was visible.`);
  p();
  p(`| | File | Kind | Before | Raw | gzip | brotli |`);
  p(`|---|---|---|---|--:|--:|--:|`);
  for (const id of ids.filter((i) => i !== "blank")) {
    for (const f of C[id].resources) {
      p(`| ${label(id)} | \`${f.path.replace(/anonymous_id=[0-9a-f-]+/, "anonymous_id=…").replace(/&_=\d+/, "")}\` | ${f.category} | ${f.beforeCard ? "yes" : "no"} | ` +
        `${n0(f.raw)} | ${n0(f.gzip)} | ${n0(f.brotli)} |`);
    }
    const b = C[id].bytes.beforeCard;
    p(`| **${label(id)}** | **before the card** | code ${n0(b.code.brotli)} br + data | | **${n0(b.total.raw)}** | **${n0(b.total.gzip)}** | **${n0(b.total.brotli)}** |`);
  }
  if (r.formbricksLoader) {
    const f = r.formbricksLoader;
    p(`| @formbricks/js ${r.versions["@formbricks/js"]} (size only) | \`dist/index.js\` (the loader a page bundles) | loader | — | ${n0(f.raw)} | ${n0(f.gzip)} | ${n0(f.brotli)} |`);
  }
  p();
  const wf = waterfall(C);
  if (wf.length) {
    p(`Waterfalls of the inspected loads (1×, ms from navigation start, request start–response end of each file):`);
    p();
    for (const line of wf) p(`- ${line}`);
    p();
  }
  p(`Everything is served over loopback, so download time is close to nothing here: on a real network each page also waits`);
  p(`for its bytes above to arrive, which these times do not include.`);
  p();

  // Calls.
  p(`### Calls`);
  p();
  p(`In the page, after the card, timed with \`performance.now()\` (medians of ${r.callReps} loads): 100 \`track(name, {i, plan})\` calls on an`);
  p(`empty queue, and the flush that delivers them (CDP script and task time from the last call until the server has all`);
  p(`100, plus 300 ms for handling the answer); then **10,000 calls in 100 bursts of 100**, the page idle 50 ms between bursts`);
  p(`so each library sends as it would in an app (the headline figure); then 1,000 calls in a row, which leaves a backlog`);
  p(`of unsent events and shows whether a call's cost grows with it. PostHog's call is \`posthog.capture\`; the vanilla`);
  p(`floor writes each event to \`localStorage\` before sending, like Touchpoint. "With end of task" times each burst up to`);
  p(`after the microtasks its calls queued, so work deferred to the end of the task (Touchpoint's one storage write per`);
  p(`burst) is counted; timers and later tasks are not.`);
  p();
  p(`| | \`track()\`, mean of 10,000 (bursts of 100) | with end of task | first 100 | 1,000 in a row | Flush of 100: script | tasks | delivered after (wall) |`);
  p(`|---|---|---|---|---|---|---|---|`);
  for (const id of ids.filter((i) => C[i].summary.calls)) {
    const c = C[id].summary.calls;
    p(`| ${label(id)} | ${n2(c.trackUs)} µs | ${c.trackTaskUs == null ? "—" : `${n2(c.trackTaskUs)} µs`} | ${n2(c.first100Us)} µs | ${n2(c.row1000Us)} µs | ${n1(c.flushScriptMs)} ms | ${n1(c.flushTaskMs)} ms | ` +
      `${c.delivered ? `${n0(c.flushWallMs)} ms` : "not delivered in 20 s"} |`);
  }
  p();
  p(`Wall time is mostly each library's batching delay (Touchpoint and the floor: 1 s, or at once for a full batch of 100; PostHog: 3 s).`);
  p(`The 10,000 calls come at about 2,000 events a second, ten times the collector's default budget for one client (200 events/s, burst 2,000): after the first seconds the collector answers \`429\` and the events wait in the page's queue for the floor as for Touchpoint, so these calls are made with a backlog of thousands (the refused sends show as console errors).`);
  p();

  // What ran.
  p(`### What ran`);
  p();
  for (const id of ids) {
    const c = C[id];
    const v = c.verified == null ? "" : c.verified ? " The click was answered." : " **The click was not answered.**";
    const u = Object.keys(c.unexpected || {}).length ? ` Unanswered requests: ${Object.entries(c.unexpected).map(([k, n]) => `\`${k}\` ×${n}`).join(", ")}.` : "";
    const ext = c.external?.length ? ` **Requests off this machine: ${c.external.length}.**` : "";
    const err = c.error ? ` **Could not show its card (${c.error}); not timed.**` : "";
    p(`- **${c.label}**: ${DESCRIBE[id] || ""}${err}${v}${u}${ext}`);
  }
  p(`- **@formbricks/js ${r.versions["@formbricks/js"]}**: size only. It is a loader that injects \`<appUrl>/js/formbricks.umd.cjs\`, the SDK`);
  p(`  core, which only a Formbricks server serves (it is not on npm), so the SDK cannot run without its cloud or a self-hosted app.`);
  p(`  Its renderer ran instead (row above), which is a lower bound for Formbricks: no SDK core, no environment/state fetch.`);
  p();
  const m = r.machine;
  const area = (f) => (f.startsWith("crates/") ? f.split("/").slice(0, 2).join("/") : f.includes("/") ? f.split("/")[0] + "/" : f);
  const dirty = m.dirty.length ? ` plus uncommitted changes in ${[...new Set(m.dirty.map(area))].join(", ")} (built and measured as they were)` : "";
  const built = m.notBuiltHere
    ? `of \`pkg/\` as found (not built by this run; HEAD was ${m.commit}${dirty})`
    : `from commit ${m.commit}${dirty}`;
  p(`- Machine: ${m.nproc} cores (${m.cpu}), chromium ${r.chromium}, measured ${m.date.slice(0, 10)}; Touchpoint's release build ${built};`);
  if (r.rounds?.length) {
    const all = r.rounds.map((x) => x.others), kept = r.kept || all;
    const rng = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    p(`  ${all.length} rounds ran; other processes on the machine used ${rng(all)} cores during a round (this process tree's own CPU`);
    p(`  time subtracted from \`/proc/stat\`), and the ${kept.length} least disturbed rounds were kept (${rng(kept)} cores), chosen by the`);
    p(`  machine's load, not by what they measured. The measuring took ${Math.round(m.seconds / 60)} min.`);
  }
  p(`- All pages and every library file come from one origin on 127.0.0.1 (this harness); \`/full/v1/*\` and \`/lean/v1/*\` are`);
  p(`  proxied to the two collectors (release build), so Touchpoint and the floor talk to the real collector. Chromium resolves no`);
  p(`  other host name. Peer versions are pinned in \`bench/package.json\` / \`package-lock.json\` (${Object.entries(r.versions).filter(([k]) => k !== "playwright-core").map(([k, v]) => `${k} ${v}`).join(", ")}).`);
  p();
  p(`Rerun: \`scripts/bench.sh\` (builds, installs \`bench/\`'s dependencies with \`npm ci\`, runs \`bench/run.mjs\`); \`BENCH_RUNS=20\`,`);
  p(`\`NO_WRITE=1\` prints instead of writing. It rewrites only this section; raw results go to \`bench/results/\`.`);
  return out.join("\n") + "\n";
}

const STEPS = {
  vanilla: [[/^\/vanilla\//, "script"], [/\/v1\/surveys\//, "survey definition"]],
  touchpoint: [[/^\/touchpoint\.js/, "loader"], [/^\/pkg\/index\.(\w+\.)?js/, "index.js"], [/^\/pkg\/touchpoint\.(\w+\.)?js/, "glue"],
               [/\.wasm$/, "wasm"], [/\/v1\/surveys\//, "survey definition"]],
  posthog: [[/array\.js/, "array.js"], [/config\.js/, "remote config"], [/surveys\.js/, "surveys.js"], [/\/api\/surveys\//, "surveys"]],
};
/** One line per contender with known steps: when each file was requested and arrived, and when the card showed. */
export function waterfall(C) {
  return Object.entries(STEPS).filter(([id]) => C[id]?.inspectT).map(([id, steps]) => {
    const at = (re) => C[id].resources.find((f) => re.test(f.path));
    const parts = steps.map(([re, name]) => at(re) && `${name} ${n0(at(re).start)}–${n0(at(re).end)}`).filter(Boolean);
    return `${C[id].label}: ${parts.join(", ")}; card visible at ${n0(C[id].inspectT.visible)}.`;
  });
}

const DESCRIBE = {
  vanilla: "ran fully. `bench/pages/vanilla-nps.js`: the same definition from the collector, Touchpoint's card CSS, 11 buttons in a shadow root, events written to `localStorage` and posted to the collector in batches.",
  touchpoint: "ran fully: the README's embed (stub + async `touchpoint.js`) and `Touchpoint.showSurvey(\"nps\")`; release build from `scripts/build.sh`.",
  "touchpoint-survey": "ran fully, as above against the collector without checklists or help.",
  posthog: "ran fully, offline: its snippet, `array.js` and the lazily loaded `surveys.js` served from 127.0.0.1, `api_host` pointing here; the harness answers the remote config (`surveys: true`, no flags, no compression), `/flags/`, `/api/surveys/` (one popover NPS survey: rating 0–10, submit on click) and the capture endpoint. Lightest profile: no autocapture, pageviews, replay, heatmaps, tours or chat; `opt_out_useragent_filter` so headless chromium is not dropped as a bot; client rate limiting raised so no `capture` is dropped.",
  formbricks: "ran (renderer only): `@formbricks/surveys`' UMD bundle, the one the Formbricks SDK loads to show a survey, driven directly with an NPS definition (fetched in parallel, as the SDK does), answers posted to the harness. No `track()`: that is the SDK core's.",
  driver: "ran fully: its CSS and IIFE build, a two-step tour started on load. No `track()`.",
  blank: "the host page with no widget: the baseline subtracted above.",
};

function targets(r) {
  const C = r.contenders;
  const tp = C.touchpoint, v = C.vanilla, ph = C.posthog;
  const out = [];
  const p = (s = "") => out.push(s);
  const blank = (th, k) => C.blank?.summary?.[th]?.[k] ?? 0;
  const visT = (c, th) => c?.summary?.[th]?.visible?.median;
  const scr = (c, th) => c.summary[th].script - blank(th, "script");
  const loader = tp.resources.filter((f) => f.category === "loader").reduce((n, f) => n + f.brotli, 0);
  const before = tp.bytes.beforeCard.total.brotli;
  const wasm = tp.resources.filter((f) => f.category === "wasm" && f.beforeCard).reduce((n, f) => n + f.brotli, 0);
  const rows = [];
  const row = (name, measured, pass, close) => rows.push(`| ${name} | ${measured} | ${pass ? "**PASS**" : "**MISS**"} | ${pass ? "" : close} |`);
  row("Loader ≤ 1.5 KB brotli", `${kb(loader)} (${n0(loader)} B)`, loader <= 1536, "Trim `www/touchpoint.js` (it is the only part a page always pays).");
  row("Everything before the first survey shows ≤ 60 KB brotli (goal: lighter than the Formbricks renderer)", `${kb(before)}, of which the wasm ${kb(wasm)}`, before <= 60 * 1024,
      "The first module is the card, the outbox and the API only (no serde, no `format!`, no definition validation: the page reads the collector's pre-checked card form with `JSON.parse`); checklist, targeting, help and the dock are the second module, after the card. What is left in the first is its own code (the card, the outbox's send, retry and dead-letter paths, the option checks), the bindings and their glue, and the allocator (see \"Where the wasm's bytes go\"). Closing it needs the outbox's async send path and the option parsing made smaller, or moved behind the card where they can wait (sending can start after the card is up).");
  const second = ["pkg/touchpoint_views.js", "pkg/touchpoint_views_bg.wasm"]
    .map((f) => { try { return brotliCompressSync(readFileSync(new URL(`../${f}`, import.meta.url)), { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).length; } catch { return null; } });
  if (second.every((n) => n != null)) {
    const all = before + second[0] + second[1];
    row("Everything for all three widgets, both modules, ≤ 150 KB brotli", `${kb(all)} (the second module ${kb(second[0] + second[1])})`, all <= 150 * 1024,
        "The second module (its panels already plain DOM) carries serde_json and the serde derives, and the checklist, targeting and help rules with their validation. Closing it: the second module reading the collector's pre-checked forms with `JSON.parse`, as the first does.");
  }
  const at = (re) => tp.resources.find((f) => re.test(f.path));
  const wasmEnd = at(/\.wasm$/)?.end, defStart = at(/\/v1\/surveys\//)?.start, defEnd = at(/\/v1\/surveys\//)?.end, shown = tp.inspectT?.visible;
  const serial = wasmEnd != null && defEnd != null && shown != null
    ? ` In the inspected load the wasm had arrived at ${n0(wasmEnd)} ms, the definition was requested at ${n0(defStart)} ms and arrived at ${n0(defEnd)} ms, and the card showed at ${n0(shown)} ms.`
    : "";
  const timeClose = "The loader requests the first module, its JS glue and the queued survey's card form as soon as it runs; the second module (checklist, targeting, help) loads when the browser is idle after the card. What is left is on the critical path of the first module: its glue and wasm arriving and being imported once the page has loaded, the end of the wasm's streaming compile (on the main thread), instantiating and booting it, and building the card (waterfalls below). A trace of one load on this machine: boot reads the options, the identity and the queue, and the page's first `localStorage` access alone took about 4 ms; V8 compiles each wasm function on its first call, so boot and the first render also pay for compiling what they run." + serial +
    " Closing move: a smaller first module and glue (see the 60 KB target): at 4× CPU every millisecond of main-thread work before the card counts four times.";
  const a1 = visT(tp, 1);
  for (const th of [1, 4]) {
    const a = visT(tp, th), fl = visT(v, th), pv = visT(ph, th);
    const limit = th === 1 ? 1.2 : 1.5;
    row(`Time to visible ≤ ${limit}× the floor, ${th}× CPU`, `${n0(a)} ms vs ${n0(fl)} ms: ${ratio(a, fl)}`, a <= limit * fl,
        th === 1 || a1 > 1.2 * visT(v, 1) ? timeClose : "As at 1×.");
    if (ph) row(`Time to visible ahead of posthog-js surveys, ${th}× CPU`, `${n0(a)} ms vs ${n0(pv)} ms`, a < pv,
        "As for the floor target above.");
  }
  const tps = C["touchpoint-survey"];
  for (const th of [1, 4]) {
    const a = scr(tp, th), fl = scr(v, th);
    const only = tps ? ` The survey-only configuration measured ${n1(scr(tps, th))} ms, so the checklist and help account for ${n1(a - scr(tps, th))} ms of it.` : "";
    row(`Main-thread script ≤ 2× the floor, ${th}× CPU`, `${n1(a)} ms vs ${n1(fl)} ms: ${ratio(a, fl)}`, a <= 2 * fl,
        "Less code to compile and run." + only + " What counts is the first module (importing its glue, instantiating and booting it, the card) and, inside the measured window after the card, the second module's instantiation and start (its checklist, help and targeting fetches). Closing move: a smaller first module, and the second started later or made smaller.");
  }
  const tr = tp.summary.calls?.trackUs, t100 = tp.summary.calls?.first100Us, row1k = tp.summary.calls?.row1000Us, vtr = v.summary.calls?.trackUs;
  const ttask = tp.summary.calls?.trackTaskUs;
  if (tr != null) {
    const grows = row1k != null && t100 != null && row1k > 1.5 * t100
      ? `Its cost grows with the queue (1,000 in a row: ${n2(row1k)} µs a call, against ${n2(t100)} µs for the first 100): keep the queue's index in memory instead of listing storage on each call. `
      : "";
    const withTask = ttask != null ? `; with the end-of-task write: ${n2(ttask)} µs` : "";
    const close = ttask != null
      ? `The call only checks and stamps the event (one \`JSON.stringify\` of the properties, an id from a pool of 256, the time, the URL read once per task) and computes its size; parsing, the checklist's and targeting's rules, queueing and the storage write happen once per task, at its end (counted with them: ${n2(ttask)} µs a call). What is left is mostly the first call of each burst: after the page has idled 50 ms it is far slower than the rest (on the demo page, whose full queue also drops an event per call, the first call of a burst averaged 206–231 µs and the others 8–11 µs; even a first \`JSON.stringify\` after such a pause takes about 20 µs against 2), which the 1,000 calls in a row do not pay. Past that, crossing into wasm and copying the name and properties in and the id out.`
      : `The floor, which only builds the event and writes it with one synchronous \`localStorage.setItem\`, takes ${n2(vtr)} µs a call, so ≤ 5 µs needs that write taken off the call: queue in memory and persist at the end of the task (a microtask), which keeps persist-before-send; then the rest of the call (crossing into wasm, building and serializing the event, the checklist's rules) has to fit in the remainder.`;
    row("`track()` ≤ 5 µs per call (mean of 10,000)", `${n2(tr)} µs (first 100: ${n2(t100)} µs; 1,000 in a row: ${n2(row1k)} µs${withTask}; floor: ${n2(vtr)} µs)`, tr <= 5,
        grows + close);
  }
  p(`### Targets, Touchpoint with all three widgets`);
  p();
  p(`| Target | Measured | Result | What would close it |`);
  p(`|---|---|---|---|`);
  out.push(...rows);
  p();
  return out;
}
