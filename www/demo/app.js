// The demo host app's own script: what a product team writes around Touchpoint.
// (Touchpoint itself is the one <script src="/touchpoint.js"> tag in <head>.)
(function () {
  var status = document.querySelector("[data-status]");
  function say(text) { if (status) status.textContent = text; }

  Touchpoint.identify("user_42", { name: "Dana Rivera", plan: "trial", team_size: 4, role: "admin" });

  document.querySelectorAll("[data-track]").forEach(function (b) {
    b.addEventListener("click", function () {
      var props = b.dataset.props ? JSON.parse(b.dataset.props) : {};
      Touchpoint.track(b.dataset.track, props);
      say("Tracked “" + b.dataset.track + "”.");
    });
  });
  document.querySelectorAll("[data-feedback]").forEach(function (b) {
    b.addEventListener("click", function () { Touchpoint.showSurvey("nps"); });
  });

  // Ask for an NPS score a moment after the projects page opens (?autoshow=0 turns it off).
  var params = new URLSearchParams(location.search);
  if (location.pathname === "/" && params.get("autoshow") !== "0") {
    setTimeout(function () { Touchpoint.showSurvey("nps"); }, 1500);
  }
})();
