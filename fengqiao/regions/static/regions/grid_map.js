/* The district grid map: grids coloured by open cases (legend), street and community outlines,
   households by tier when available; a click on a grid loads its panel. Leaflet, no base map
   unless a tile URL is configured. */
(function () {
  "use strict";
  var STEPS = [
    { min: 0, max: 0, color: "#e5e7eb" },
    { min: 1, max: 2, color: "#fde68a" },
    { min: 3, max: 5, color: "#fbbf24" },
    { min: 6, max: 10, color: "#f97316" },
    { min: 11, max: Infinity, color: "#b91c1c" }
  ];
  var TIER_COLORS = { red: "#dc2626", orange: "#f97316", yellow: "#eab308", green: "#16a34a" };

  function colorFor(n) {
    if (n === null || n === undefined) { return "#93c5fd"; }
    for (var i = 0; i < STEPS.length; i++) { if (n >= STEPS[i].min && n <= STEPS[i].max) { return STEPS[i].color; } }
    return STEPS[STEPS.length - 1].color;
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } }).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    });
  }

  function legend(map, labels, showCases, showHouseholds) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "gm-legend");
      var html = "";
      if (showCases) {
        html += "<strong>" + esc(labels.legend) + "</strong>";
        STEPS.forEach(function (s) {
          var text = s.max === 0 ? labels.noCases : (s.max === Infinity ? "> " + (s.min - 1) : s.min + "–" + s.max);
          html += '<div><i style="background:' + s.color + '"></i>' + esc(text) + "</div>";
        });
      }
      if (showHouseholds) {
        html += "<strong>" + esc(labels.households) + "</strong>";
        Object.keys(TIER_COLORS).forEach(function (t) {
          html += '<div><i class="dot" style="background:' + TIER_COLORS[t] + '"></i>' + esc(labels.tiers[t]) + "</div>";
        });
      }
      div.innerHTML = html;
      return div;
    };
    if (showCases || showHouseholds) { control.addTo(map); }
  }

  function draw(el) {
    var labels = JSON.parse(document.getElementById("grid-map-labels").textContent);
    var panel = document.getElementById("grid-panel");
    var showCases = el.dataset.showCases === "1";
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!el.dataset.tileUrl });
    var dots = L.canvas({ padding: 0.2 });  // many households: one canvas, not an SVG node each
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }
    var overlays = {};
    var layers = L.control.layers(null, overlays, { collapsed: false, position: "topright" });
    var selected = null;

    function openPanel(id, layer) {
      if (selected) { selected.setStyle({ weight: 1, color: "#475569" }); }
      selected = layer;
      layer.setStyle({ weight: 3, color: "#1d4ed8" });
      layer.bringToFront();
      panel.innerHTML = '<p class="muted">' + esc(labels.loading) + "</p>";
      fetch(el.dataset.panelUrl.replace("/0/", "/" + id + "/"), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (html) { panel.innerHTML = html; })
        .catch(function () { panel.innerHTML = '<p class="errors">' + esc(labels.failed) + "</p>"; });
    }

    var grids = getJSON(el.dataset.gridsUrl).then(function (data) {
      var layer = L.geoJSON(data, {
        style: function (f) {
          return { color: "#475569", weight: 1, fillColor: colorFor(f.properties.open), fillOpacity: 0.75 };
        },
        onEachFeature: function (f, lyr) {
          var p = f.properties;
          var tip = "<strong>" + esc(p.name) + "</strong> · " + esc(p.community);
          if (p.open !== null) { tip += "<br>" + p.open + " " + esc(labels.open) + (p.overdue ? " · " + p.overdue + " " + esc(labels.overdue) : ""); }
          lyr.bindTooltip(tip, { sticky: true });
          lyr.on("click", function () { openPanel(p.id, lyr); });
        }
      }).addTo(map);
      layers.addOverlay(layer, labels.grids);
      if (data.features.length) {
        map.fitBounds(layer.getBounds(), { padding: [12, 12] });
      } else {
        map.setView([35, 105], 4);
        var empty = el.parentNode.querySelector(".map-empty");
        if (empty) { empty.hidden = false; }
      }
      return layer;
    });

    var areas = getJSON(el.dataset.areasUrl).then(function (data) {
      var layer = L.geoJSON(data, {
        interactive: false,
        style: function (f) {
          return f.properties.level === 4
            ? { color: "#111827", weight: 3, fill: false }
            : { color: "#1f2937", weight: 1.6, dashArray: "5 4", fill: false };
        }
      });
      return layer;
    });

    Promise.all([grids, areas]).then(function (result) {
      result[1].addTo(map);
      layers.addOverlay(result[1], labels.areas);
      if (el.dataset.householdsUrl) {
        return getJSON(el.dataset.householdsUrl).then(function (data) {
          var layer = L.geoJSON(data, {
            pointToLayer: function (f, latlng) {
              return L.circleMarker(latlng, {
                renderer: dots, radius: 4, weight: 1, color: "#fff", fillOpacity: 0.95, fillColor: TIER_COLORS[f.properties.tier] || "#64748b"
              });
            }
          }).addTo(map);
          layers.addOverlay(layer, labels.households);
        });
      }
      return null;
    }).catch(function () {
      var failed = el.parentNode.querySelector(".map-failed");
      if (failed) { failed.hidden = false; }
    }).then(function () {
      layers.addTo(map);
      legend(map, labels, showCases, !!el.dataset.householdsUrl);
    });
  }

  function init() {
    if (typeof L === "undefined") { return; }
    var el = document.getElementById("grid-map");
    if (el) { draw(el); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
