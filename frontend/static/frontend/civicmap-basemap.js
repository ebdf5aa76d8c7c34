/*
 * The basemap's finish on every Leaflet map of ours, the folium pages' and the phone pages':
 * the attribution names the map data's sources and nothing else (no "Leaflet" prefix), and a
 * map without tiles gets a plain background of our own community and unit grid outlines,
 * fetched from our origin (frontend:map-background), under every overlay. So the default map
 * reaches no foreign server and stays readable on an intranet (D-074).
 */
(function () {
  "use strict";

  // Light greys under the overlays' colours: communities filled, unit grids hairlines.
  var STYLES = {
    community: {color: "#b8b2a3", weight: 1.5, fillColor: "#f5f3ee", fillOpacity: 1},
    unit: {color: "#d9d4c8", weight: 0.6, fill: false}
  };
  var PANE = "civicmapBackground";

  var civicmap = {
    /* spec: {background: URL of the outlines or "", attribution: their source}. */
    basemap: function (map, spec) {
      if (map.attributionControl) { map.attributionControl.setPrefix(false); }
      if (!spec.background) { return null; }
      map.getContainer().classList.add("civicmap-plain");
      var pane = map.createPane(PANE);
      pane.style.zIndex = 150;  // under the tiles' pane (200) and the overlays' (400)
      pane.style.pointerEvents = "none";
      var layer = L.featureGroup([], {attribution: spec.attribution}).addTo(map);
      outlines(spec.background)
        .then(function (response) {
          if (!response) { return null; }  // offline and never kept: a blank background
          if (!response.ok) { throw new Error(response.status + " " + spec.background); }
          return response.json();
        })
        .then(function (data) { if (data) { draw(layer, data); } })
        .catch(function (error) { console.warn("civicmap: background", error); });
      return layer;
    },
    decodePolyline: decode
  };

  /* One polygon path a level (the communities filled, the unit grids as hairlines) from the
   * outlines' encoded rings: {precision, community: [[ring, …], …], unit: […]}. */
  function draw(layer, data) {
    var factor = Math.pow(10, data.precision);
    Object.keys(STYLES).forEach(function (level) {
      var grids = (data[level] || []).map(function (rings) {
        return rings.map(function (ring) { return decode(ring, factor); });
      });
      if (!grids.length) { return; }
      layer.addLayer(L.polygon(grids, Object.assign({pane: PANE, interactive: false},
                                                    STYLES[level])));
    });
  }

  /* Google's encoded polyline (PostGIS ST_AsEncodedPolyline) to [[lat, lng], …]: each value a
   * zigzag-signed delta from the last, in 5-bit chunks offset by 63, low chunk first. */
  function decode(text, factor) {
    var points = [], lat = 0, lng = 0, index = 0;
    function value() {
      var result = 0, shift = 0, chunk;
      do {
        chunk = text.charCodeAt(index++) - 63;
        result |= (chunk & 0x1f) << shift;
        shift += 5;
      } while (chunk >= 0x20);
      return (result & 1) ? ~(result >> 1) : (result >> 1);
    }
    while (index < text.length) {
      lat += value();
      lng += value();
      points.push([lat / factor, lng / factor]);
    }
    return points;
  }

  /* Offline, the outlines come from the phone's cache (the rider's service worker keeps them)
   * or not at all: a request that cannot reach us would only add an error to the console. */
  function outlines(url) {
    if (navigator.onLine === false && window.caches) { return window.caches.match(url); }
    return fetch(url, {credentials: "same-origin"});
  }

  window.civicmap = Object.assign(window.civicmap || {}, civicmap);
})();
