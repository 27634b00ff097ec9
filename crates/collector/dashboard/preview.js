// The editor's live preview: the real widget (the loader this collector
// serves), pointed at /preview/<key>/<token>, which serves the survey's saved
// draft and stores no event. The editor frames this page with
// #endpoint=…&key=…&survey=…[&locale=…] and reloads it after each saved change.
"use strict";
(function () {
  const params = new URLSearchParams(location.hash.slice(1));
  const endpoint = params.get("endpoint");
  const survey = params.get("survey");
  const status = document.getElementById("preview-status");
  const log = document.getElementById("preview-log");
  function say(text) {
    const li = document.createElement("li");
    li.textContent = text;
    log.append(li);
  }
  if (!endpoint || !survey) {
    status.textContent = "Nothing to preview.";
    return;
  }
  // The widget's stub: calls made before it loads are queued and replayed in order.
  const names = ["showSurvey", "on"];
  const tp = (window.Touchpoint = { q: [] });
  names.forEach((n) => (tp[n] = function () { tp.q.push([n, arguments]); }));
  tp.on("survey:shown", () => {
    status.textContent = `Showing the draft of "${survey}". Answer it to follow its path.`;
  });
  tp.on("survey:completed", (e) => {
    const actions = (e.actions || []).map((a) => Object.values(a).join(" ")).join(", ");
    say(`Reached ending "${e.endingId}"${actions ? ` with actions: ${actions}` : ""}.`);
  });
  tp.on("survey:dismissed", (e) => say(`Closed at question "${e.questionId}".`));
  // Each answer as the widget posts it (to the preview endpoint, which stores nothing), so the
  // log shows the path a showing takes: which question was answered how, then the ending.
  const send = window.fetch.bind(window);
  window.fetch = function (input, init) {
    try {
      const url = typeof input === "string" ? input : input.url;
      if (url.endsWith("/v1/events")) {
        // The widget posts a Request; a copy of it is read here, the original goes on untouched.
        const body = init && typeof init.body === "string" ? Promise.resolve(init.body)
          : typeof input === "string" ? Promise.resolve("{}") : input.clone().text();
        body.then((text) => {
          for (const e of JSON.parse(text).events || []) {
            if (e.type === "survey_answered") say(`Answered "${e.question_id}": ${JSON.stringify(e.value)}`);
          }
        }).catch(() => {
          /* not a batch of ours: nothing to log */
        });
      }
    } catch (_) {
      /* never in the way of the widget's own request */
    }
    return send(input, init);
  };
  tp.showSurvey(survey);
  const script = document.createElement("script");
  script.src = "/touchpoint.js";
  // A key of its own, so the preview's local queue and history never mix with the live widget's.
  script.dataset.key = `preview_${params.get("key") || ""}`;
  script.dataset.endpoint = location.origin + endpoint;
  if (params.get("locale")) script.dataset.locale = params.get("locale");
  script.async = true;
  document.head.append(script);
})();
