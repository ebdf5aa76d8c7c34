/*
 * CivicMap helpers for the folium-built maps (frontend/maps.py).
 *
 * Everything that shows user text (names, descriptions) builds DOM nodes and sets
 * textContent: no HTML is ever parsed from data, so a description "<script>…</script>" is
 * shown as those characters and runs nothing. Loaded from our origin; the page's
 * Content-Security-Policy allows no inline script without the page's nonce.
 */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function valueNode(value) {
    if (Array.isArray(value)) {
      var list = el("ul", "civicmap-detail-list");
      value.forEach(function (item) { list.appendChild(el("li", null, item)); });
      return list;
    }
    return document.createTextNode(value === null || value === undefined ? "" : String(value));
  }

  /* A detail card: an optional title (a property) and rows [label, property]. */
  function detailCard(properties, spec) {
    var card = el("div", "civicmap-detail");
    if (spec.title) {
      card.appendChild(el("div", "civicmap-detail-title", properties[spec.title]));
    }
    if (spec.badge && properties[spec.badge.key]) {
      var extra = spec.badge.classKey ? properties[spec.badge.classKey] || "" : "";
      card.appendChild(el("div", ("civicmap-detail-badge " + extra).trim(),
                          properties[spec.badge.key]));
    }
    var table = el("table", "civicmap-detail-table");
    (spec.rows || []).forEach(function (row) {
      var value = properties[row[1]];
      if (value === undefined || value === null || value === "" ||
          (Array.isArray(value) && !value.length)) { return; }
      var tr = el("tr");
      tr.appendChild(el("th", null, row[0]));
      var td = el("td");
      td.appendChild(valueNode(value));
      tr.appendChild(td);
      table.appendChild(tr);
    });
    card.appendChild(table);
    return card;
  }

  var civicmap = {
    detailCard: detailCard,

    /* onEachFeature for L.geoJson: a tooltip and/or popup built with textContent. */
    details: function (spec) {
      return function (feature, layer) {
        var build = function () { return detailCard(feature.properties || {}, spec); };
        if (spec.tooltip) { layer.bindTooltip(build, {sticky: true, className: "civicmap-tooltip"}); }
        if (spec.popup) { layer.bindPopup(build, {maxWidth: 320}); }
      };
    },

    /* pointToLayer for L.geoJson: a circle of properties.radius_m metres on the ground. */
    metreCircle: function (style) {
      return function (feature, latlng) {
        return L.circle(latlng, Object.assign({}, style, {radius: feature.properties.radius_m}));
      };
    },

    /* pointToLayer: a dot whose area grows with properties.count (pixels, any zoom). */
    scaledDot: function (style) {
      return function (feature, latlng) {
        var radius = 3 + 2 * Math.sqrt(feature.properties.count || 1);
        return L.circleMarker(latlng, Object.assign({}, style, {radius: Math.min(radius, 20)}));
      };
    },

    /* Hide a pane below a zoom level (the layer control still decides whether it is on). */
    paneMinZoom: function (map, paneName, minZoom) {
      var pane = map.getPane(paneName);
      var update = function () {
        pane.classList.toggle("civicmap-hidden", map.getZoom() < minZoom);
      };
      map.on("zoomend", update);
      update();
    },

    /*
     * A layer hidden at first whose data are fetched (same origin, JSON) the first time it is
     * switched on: spec {kind, layer, url, control}. kind "uncovered": a L.geoJson that gets
     * the FeatureCollection (its pointToLayer and onEachFeature apply, text by textContent);
     * kind "hourly": folium's HeatMapWithTime, which gets {labels, frames} (its time control
     * shows the labels). A failed fetch is tried again the next time the layer is switched on.
     * civicmap.onDemandState[kind] says "loading", "loaded" or "failed".
     */
    onDemand: function (map, spec) {
      var layer = window[spec.layer];
      var state = civicmap.onDemandState;
      var fill = {
        uncovered: function (data) { layer.addData(data); },
        hourly: function (data) {
          var control = window[spec.control];
          layer.data = data.frames;
          if (control) { control.index = data.labels; }
          if (layer._map && layer._timeDimension) {
            layer._getDataForTime(layer._timeDimension.getCurrentTime());
          }
          if (control && control._update) { control._update(); }
        }
      }[spec.kind];
      layer.on("add", function () {
        if (state[spec.kind] === "loading" || state[spec.kind] === "loaded") { return; }
        state[spec.kind] = "loading";
        fetch(spec.url, {credentials: "same-origin", headers: {Accept: "application/json"}})
          .then(function (response) {
            if (!response.ok) { throw new Error(spec.url + ": HTTP " + response.status); }
            return response.json();
          })
          .then(function (data) {
            fill(data);
            state[spec.kind] = "loaded";
          })
          .catch(function (error) {
            state[spec.kind] = "failed";
            if (window.console) { window.console.warn(String(error)); }
          });
      });
    },
    onDemandState: {},

    /* A metric scale bar (the office measures in metres). */
    scaleBar: function (map) {
      return L.control.scale({imperial: false, maxWidth: 150}).addTo(map);
    },

    /* A legend control: {title, sections: [{title, items: [{colour, shape, label}]}]}. */
    legend: function (map, spec) {
      var Legend = L.Control.extend({
        options: {position: "bottomright"},
        onAdd: function () {
          var box = el("div", "civicmap-legend leaflet-bar");
          box.appendChild(el("div", "civicmap-legend-title", spec.title));
          spec.sections.forEach(function (section) {
            box.appendChild(el("div", "civicmap-legend-section", section.title));
            section.items.forEach(function (item) {
              var line = el("div", "civicmap-legend-item");
              var swatch = el("span", "civicmap-swatch civicmap-swatch-" + (item.shape || "square"));
              swatch.style.backgroundColor = item.colour;
              if (item.border) { swatch.style.borderColor = item.border; }
              line.appendChild(swatch);
              line.appendChild(el("span", null, item.label));
              box.appendChild(line);
            });
          });
          L.DomEvent.disableClickPropagation(box);
          return box;
        }
      });
      return new Legend().addTo(map);
    }
  };

  window.civicmap = Object.assign(window.civicmap || {}, civicmap);
})();
