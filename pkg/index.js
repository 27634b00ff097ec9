// The npm entry of Touchpoint: loads the wasm once and forwards calls to it.
// Calls made after init() but before the wasm is ready wait for it, in order.
import loadWasm, * as wasm from "./touchpoint.js";

let ready = null;
let loaded = false;

// `early` is the loader's head start: `{ wasm: Promise<Module | Response>, surveys: { id: Promise<Response> } }`.
export function init(options, early) {
  if (!ready) {
    ready = loadWasm({ module_or_path: (early && early.wasm) || new URL("./touchpoint_bg.wasm", import.meta.url) })
      .then(() => {
        loaded = true;
        const booted = wasm.boot(options, early && early.surveys, views);
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

// The checklist and help panels are a second module. The widget asks for its bytes when it shows the
// launchers (fetched and compiled off the main thread) and runs it when a panel first opens: imported,
// instantiated and mounted into the shadow root the widget made, with this module's exports as its
// way back (`viewsHelpOpened`, …).
const viewsUrl = new URL("./touchpoint_views_bg.wasm", import.meta.url);
let viewsWasm = null;
const views = {
  // When the browser is idle: nothing the page is doing waits for these bytes.
  prefetch() {
    if (viewsWasm) return;
    viewsWasm = new Promise((resolve) => (window.requestIdleCallback || setTimeout)(resolve, { timeout: 2000 })).then(() => {
      const link = document.createElement("link");
      link.rel = "modulepreload";
      link.href = new URL("./touchpoint_views.js", import.meta.url).href;
      document.head.appendChild(link);
      return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(fetch(viewsUrl)).catch(() => viewsUrl) : viewsUrl;
    });
  },
  load(container, init) {
    return import("./touchpoint_views.js").then(async (dock) => {
      await dock.default({ module_or_path: (await viewsWasm) || viewsUrl });
      dock.mount(wasm, container, init);
      return dock;
    });
  },
};

function forward(name, now) {
  return (...args) => {
    if (loaded) return now(...args);
    if (!ready) {
      console.error(`[touchpoint] ${name}: call init({ key, endpoint }) first`);
      return undefined;
    }
    return ready.then(() => now(...args));
  };
}

export let identify = forward("identify", (...a) => wasm.identify(...a));
export let group = forward("group", (...a) => wasm.group(...a));
export let track = forward("track", (...a) => wasm.track(...a));
export let page = forward("page", (...a) => wasm.page(...a));
export let showSurvey = forward("showSurvey", (...a) => wasm.showSurvey(...a));
export let showChecklist = forward("showChecklist", (...a) => wasm.showChecklist(...a));
export let openHelp = forward("openHelp", (...a) => wasm.openHelp(...a));
export let hide = forward("hide", (...a) => wasm.hide(...a));
export let complete = forward("complete", (...a) => wasm.complete(...a));
export let reset = forward("reset", (...a) => wasm.reset(...a));
export let optOut = forward("optOut", (...a) => wasm.optOut(...a));
export let optIn = forward("optIn", (...a) => wasm.optIn(...a));
export let on = forward("on", (...a) => wasm.on(...a));
export let off = forward("off", (...a) => wasm.off(...a));
export let setBusy = forward("setBusy", (...a) => wasm.setBusy(...a));
export let why = forward("why", (...a) => wasm.why(...a));
export let debug = forward("debug", (...a) => wasm.debug(...a));

// Once loaded, each export is the wasm function itself (ES module bindings are live, so importers
// and the loader, which copies them after init, see the change): a hot call such as `track` pays
// for no forwarding wrapper and no arguments array.
function direct() {
  ({ identify, group, track, page, showSurvey, showChecklist, openHelp, hide, complete, reset, optOut, optIn, on, off, setBusy, why, debug } = wasm);
}
