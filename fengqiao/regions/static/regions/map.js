/* Region maps: draws the GeoJSON of /regions/<id>/geojson with Leaflet.
   No base map unless the page gives a tile URL (closed networks have none). */
(function () {
  "use strict";
  var STYLES = {
    parent: { color: "#616e7c", weight: 1.5, dashArray: "6 4", fill: false },
    self: { color: "#b42318", weight: 3, fillColor: "#b42318", fillOpacity: 0.08 },
    child: { color: "#1d4ed8", weight: 1.5, fillColor: "#1d4ed8", fillOpacity: 0.18 },
    sibling: { color: "#9aa5b1", weight: 1, fillColor: "#cbd2d9", fillOpacity: 0.15 }
  };
  var PALETTE = ["#1d4ed8", "#15803d", "#b45309", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f", "#9a3412"];

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function draw(el) {
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!el.dataset.tileUrl });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }
    fetch(el.dataset.geojsonUrl, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (data) {
        var ORDER = { parent: 0, sibling: 1, self: 2, child: 3 };
        data.features.sort(function (a, b) { return (ORDER[a.properties.role] || 0) - (ORDER[b.properties.role] || 0); });
        var childIndex = 0;
        // the region's own name would sit on top of a child's label: with children, it shows on hover only
        var hasChildren = data.features.some(function (f) { return f.properties.role === "child"; });
        var layer = L.geoJSON(data, {
          style: function (feature) {
            var role = feature.properties.role;
            var style = Object.assign({}, STYLES[role] || STYLES.child);
            if (role === "child") {
              var colour = PALETTE[childIndex++ % PALETTE.length];
              style.color = colour;
              style.fillColor = colour;
            }
            return style;
          },
          onEachFeature: function (feature, lyr) {
            var p = feature.properties;
            var html = "<strong>" + escapeHtml(p.name) + "</strong><br><code>" + escapeHtml(p.code) + "</code> · " +
              escapeHtml(p.level_label);
            if (p.role !== "self") { html += '<br><a href="' + escapeHtml(p.url) + '">' + escapeHtml(el.dataset.openLabel || "Open") + "</a>"; }
            lyr.bindPopup(html);
            if (p.role !== "parent") {
              var permanent = data.features.length <= 40 && !(p.role === "self" && hasChildren);
              lyr.bindTooltip(escapeHtml(p.name), { permanent: permanent, direction: "center", className: "region-label" });
            }
          }
        }).addTo(map);
        if (data.features.length) {
          var own = data.features.filter(function (f) { return f.properties.role === "self" || f.properties.role === "child"; });
          var bounds = own.length ? L.geoJSON({ type: "FeatureCollection", features: own }).getBounds() : layer.getBounds();
          var hasSiblings = data.features.some(function (f) { return f.properties.role === "sibling"; });
          map.fitBounds(hasSiblings ? bounds.pad(0.6) : bounds, { padding: [16, 16] });
        } else {
          map.setView([35, 105], 4);
          var empty = el.parentNode.querySelector(".map-empty");
          if (empty) { empty.hidden = false; }
        }
      })
      .catch(function () {
        map.setView([35, 105], 4);
        var failed = el.parentNode.querySelector(".map-failed");
        if (failed) { failed.hidden = false; }
      });
  }

  function init() {
    if (typeof L === "undefined") { return; }
    document.querySelectorAll(".map[data-geojson-url]").forEach(draw);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
