/*! Touchpoint loader: defines window.Touchpoint at once and queues calls until the widget has loaded. */
(function (w, d) {
  var s = d.currentScript, old = w.Touchpoint;
  if (old && old.loaded) return;
  var api = ["identify", "group", "track", "page", "showSurvey", "showChecklist", "openHelp", "hide", "complete", "reset", "optOut", "optIn", "on", "off", "setBusy", "why", "debug", "replayDeadLetters"];
  var q = (old && old.q) || [];
  var tp = (w.Touchpoint = { q: q });
  api.forEach(function (n) {
    tp[n] = function () {
      var a = arguments;
      return new Promise(function (r) { q.push([n, a, r]); });
    };
  });
  var base = (s && s.src) || location.href;
  var data = (s && s.dataset) || {};
  var entry = data.pkg || new URL("pkg/index.js", base).href;
  // Every data-* attribute is an option (data-request-timeout-ms → requestTimeoutMs); the widget checks them.
  var opts = { endpoint: new URL(base).origin };
  for (var k in data) if (k !== "pkg") opts[k] = data[k];
  // What an attribute cannot carry (a beforeSend function) comes on the stub: { q: [], options: { … } }.
  var given = (old && old.options) || {};
  for (k in given) opts[k] = given[k];
  // Requests go out at once (they cost the page's main thread nothing); the code runs after the
  // page's own work (see `asked` below). Fetched alongside the
  // code: the wasm, and the definitions of surveys the page has asked for (the widget takes them
  // and fetches again any that failed).
  [entry, new URL("touchpoint.js", entry).href].forEach(function (href) {
    var l = d.createElement("link");
    l.rel = "modulepreload";
    l.href = href;
    d.head.appendChild(l);
  });
  // Each with a handler at once, so a failure is not reported as unhandled before its user awaits it.
  function get(url) {
    var p = fetch(url);
    p.catch(function () {});
    return p;
  }
  // The wasm is compiled as it streams in (off the main thread); if that is refused (e.g. a server
  // that does not say application/wasm) the widget gets the plain response and instantiates it. Not
  // when it would not compile anyway (a CSP without 'wasm-unsafe-eval'): the widget says why.
  var wasmUrl = new URL("touchpoint_bg.wasm", entry);
  var wasm = w.WebAssembly && WebAssembly.compileStreaming
    ? WebAssembly.compileStreaming(fetch(wasmUrl)).catch(function (e) {
        return e instanceof WebAssembly.CompileError ? Promise.reject(e) : get(wasmUrl);
      })
    : get(wasmUrl);
  wasm.catch(function () {});
  var early = { wasm: wasm, surveys: {} };
  var surveyApi = String(opts.endpoint).replace(/\/+$/, "") + "/v1/surveys/";
  // The card form (pre-checked by the collector) in the reader's languages, as the widget asks for it.
  var langs = opts.locale ? [opts.locale] : (navigator.languages || []);
  var form = "?form=card&key=" + encodeURIComponent(opts.key || "") + "&locale=" + encodeURIComponent(Array.prototype.join.call(langs, ","));
  function prefetch() {
    q.forEach(function (c) {
      var id = c[0] === "showSurvey" && c[1][0];
      if (typeof id === "string" && !early.surveys[id]) early.surveys[id] = get(surveyApi + encodeURIComponent(id) + form);
    });
  }
  prefetch();
  // From here on calls go to `m` (the widget, or what stands in for one that could not load), the
  // queued ones first, in order. `loaded` only when the widget runs.
  function start(m, ok) {
    api.forEach(function (n) { tp[n] = m[n]; });
    if (ok) tp.loaded = true;
    delete tp.q;
    q.forEach(function (c) {
      var f = m[c[0]], out = f && f.apply(null, c[1]);
      if (c[2]) c[2](out);
    });
  }
  // The widget's own code could not be loaded (a CDN error): every call does nothing, answering as the
  // widget does when it does nothing; the queue in storage is left for the next page. Said once.
  function failed(e) {
    var none = {};
    api.forEach(function (n) { none[n] = function () {}; });
    none.showSurvey = function () { return Promise.resolve(false); };
    none.on = function () { return false; };
    start(none, false);
    fetch(entry).then(function (r) { return r.ok ? "" : " (HTTP " + r.status + ")"; }, function () { return ""; })
      .then(function (status) {
        console.error("[touchpoint] could not load " + entry + status + ": " + e + ". Touchpoint does nothing on this page; unsent events stay queued for the next one.");
      });
  }
  // A page that asked for a survey gets it as soon as the page's own load is done (or 2 s have
  // passed: a page whose load never ends), not when the browser next idles, which can be tens of
  // milliseconds later; otherwise the widget waits for idle (also 2 s at most).
  var idle = w.requestIdleCallback || function (f) { return setTimeout(f, 1); };
  var asked = q.some(function (c) { return c[0] === "showSurvey"; });
  function loaded(f) {
    var go = function () { if (f) setTimeout(f); f = 0; };
    if (d.readyState === "complete") return go();
    w.addEventListener("load", go);
    setTimeout(go, 2000);
  }
  new Promise(function (r) { asked ? loaded(r) : idle(r, { timeout: 2000 }); })
    .then(function () {
      prefetch();
      return import(entry);
    })
    .then(function (m) {
      return m.init(opts, early).then(function (ok) { start(m, ok); });
    }, failed);
})(window, document);
