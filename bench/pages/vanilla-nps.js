/* The floor: a hand-written NPS popover, what the least code could do for Touchpoint's first card.
   Same definition (GET /v1/surveys/{id} from the collector), same look (Touchpoint's card CSS, 11 score
   buttons in a shadow root), same events (survey_shown, survey_answered, track) and the same delivery
   contract in its simplest form: each event is written to localStorage before it is sent, sent in
   batches of at most 100 a second later, and removed once the collector has answered. */
(function (w, d) {
  var script = d.currentScript, key = script.dataset.key, endpoint = script.dataset.endpoint;
  var Q = "vnps:" + key + ":q:", anon = localStorage.getItem("vnps:anon") || crypto.randomUUID();
  localStorage.setItem("vnps:anon", anon);
  var timer = 0, sending = false;
  var CSS = ".card{position:relative;width:360px;padding:20px 20px 16px;background:#fff;border:1px solid #e3e5ec;" +
    "border-radius:12px;box-shadow:0 12px 32px rgba(20,24,40,.16);font:14px/1.45 system-ui,sans-serif;color:#1f2330;" +
    "animation:in 180ms ease-out}@keyframes in{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}" +
    ".q{margin:0 28px 12px 0;font-size:15px;font-weight:600}.scores{display:grid;grid-template-columns:repeat(11,1fr);gap:4px}" +
    "button{font:inherit;cursor:pointer}.score{height:36px;padding:0;border:1px solid #e3e5ec;border-radius:6px;" +
    "background:#f7f8fb;font-weight:600}.labels{display:flex;justify-content:space-between;margin-top:6px;font-size:12px;" +
    "color:#646b7d}.close{position:absolute;top:8px;right:8px;width:32px;height:32px;border:0;background:none;font-size:20px}";

  function record(type, fields) {
    var ev = Object.assign({ id: crypto.randomUUID(), type: type, ts: Date.now(), anonymous_id: anon, url: location.href }, fields);
    localStorage.setItem(Q + ev.id, JSON.stringify(ev));
    if (!timer && !sending) timer = setTimeout(flush, 1000);
    return ev.id;
  }
  function flush() {
    timer = 0;
    var keys = [];
    for (var i = 0; i < localStorage.length && keys.length < 100; i++) {
      var k = localStorage.key(i);
      if (k.indexOf(Q) === 0) keys.push(k);
    }
    if (!keys.length) return;
    sending = true;
    var events = keys.map(function (k) { return JSON.parse(localStorage.getItem(k)); });
    fetch(endpoint + "/v1/events", { method: "POST", headers: { "content-type": "application/json" },
                                     body: JSON.stringify({ key: key, events: events }) })
      .then(function (r) { if (r.ok) keys.forEach(function (k) { localStorage.removeItem(k); }); })
      .catch(function () {})
      .then(function () { sending = false; timer = setTimeout(flush, keys.length === 100 ? 0 : 1000); });
  }
  function show(id) {
    return fetch(endpoint + "/v1/surveys/" + encodeURIComponent(id)).then(function (r) { return r.json(); }).then(function (def) {
      var q = def.questions[0], rid = crypto.randomUUID(), ids = { survey_id: id, response_id: rid };
      var host = d.createElement("div");
      host.style.cssText = "position:fixed!important;right:16px!important;bottom:16px!important;z-index:2147483647!important";
      var root = host.attachShadow({ mode: "open" });
      root.innerHTML = "<style>" + CSS + "</style><div class=card role=dialog aria-labelledby=q><button class=close " +
        "aria-label='Close survey'>×</button><p class=q id=q></p><div class=scores></div><div class=labels><span></span><span></span></div></div>";
      root.getElementById("q").textContent = q.text;
      var labels = root.querySelectorAll(".labels span");
      labels[0].textContent = q.low_label || ""; labels[1].textContent = q.high_label || "";
      for (var n = 0; n <= 10; n++) {
        var b = d.createElement("button");
        b.className = "score"; b.type = "button"; b.textContent = n; b.setAttribute("aria-label", n + " out of 10");
        b.onclick = answer.bind(null, n);
        root.querySelector(".scores").appendChild(b);
      }
      root.querySelector(".close").onclick = function () { record("survey_dismissed", Object.assign({ question_id: q.id }, ids)); host.remove(); };
      function answer(n) {
        record("survey_answered", Object.assign({ question_id: q.id, value: n }, ids));
        root.querySelector(".card").lastChild.previousSibling.replaceWith(d.createTextNode("Thank you!"));
      }
      d.body.appendChild(host);
      record("survey_shown", ids);
      return true;
    });
  }
  var queued = (w.VanillaNps && w.VanillaNps.q) || [];
  w.VanillaNps = { show: show, track: function (name, props) { return record("track", { name: name, props: props || {} }); } };
  queued.forEach(function (c) { w.VanillaNps[c[0]].apply(null, c[1]); });
})(window, document);
