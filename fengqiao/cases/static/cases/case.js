/* Case page: the small map, reply templates, and keeping typed text across a reload. */
(function () {
  "use strict";

  function drawMap() {
    var el = document.getElementById("case-map");
    if (!el || typeof L === "undefined") { return; }
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!el.dataset.tileUrl, scrollWheelZoom: false });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }
    // set the view first: Leaflet cannot draw vector layers on a map without one
    var script = document.getElementById("case-boundary");
    var boundary = script ? JSON.parse(script.textContent) : null;
    var outline = boundary ? L.geoJSON(boundary, { style: { color: "#1d4ed8", weight: 2, fillColor: "#1d4ed8", fillOpacity: 0.08 } }) : null;
    var lng = parseFloat(el.dataset.lng), lat = parseFloat(el.dataset.lat);
    var point = !isNaN(lng) && !isNaN(lat) ? L.latLng(lat, lng) : null;
    var bounds = outline ? outline.getBounds() : null;
    if (bounds && bounds.isValid()) {
      if (point) { bounds.extend(point); }
      map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 });
    } else if (point) {
      map.setView(point, 16);
    } else {
      map.setView([35, 105], 4);
    }
    if (outline) { outline.addTo(map); }
    if (point) {
      L.circleMarker(point, { radius: 8, color: "#b42318", weight: 3, fillColor: "#b42318", fillOpacity: 0.6 }).addTo(map);
    }
  }

  function insertAtCursor(area, text) {
    var start = area.selectionStart || 0, end = area.selectionEnd || 0, value = area.value;
    if (document.activeElement !== area) { start = end = value.length; }
    var glue = start > 0 && value.charAt(start - 1) !== "\n" ? "\n" : "";
    area.value = value.slice(0, start) + glue + text + value.slice(end);
    area.focus();
    var at = start + glue.length + text.length;
    area.setSelectionRange(at, at);
  }

  // remember which textarea was used last in each form, so a template goes where the user is typing
  var lastArea = {};
  document.addEventListener("focusin", function (event) {
    var t = event.target;
    if (t.tagName === "TEXTAREA" && t.form && t.form.dataset.draft) { lastArea[t.form.dataset.draft] = t; }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.tpl");
    if (button) {
      var form = button.closest("form");
      var box = button.closest(".templates");
      var area = (form && lastArea[form.dataset.draft]) || document.getElementById("id_" + box.dataset.target);
      if (area) { insertAtCursor(area, button.dataset.text); }
      return;
    }
    var reload = event.target.closest("a[data-keep-draft]");
    if (reload) {
      var f = reload.closest("form");
      if (f) {
        var saved = {};
        f.querySelectorAll("textarea, input[type=text], input[type=number], input[type=date], select").forEach(function (input) {
          if (input.name && input.value) { saved[input.name] = input.value; }
        });
        try { sessionStorage.setItem("case-draft:" + f.dataset.draft, JSON.stringify(saved)); } catch (e) { /* private mode */ }
      }
    }
  });

  function restoreDrafts() {
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      var key = "case-draft:" + form.dataset.draft, raw = null;
      try { raw = sessionStorage.getItem(key); sessionStorage.removeItem(key); } catch (e) { return; }
      if (!raw) { return; }
      var saved = JSON.parse(raw);
      Object.keys(saved).forEach(function (name) {
        if (/expected_version$/.test(name)) { return; }  // the fresh page has the current version
        var input = form.elements[name];
        if (input && !input.value) { input.value = saved[name]; }
      });
      var details = form.closest("details");
      if (details) { details.open = true; details.scrollIntoView({ block: "nearest" }); }
    });
  }

  function init() { drawMap(); restoreDrafts(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
