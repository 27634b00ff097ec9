/*! Touchpoint loader: defines window.Touchpoint at once and queues calls until the widget has loaded. */
(function (w, d) {
  var s = d.currentScript, old = w.Touchpoint;
  if (old && old.loaded) return;
  var api = ["identify", "group", "track", "page", "showSurvey", "showChecklist", "openHelp", "hide", "complete", "reset", "optOut", "optIn", "on", "off", "setBusy", "why", "debug"];
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
  // Load after the page's own work: when the browser is idle (or soon, where it cannot say).
  var idle = w.requestIdleCallback || function (f) { return setTimeout(f, 1); };
  new Promise(function (r) { idle(r, { timeout: 2000 }); })
    .then(function () { return import(entry); })
    .then(function (m) {
      return m.init(opts).then(function () {
        api.forEach(function (n) { tp[n] = m[n]; });
        tp.loaded = true;
        delete tp.q;
        q.forEach(function (c) {
          var out = m[c[0]].apply(null, c[1]);
          if (c[2]) c[2](out);
        });
      });
    })
    .catch(function (e) { console.error("[touchpoint] could not load " + entry, e); });
})(window, document);
