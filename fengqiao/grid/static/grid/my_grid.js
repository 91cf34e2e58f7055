/* "My grid": the grid boundary and its households as dots coloured by tier (Leaflet, no tiles unless configured). */
(function () {
  "use strict";
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function init() {
    var el = document.getElementById("grid-map");
    var source = document.getElementById("grid-map-data");
    if (!el || !source || typeof L === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!el.dataset.tileUrl });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }
    // the view first: Leaflet's vector renderer needs it before any layer is added
    var outline = data.boundary ? L.geoJSON(data.boundary, {
      style: { color: "#b42318", weight: 2, fillColor: "#b42318", fillOpacity: 0.05 }
    }) : null;
    var bounds = outline ? outline.getBounds() : null;
    data.households.forEach(function (h) {
      var here = L.latLng(h.lat, h.lng);
      bounds = bounds ? bounds.extend(here) : L.latLngBounds(here, here);
    });
    if (bounds && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [12, 12], maxZoom: 18 });
    } else {
      map.setView([35, 105], 4);
    }
    if (outline) { outline.addTo(map); }
    data.households.forEach(function (h) {
      var colour = data.colours[h.tier] || data.colours[""];
      var marker = L.circleMarker([h.lat, h.lng], {
        radius: h.tier === "red" ? 8 : 6, color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 0.95,
        className: "household-dot tier-dot-" + (h.tier || "none")
      }).addTo(map);
      var url = data.household_url.replace(/0\/$/, h.id + "/");
      marker.bindPopup("<strong>" + escapeHtml(h.number) + "</strong><br>" + escapeHtml(data.labels[h.tier] || "") +
        '<br><a href="' + escapeHtml(url) + '">' + escapeHtml(el.dataset.openLabel || "Open") + "</a>");
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
