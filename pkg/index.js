// The npm entry of Touchpoint: loads the first wasm module (the survey card, the event queue and the
// API) and, after the card, the second (checklist, targeting, help, the dock). Calls made before a
// module is ready wait for it, in order.
import loadWasm, * as wasm from "./touchpoint.js";

let ready = null;

// `early` is the loader's head start: `{ wasm: Promise<Module | Response>, surveys: { id: Promise<Response> } }`.
export function init(options, early) {
  if (!ready) {
    ready = loadWasm({ module_or_path: (early && early.wasm) || new URL("./touchpoint_bg.wasm", import.meta.url) })
      .then(() => {
        const booted = wasm.boot(options, early && early.surveys, rest);
        direct();
        return booted;
      })
      .catch((e) => {
        console.error("[touchpoint] could not load the widget:", e);
        return false;
      });
  }
  return ready;
}

// The second module. The first asks for it once the first card is painted (at once on a page with
// no survey on its way); it is fetched and compiled off the main thread when the browser is idle,
// started with the first module's exports as its way back (`host*`), and from then on serves the
// calls below.
const restUrl = new URL("./touchpoint_views_bg.wasm", import.meta.url);
let served = null;
let failed = false;
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
        failed = true;
        for (const [, , resolve] of waiting.splice(0)) resolve(undefined);
        throw e;
      });
  },
};

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
    if (failed) return undefined;
    if (!ready) {
      console.error(`[touchpoint] ${name}: call init({ key, endpoint }) first`);
      return undefined;
    }
    return new Promise((resolve) => waiting.push([name, args, resolve]));
  };
}

export let identify = forward("identify", (...a) => wasm.identify(...a));
export let group = forward("group", (...a) => wasm.group(...a));
export let track = forward("track", (...a) => wasm.track(...a));
export let page = forward("page", (...a) => wasm.page(...a));
export let showSurvey = forward("showSurvey", (...a) => wasm.showSurvey(...a));
export let hide = forward("hide", (...a) => wasm.hide(...a));
export let reset = forward("reset", (...a) => wasm.reset(...a));
export let optOut = forward("optOut", (...a) => wasm.optOut(...a));
export let optIn = forward("optIn", (...a) => wasm.optIn(...a));
export let on = forward("on", (...a) => wasm.on(...a));
export let off = forward("off", (...a) => wasm.off(...a));
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
