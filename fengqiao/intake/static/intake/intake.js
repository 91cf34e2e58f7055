/* Resident pages: everything works without this script; it adds the map, the counters and conveniences. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // --- copy the private link ------------------------------------------------------------
  $all("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input) return;
      var label = button.textContent;
      function done() {
        button.textContent = button.getAttribute("data-copied") || label;
        setTimeout(function () { button.textContent = label; }, 2000);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.focus();
        input.select();
        try { if (document.execCommand("copy")) done(); } catch (e) { /* the text stays selected */ }
      }
    });
  });

  // --- photos: a large "add photos" button, the chosen files listed, warnings before sending ----
  $all(".file-pick").forEach(function (pick) {
    var input = $("input[type=file]", pick);
    var button = $(".file-button", pick);
    var list = pick.parentNode ? $(".file-list", pick.parentNode) : null;
    if (!input || !button || !list) return;
    var limits = pick.closest("[data-max-photos]");
    var maxPhotos = parseInt(limits ? limits.getAttribute("data-max-photos") : "3", 10);
    var maxBytes = parseInt(limits ? limits.getAttribute("data-max-mb") : "10", 10) * 1024 * 1024;
    pick.classList.add("enhanced");
    button.hidden = false;
    function render() {
      list.innerHTML = "";
      var files = Array.prototype.slice.call(input.files || []);
      if (!files.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = list.getAttribute("data-none") || "";
        list.appendChild(none);
      }
      files.forEach(function (f, i) {
        var li = document.createElement("li");
        li.textContent = "✓ " + f.name + " (" + (f.size / 1048576).toFixed(1) + " MB)";
        if (f.size > maxBytes || i >= maxPhotos || (f.type && f.type.indexOf("image/") !== 0)) li.className = "bad";
        list.appendChild(li);
      });
    }
    input.addEventListener("change", render);
    render();
  });

  var form = document.getElementById("report-form");
  if (!form) return;

  var summary = document.getElementById("error-summary");
  if (summary) {
    var firstError = $(".has-error", form);
    (firstError || summary).scrollIntoView({ block: "start" });
    summary.focus({ preventScroll: true });
  }

  // --- category: show only the chosen category's extra fields ------------------------------
  function showCategory() {
    var checked = $("input[name=category]:checked", form);
    var value = checked ? checked.value : "";
    $all("[data-category]", form).forEach(function (el) {
      var on = el.getAttribute("data-category") === value;
      el.hidden = !on;
      if (el.tagName === "FIELDSET") el.disabled = !on;
    });
  }
  $all("input[name=category]", form).forEach(function (radio) { radio.addEventListener("change", showCategory); });
  showCategory();

  // --- description counter ------------------------------------------------------------------
  $all("[data-counter-for]", form).forEach(function (counter) {
    var area = document.getElementById(counter.getAttribute("data-counter-for"));
    var count = $(".count", counter);
    if (!area || !count) return;
    var max = parseInt(area.getAttribute("maxlength") || "0", 10);
    function update() {
      count.textContent = area.value.length;
      counter.classList.toggle("bad", max > 0 && area.value.length >= max);
    }
    area.addEventListener("input", update);
    update();
  });

  // --- anonymous: name and phone are not sent -------------------------------------------------
  var anonymous = $("input[name=anonymous]", form);
  var who = document.getElementById("who-fields");
  function toggleWho() {
    if (!anonymous || !who) return;
    who.hidden = anonymous.checked;
    $all("input", who).forEach(function (input) { input.disabled = anonymous.checked; });
  }
  if (anonymous) anonymous.addEventListener("change", toggleWho);
  toggleWho();

  // --- location: tap on the map, or the phone's position --------------------------------------
  var lng = $("input[name=lng]", form);
  var lat = $("input[name=lat]", form);
  var status = document.getElementById("point-status");
  var clearButton = document.getElementById("clear-point");
  var geoButton = document.getElementById("geo-button");
  var map = null;
  var marker = null;

  function say(text, bad) {
    if (!status) return;
    status.textContent = text || "";
    status.classList.toggle("bad", !!bad);
  }
  function setPoint(latlng, pan) {
    lng.value = latlng.lng.toFixed(6);
    lat.value = latlng.lat.toFixed(6);
    if (map && window.L) {
      if (marker) marker.setLatLng(latlng);
      else marker = L.circleMarker(latlng, { radius: 10, color: "#fff", weight: 3, fillColor: "#1d4ed8", fillOpacity: 1 }).addTo(map);
      if (pan) map.setView(latlng, Math.max(map.getZoom(), 16));
    }
    if (clearButton) clearButton.hidden = false;
    say(status ? status.getAttribute("data-chosen") : "");
  }
  function clearPoint() {
    lng.value = "";
    lat.value = "";
    if (marker && map) { map.removeLayer(marker); marker = null; }
    if (clearButton) clearButton.hidden = true;
    say("");
  }
  if (clearButton) clearButton.addEventListener("click", clearPoint);

  var dataEl = document.getElementById("map-data");
  if (dataEl && window.L) {
    var features = JSON.parse(dataEl.textContent);
    var tileEl = document.getElementById("tile-url");
    var tileUrl = tileEl ? JSON.parse(tileEl.textContent) : "";
    var attrEl = document.getElementById("tile-attribution");
    map = L.map("report-map", { zoomControl: true, attributionControl: !!tileUrl, tap: true });
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: attrEl ? JSON.parse(attrEl.textContent) : "" }).addTo(map);
    }
    var layer = L.geoJSON(features, {
      style: function (feature) {
        var community = feature.properties && feature.properties.kind === "community";
        return community
          ? { color: "#b42318", weight: 3, fillColor: "#fdecea", fillOpacity: tileUrl ? 0.1 : 0.6 }
          : { color: "#616e7c", weight: 1, dashArray: "4 4", fill: true, fillOpacity: 0 };
      },
      onEachFeature: function (feature, lyr) {
        if (feature.properties && feature.properties.kind === "grid" && feature.properties.name) {
          lyr.bindTooltip(feature.properties.name, { sticky: true, direction: "top" });
        }
      }
    }).addTo(map);
    map.fitBounds(layer.getBounds(), { padding: [12, 12] });
    map.on("click", function (e) { setPoint(e.latlng, false); });
    if (lng.value && lat.value) setPoint(L.latLng(parseFloat(lat.value), parseFloat(lng.value)), false);
  } else if (lng.value && lat.value && clearButton) {
    clearButton.hidden = false;
  }

  if (geoButton && navigator.geolocation) {
    geoButton.hidden = false;
    geoButton.addEventListener("click", function () {
      say(status ? status.getAttribute("data-geo-wait") : "");
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          var latlng = window.L ? L.latLng(pos.coords.latitude, pos.coords.longitude)
            : { lat: pos.coords.latitude, lng: pos.coords.longitude };
          setPoint(latlng, true);
        },
        function () { say(status ? status.getAttribute("data-geo-failed") : "", true); },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }

  // --- one tap, one report (the server is idempotent as well) ---------------------------------
  var submit = document.getElementById("submit-button");
  if (submit) {
    var label = submit.textContent;
    form.addEventListener("submit", function () {
      setTimeout(function () {
        submit.disabled = true;
        submit.textContent = submit.getAttribute("data-sending") || label;
      }, 0);
    });
    window.addEventListener("pageshow", function () { submit.disabled = false; submit.textContent = label; });
  }
})();
