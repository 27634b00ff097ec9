// The npm entry of Touchpoint: loads the first wasm module (the survey card, the event queue and the
// API) and, after the card, the second (checklist, targeting, help, the dock). Calls made before a
// module is ready wait for it, in order.
import loadWasm, * as wasm from "./touchpoint.js";

let ready = null;

// `early` is the loader's head start: `{ wasm: Promise<Module | Response>, surveys: { id: Promise<Response> } }`.
// Resolves `true` once the widget runs; `false` if the options were rejected or the widget could not
// load (the reason is on the console; every call then does nothing, see `failed`).
export function init(options, early) {
  if (!ready) {
    ready = Promise.resolve(early && early.wasm)
      .then((wasmOrResponse) => loadWasm({ module_or_path: wasmOrResponse || new URL("./touchpoint_bg.wasm", import.meta.url) }))
      .then(() => {
        const booted = wasm.boot(options, early && early.surveys, rest);
        direct();
        return booted;
      })
      .catch((e) => {
        failed(e);
        return false;
      });
  }
  return ready;
}

// The widget could not load: a Content-Security-Policy without 'wasm-unsafe-eval', a CDN error, a
// network error. Then every call does nothing and answers what it answers when it does nothing
// (so a host page awaiting one goes on), nothing is thrown into the page, and the queue in storage is
// left for the next page. The console says why, once.
function failed(e) {
  const text = String((e && e.message) || e);
  const cause = /Content.Security.Policy|unsafe-eval/i.test(text)
    ? "this page's Content-Security-Policy does not allow WebAssembly: add 'wasm-unsafe-eval' to script-src"
    : `the widget could not be loaded (${text})`;
  console.error(`[touchpoint] ${cause}. Touchpoint does nothing on this page; unsent events stay queued for the next one.`);
  const nothing = () => undefined;
  identify = group = track = page = hide = reset = optOut = optIn = off = nothing;
  showChecklist = openHelp = complete = setBusy = why = debug = replayDeadLetters = nothing;
  showSurvey = () => Promise.resolve(false);
  on = () => false;
  restFailed = true;
  for (const [, , resolve] of waiting.splice(0)) resolve(undefined);
}

// The second module. The first asks for it once the first card is painted (at once on a page with
// no survey on its way); it is fetched and compiled off the main thread when the browser is idle,
// started with the first module's exports as its way back (`host*`), and from then on serves the
// calls below.
const restUrl = new URL("./touchpoint_views_bg.wasm", import.meta.url);
let served = null;
let restFailed = false;
const waiting = [];
const rest = {
  load(start) {
    return new Promise((r) => (window.requestIdleCallback || setTimeout)(r, { timeout: 2000 }))
      .then(() => {
        const compiled = WebAssembly.compileStreaming
          ? WebAssembly.compileStreaming(fetch(restUrl)).catch(() => restUrl)
          : restUrl;
        return Promise.all([import("./touchpoint_views.js"), compiled]);
      })
      .then(async ([m, compiled]) => {
        await m.default({ module_or_path: compiled });
        m.start(wasm, start);
        served = m;
        ({ showChecklist, openHelp, complete, setBusy, why, debug, replayDeadLetters } = m);
        for (const [name, args, resolve] of waiting.splice(0)) resolve(m[name](...args));
        return m;
      })
      .catch((e) => {
        restFailed = true;
        for (const [, , resolve] of waiting.splice(0)) resolve(undefined);
        throw e;
      });
  },
};

// Served by the first module: kept until it runs. `now` calls the binding as it is then (the wasm's
// function, or the one of a widget that could not load).
function forward(name, now) {
  return (...args) => {
    if (!ready) {
      console.error(`[touchpoint] ${name}: call init({ key, endpoint }) first`);
      return undefined;
    }
    return ready.then(() => now(...args));
  };
}

// Served by the second module: queued until it runs.
function later(name) {
  return (...args) => {
    if (served) return served[name](...args);
    if (restFailed) return undefined;
    if (!ready) {
      console.error(`[touchpoint] ${name}: call init({ key, endpoint }) first`);
      return undefined;
    }
    return new Promise((resolve) => waiting.push([name, args, resolve]));
  };
}

export let identify = forward("identify", (...a) => identify(...a));
export let group = forward("group", (...a) => group(...a));
export let track = forward("track", (...a) => track(...a));
export let page = forward("page", (...a) => page(...a));
export let showSurvey = forward("showSurvey", (...a) => showSurvey(...a));
export let hide = forward("hide", (...a) => hide(...a));
export let reset = forward("reset", (...a) => reset(...a));
export let optOut = forward("optOut", (...a) => optOut(...a));
export let optIn = forward("optIn", (...a) => optIn(...a));
export let on = forward("on", (...a) => on(...a));
export let off = forward("off", (...a) => off(...a));
export let showChecklist = later("showChecklist");
export let openHelp = later("openHelp");
export let complete = later("complete");
export let setBusy = later("setBusy");
export let why = later("why");
export let debug = later("debug");
export let replayDeadLetters = later("replayDeadLetters");

// Once loaded, each export is the wasm function itself (ES module bindings are live, so importers
// see the change): a hot call such as `track` pays for no forwarding wrapper and no arguments array.
function direct() {
  ({ identify, group, track, page, showSurvey, hide, reset, optOut, optIn, on, off } = wasm);
}
