/*! Touchpoint loader: defines window.Touchpoint at once and queues calls until the widget has loaded. */
(function (w, d) {
  var s = d.currentScript, old = w.Touchpoint;
  if (old && old.loaded) return;
  var api = ["identify", "track", "showSurvey", "complete", "on", "off"];
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
  import(entry)
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
