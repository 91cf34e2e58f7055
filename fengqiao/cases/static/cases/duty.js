/* Duty console: mark alerts that arrived since the page was opened, and show the number of
   alerts waiting in the browser tab's title, e.g. "(3) 值班台". No sound. */
(function () {
  "use strict";
  var seen = null;

  function update() {
    var feed = document.getElementById("duty-feed");
    if (!feed) { return; }
    var inner = feed.querySelector(".duty-feed");
    var count = inner ? parseInt(inner.dataset.count || "0", 10) : 0;
    var base = feed.dataset.title || document.title;
    document.title = count > 0 ? "(" + count + ") " + base : base;
    var rows = feed.querySelectorAll("tr[data-alert]");
    var now = {};
    rows.forEach(function (row) {
      var id = row.dataset.alert;
      now[id] = true;
      if (seen !== null && !seen[id]) { row.classList.add("fresh"); }
      if (seen !== null && seen[id] === "fresh") { row.classList.add("fresh"); }
    });
    if (seen === null) { seen = {}; }
    rows.forEach(function (row) {
      var id = row.dataset.alert;
      seen[id] = row.classList.contains("fresh") ? "fresh" : (seen[id] || true);
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "duty-feed") { update(); }
  });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", update); } else { update(); }
})();
