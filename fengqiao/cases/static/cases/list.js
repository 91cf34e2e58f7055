/* Case list: on a phone the filters are folded away unless one is in use. */
(function () {
  "use strict";
  function init() {
    var panel = document.getElementById("filter-panel");
    if (panel && !panel.hasAttribute("data-active") && window.matchMedia("(max-width: 760px)").matches) { panel.open = false; }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
