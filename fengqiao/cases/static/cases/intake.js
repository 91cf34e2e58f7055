/* Staff intake: proxy filing offers only service categories; tap the map to mark the place;
   the category's extra inputs are loaded by htmx (see the template). */
(function () {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function setupProxy() {
    var channel = document.getElementById("id_channel");
    var category = document.getElementById("id_category");
    var note = document.getElementById("proxy-note");
    var info = readJSON("category-info") || [];
    if (!channel || !category) { return; }
    var kinds = {};
    info.forEach(function (c) { kinds[String(c.pk)] = c.kind; });
    function apply() {
      var proxy = channel.value === "proxy";
      if (note) { note.hidden = !proxy; }
      Array.prototype.forEach.call(category.options, function (option) {
        if (!option.value) { return; }
        var hide = proxy && kinds[option.value] !== "service";
        option.hidden = hide;
        option.disabled = hide;
      });
      if (category.selectedOptions.length && category.selectedOptions[0].disabled) {
        category.value = "";
        category.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    channel.addEventListener("change", apply);
    apply();
  }

  function setupMap() {
    var el = document.getElementById("intake-map");
    if (!el || typeof L === "undefined") { return; }
    var shapes = readJSON("community-shapes") || {};
    var community = document.getElementById(el.dataset.communityInput);
    var lngInput = document.getElementById(el.dataset.lngInput);
    var latInput = document.getElementById(el.dataset.latInput);
    if (!el.dataset.tileUrl && !Object.keys(shapes).length) { el.hidden = true; return; }
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!el.dataset.tileUrl, scrollWheelZoom: false });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }
    var outline = null, marker = null;
    var wrapper = el.parentNode;
    function showCommunity() {
      if (outline) { map.removeLayer(outline); outline = null; }
      var shape = community && shapes[community.value];
      // without a base map an empty map says nothing: show it once a community is chosen
      if (!el.dataset.tileUrl) {
        wrapper.hidden = !shape;
        if (!shape) { return; }
        map.invalidateSize();
      }
      if (shape && shape.b) {
        outline = L.geoJSON(shape.b, { style: { color: "#1d4ed8", weight: 2, fillOpacity: 0.06 } });
        map.fitBounds(outline.getBounds(), { padding: [12, 12] });
        outline.addTo(map);
      } else if (shape && shape.c) {
        map.setView([shape.c[1], shape.c[0]], 15);
      } else {
        var all = [];
        Object.keys(shapes).forEach(function (k) { if (shapes[k].c) { all.push([shapes[k].c[1], shapes[k].c[0]]); } });
        if (all.length) { map.fitBounds(L.latLngBounds(all).pad(0.2)); } else { map.setView([35, 105], 4); }
      }
    }
    function place(lat, lng) {
      if (marker) { marker.setLatLng([lat, lng]); } else {
        marker = L.circleMarker([lat, lng], { radius: 8, color: "#b42318", weight: 3, fillColor: "#b42318", fillOpacity: 0.6 }).addTo(map);
      }
    }
    map.on("click", function (event) {
      var lat = event.latlng.lat.toFixed(6), lng = event.latlng.lng.toFixed(6);
      lngInput.value = lng; latInput.value = lat;
      place(lat, lng);
    });
    if (community) { community.addEventListener("change", showCommunity); }
    showCommunity();
    if (lngInput.value && latInput.value) { place(parseFloat(latInput.value), parseFloat(lngInput.value)); }
  }

  function init() { setupProxy(); setupMap(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
