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
      var layer = L.geoJSON(null, {
        pane: PANE, interactive: false, attribution: spec.attribution,
        style: function (feature) { return STYLES[feature.properties.level]; }
      }).addTo(map);
      outlines(spec.background)
        .then(function (response) {
          if (!response) { return null; }  // offline and never kept: a blank background
          if (!response.ok) { throw new Error(response.status + " " + spec.background); }
          return response.json();
        })
        .then(function (data) { if (data) { layer.addData(data); } })
        .catch(function (error) { console.warn("civicmap: background", error); });
      return layer;
    }
  };

  /* Offline, the outlines come from the phone's cache (the rider's service worker keeps them)
   * or not at all: a request that cannot reach us would only add an error to the console. */
  function outlines(url) {
    if (navigator.onLine === false && window.caches) { return window.caches.match(url); }
    return fetch(url, {credentials: "same-origin"});
  }

  window.civicmap = Object.assign(window.civicmap || {}, civicmap);
})();
