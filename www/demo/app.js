// The demo host app's own script: what a product team writes around Touchpoint.
// (Touchpoint itself is the one <script src="/touchpoint.js"> tag in <head>.)
(function () {
  var status = document.querySelector("[data-status]");
  function say(text) { if (status) status.textContent = text; }

  // ?user=…&team_size=… shows the app as another customer (e.g. team_size=200 for the large-organisation checklist).
  var params = new URLSearchParams(location.search);
  Touchpoint.identify(params.get("user") || "user_42", {
    name: "Dana Rivera", email: "dana@northwind.test", plan: "trial", role: "admin",
    team_size: Number(params.get("team_size") || 4),
  });
  // The customer account the user works in (?account=… to see another); its health shows on /dashboard.
  Touchpoint.group(params.get("account") || "northwind", {
    name: "Northwind", plan: "trial", seats: Number(params.get("team_size") || 4), owner: "sam@acme.example",
  });
  Touchpoint.on("cta", function (e) {
    if (e.name === "bookOnboardingCall") {
      say("Opening the booking page…");
      Touchpoint.complete(e.itemId);
    }
  });

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

  // No code here decides when the NPS survey appears: the collector's targeting.json does
  // (on the projects page, 1.5 s after load, at most once per 90 days per user).
})();
