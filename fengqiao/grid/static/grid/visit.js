/* The visit form: "Use my location" fills the hidden longitude/latitude from the phone (optional). */
(function () {
  "use strict";
  function init() {
    var button = document.getElementById("locate-button");
    var status = document.getElementById("locate-status");
    if (!button || !status) { return; }
    var lng = document.querySelector("input[name=lng]");
    var lat = document.querySelector("input[name=lat]");
    button.addEventListener("click", function () {
      if (!navigator.geolocation) { status.textContent = button.dataset.unsupported; return; }
      status.textContent = button.dataset.locating;
      navigator.geolocation.getCurrentPosition(function (pos) {
        lng.value = pos.coords.longitude.toFixed(6);
        lat.value = pos.coords.latitude.toFixed(6);
        status.textContent = button.dataset.found + " (" + lat.value + ", " + lng.value + ")";
      }, function () {
        status.textContent = button.dataset.failed;
      }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
