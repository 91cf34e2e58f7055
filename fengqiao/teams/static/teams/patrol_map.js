/* A patrol's grids and route on a small Leaflet map (no base map: the outlines only). */
(function () {
  "use strict";
  function init() {
    var el = document.getElementById("patrol-map");
    var data = document.getElementById("patrol-map-data");
    if (!el || !data || typeof L === "undefined") { return; }
    var d = JSON.parse(data.textContent);
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: false });
    el.classList.add("no-tiles");
    var all = L.featureGroup().addTo(map);
    L.geoJSON({ type: "FeatureCollection", features: d.grids }, {
      style: { color: "#1d4ed8", weight: 1.5, fillColor: "#1d4ed8", fillOpacity: 0.12 },
      onEachFeature: function (f, lyr) { lyr.bindTooltip(String(f.properties.name), { direction: "center", className: "region-label" }); }
    }).addTo(all);
    if (d.route) {
      L.geoJSON(d.route, {
        style: { color: "#b42318", weight: 4 },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 5, color: "#b42318", fillOpacity: 0.9 }); }
      }).addTo(all);
    }
    var bounds = all.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [16, 16], maxZoom: 17 }); } else { map.setView([35, 105], 4); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
