// The npm entry of Touchpoint: loads the wasm once and forwards calls to it.
// Calls made after init() but before the wasm is ready wait for it, in order.
import loadWasm, * as wasm from "./touchpoint.js";

let ready = null;
let loaded = false;

// `early` is the loader's head start: `{ wasm: Promise<Response>, surveys: { id: Promise<Response> } }`.
export function init(options, early) {
  if (!ready) {
    ready = loadWasm({ module_or_path: (early && early.wasm) || new URL("./touchpoint_bg.wasm", import.meta.url) })
      .then(() => {
        loaded = true;
        return wasm.boot(options, early && early.surveys);
      })
      .catch((e) => {
        console.error("[touchpoint] could not load the widget:", e);
        return false;
      });
  }
  return ready;
}

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

export const identify = forward("identify", (...a) => wasm.identify(...a));
export const group = forward("group", (...a) => wasm.group(...a));
export const track = forward("track", (...a) => wasm.track(...a));
export const page = forward("page", (...a) => wasm.page(...a));
export const showSurvey = forward("showSurvey", (...a) => wasm.showSurvey(...a));
export const showChecklist = forward("showChecklist", (...a) => wasm.showChecklist(...a));
export const openHelp = forward("openHelp", (...a) => wasm.openHelp(...a));
export const hide = forward("hide", (...a) => wasm.hide(...a));
export const complete = forward("complete", (...a) => wasm.complete(...a));
export const reset = forward("reset", (...a) => wasm.reset(...a));
export const optOut = forward("optOut", (...a) => wasm.optOut(...a));
export const optIn = forward("optIn", (...a) => wasm.optIn(...a));
export const on = forward("on", (...a) => wasm.on(...a));
export const off = forward("off", (...a) => wasm.off(...a));
export const setBusy = forward("setBusy", (...a) => wasm.setBusy(...a));
export const why = forward("why", (...a) => wasm.why(...a));
export const debug = forward("debug", (...a) => wasm.debug(...a));
