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

  /* A detail card: an optional title (a property) and rows [label, property, label property]:
     the label property, when the feature has it, names the row in place of the label. */
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
      tr.appendChild(el("th", null, (row[2] && properties[row[2]]) || row[0]));
      var td = el("td");
      td.appendChild(valueNode(value));
      tr.appendChild(td);
      table.appendChild(tr);
    });
    card.appendChild(table);
    return card;
  }

  /* "%(name)s" placeholders filled from ``values`` (the texts come from Django's gettext). */
  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  }

  /* A legend section's symbols: [{colour, border, shape, gradient, label}] into ``box``. */
  function legendItems(box, items) {
    box.textContent = "";
    items.forEach(function (item) {
      var line = el("div", "civicmap-legend-item");
      var swatch = el("span", "civicmap-swatch civicmap-swatch-" + (item.shape || "square"));
      if (item.gradient) {
        swatch.style.backgroundImage = "linear-gradient(to right, " +
          item.gradient.join(", ") + ")";
      } else {
        swatch.style.backgroundColor = item.colour;
      }
      if (item.border) { swatch.style.borderColor = item.border; }
      line.appendChild(swatch);
      line.appendChild(el("span", null, item.label));
      box.appendChild(line);
    });
  }

  var civicmap = {
    /* Shared with the office's scripts, which load after this one. */
    el: el,
    format: format,
    detailCard: detailCard,

    /* onEachFeature for L.geoJson: a tooltip and/or popup built with textContent. */
    details: function (spec) {
      return function (feature, layer) {
        var build = function () { return detailCard(feature.properties || {}, spec); };
        if (spec.tooltip) { layer.bindTooltip(build, {sticky: true, className: "civicmap-tooltip"}); }
        if (spec.popup) { layer.bindPopup(build, {maxWidth: 320}); }
        /* A marker is a button (role=button): it needs a name for screen readers. */
        if (spec.label && layer.setIcon) {
          layer.on("add", function () {
            var icon = layer.getElement();
            var name = (feature.properties || {})[spec.label];
            if (icon && name) { icon.setAttribute("aria-label", String(name)); }
          });
        }
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
        uncovered: function (data) {
          layer.clearLayers();
          layer.addData(data);
          return !(data.features || []).length;
        },
        hourly: function (data) {
          var control = window[spec.control];
          layer.data = data.frames;
          if (control) { control.index = data.labels; }
          if (layer._map && layer._timeDimension) {
            layer._getDataForTime(layer._timeDimension.getCurrentTime());
          }
          if (control && control._update) { control._update(); }
          return !data.frames.some(function (frame) { return frame.length; });
        }
      }[spec.kind];
      if (spec.kind === "hourly" && window[spec.control]) {
        civicmap.timeControlWithLayer(map, layer, window[spec.control], spec.text || {});
      }
      var load = function () {
        if (state[spec.kind] === "loading" || state[spec.kind] === "loaded") { return; }
        state[spec.kind] = "loading";
        var url = spec.url;
        fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
          .then(function (response) {
            if (!response.ok) { throw new Error(url + ": HTTP " + response.status); }
            return response.json();
          })
          .then(function (data) {
            if (url !== spec.url) { return; }  /* the filters changed meanwhile */
            var empty = fill(data);
            civicmap.legendEmpty(map, spec.layer, empty);
            state[spec.kind] = "loaded";
          })
          .catch(function (error) {
            if (url !== spec.url) { return; }
            state[spec.kind] = "failed";
            if (window.console) { window.console.warn(String(error)); }
          });
      };
      layer.on("add", load);
      /* The page's filters changed (liveFilters): fetch again, now if the layer is on. */
      civicmap.onDemandReload[spec.kind] = function (url) {
        spec.url = url;
        state[spec.kind] = "stale";
        if (map.hasLayer(layer)) { load(); }
      };
    },
    onDemandState: {},
    onDemandReload: {},

    /*
     * The unit grids' shapes (a FeatureCollection, each feature's id its grid id), fetched
     * once per URL and shared: by the layer when first switched on (unitGridsOnDemand) and by
     * liveFilters. A failed fetch is asked again the next time.
     */
    unitGridShapes: function (url) {
      var shapes = civicmap.unitGridShapesByUrl;
      if (!shapes[url]) {
        shapes[url] = fetch(url, {credentials: "same-origin",
                                  headers: {Accept: "application/json"}})
          .then(function (response) {
            if (!response.ok) { throw new Error(url + ": HTTP " + response.status); }
            return response.json();
          });
        shapes[url].catch(function () { delete shapes[url]; });
      }
      return shapes[url];
    },
    unitGridShapesByUrl: {},

    /* The unit grids of the counts ({grid id: reports}) as the page's layer draws them. */
    unitGridsJoin: function (collection, counts) {
      var features = [];
      (collection ? collection.features : []).forEach(function (feature) {
        if (Object.prototype.hasOwnProperty.call(counts, feature.id)) {
          features.push({type: "Feature", geometry: feature.geometry,
                         properties: {grid_id: feature.id, reports: counts[feature.id]}});
        }
      });
      return {type: "FeatureCollection", features: features};
    },

    /*
     * The unit grid layer of a page that carries their counts only: spec {layer, url, counts,
     * style}. The first time the layer is switched on, the shapes are fetched from ``url``
     * (unitGridShapes) and drawn with the counts; liveFilters keeps ``layer.civicmapCounts``
     * and the drawing up to date after that.
     */
    unitGridsOnDemand: function (map, spec) {
      var layer = window[spec.layer];
      if (!layer) { return; }
      layer.civicmapCounts = spec.counts;
      layer.options.style = function () { return Object.assign({}, spec.style); };
      var draw = function () {
        if (layer.civicmapDrawn) { return; }
        layer.civicmapDrawn = "loading";
        civicmap.unitGridShapes(spec.url)
          .then(function (collection) {
            layer.clearLayers();
            layer.addData(civicmap.unitGridsJoin(collection, layer.civicmapCounts));
            layer.civicmapDrawn = "drawn";
          })
          .catch(function (error) {
            layer.civicmapDrawn = null;  /* asked again the next time it is switched on */
            if (window.console) { window.console.warn(String(error)); }
          });
      };
      layer.on("add", draw);
      if (map.hasLayer(layer)) { draw(); }
    },

    /*
     * folium adds the TimeDimension control to the map at once, in English ("Play", "1fps"):
     * take it off, give it the page's words, and show it only while ``layer`` is on.
     * text: {backward, forward, play, playReverse, loop, date, speed ("%(fps)s …"), noTime}.
     */
    timeControlWithLayer: function (map, layer, control, text) {
      var titles = {Backward: text.backward, Forward: text.forward, Play: text.play,
                    "Play Reverse": text.playReverse, Loop: text.loop, Date: text.date};
      var createButton = control._createButton;
      control._createButton = function (title, container) {
        var link = createButton.call(this, title, container);
        var name = titles[title] || title;
        link.title = name;
        link.setAttribute("role", "button");
        /* The date button's name is the hour it shows (its text); the others have no text. */
        if (title !== "Date") { link.setAttribute("aria-label", name); }
        return link;
      };
      control._getDisplaySpeed = function (fps) {
        return String(text.speed || "%(fps)s fps").replace("%(fps)s", fps);
      };
      control._getDisplayNoTimeError = function () { return text.noTime || ""; };
      /* The labels are our hours in Beijing time: no UTC/local switch (English titles). */
      control._buttonDateClicked = function () {};
      map.removeControl(control);
      layer.on("add", function () { control.addTo(map); });
      layer.on("remove", function () { map.removeControl(control); });
    },

    /* Leaflet's zoom and layers controls in the page's language: {zoomIn, zoomOut, layers}. */
    controlsLocalise: function (map, text) {
      var box = map.getContainer();
      [[".leaflet-control-zoom-in", text.zoomIn], [".leaflet-control-zoom-out", text.zoomOut],
       [".leaflet-control-layers-toggle", text.layers]].forEach(function (pair) {
        box.querySelectorAll(pair[0]).forEach(function (node) {
          node.title = pair[1];
          node.setAttribute("aria-label", pair[1]);
        });
      });
    },

    /* A metric scale bar (the office measures in metres). */
    scaleBar: function (map) {
      return L.control.scale({imperial: false, maxWidth: 150}).addTo(map);
    },

    /*
     * A legend control: {title, sections: [{layer, title, items: [{colour, border, shape,
     * gradient, label}], empty, emptyText}]}. A section shows only while its layer (a
     * global JavaScript name) is on the map, the whole legend only while one is; ``empty``
     * (a sentence) stands where a layer has nothing to draw, ``emptyText`` is said by
     * ``legendEmpty`` once an on-demand layer has found nothing.
     */
    legend: function (map, spec) {
      var sections = {};
      var Legend = L.Control.extend({
        options: {position: "bottomright"},
        onAdd: function () {
          var box = el("div", "civicmap-legend leaflet-bar");
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", spec.title);
          box.appendChild(el("div", "civicmap-legend-title", spec.title));
          spec.sections.forEach(function (section) {
            var part = el("div", "civicmap-legend-part");
            part.setAttribute("data-layer", section.layer);
            part.appendChild(el("div", "civicmap-legend-section", section.title));
            var items = el("div", "civicmap-legend-items");
            legendItems(items, section.items);
            part.appendChild(items);
            var empty = el("div", "civicmap-legend-empty", section.empty || section.emptyText || "");
            empty.setAttribute("role", "status");
            part.appendChild(empty);
            part.classList.toggle("civicmap-legend-is-empty", Boolean(section.empty));
            sections[section.layer] = part;
            box.appendChild(part);
          });
          L.DomEvent.disableClickPropagation(box);
          this._box = box;
          return box;
        }
      });
      var legend = new Legend().addTo(map);
      var update = function () {
        var shown = 0;
        Object.keys(sections).forEach(function (name) {
          var on = Boolean(window[name]) && map.hasLayer(window[name]);
          sections[name].classList.toggle("civicmap-hidden", !on);
          if (on) { shown += 1; }
        });
        legend._box.classList.toggle("civicmap-hidden", shown === 0);
      };
      map.on("layeradd layerremove", update);
      update();
      map._civicmapLegend = sections;
      return legend;
    },

    /* A legend section's symbols and empty state for new data: {items, empty} (liveFilters). */
    legendUpdate: function (map, layerName, section) {
      var part = (map._civicmapLegend || {})[layerName];
      if (!part) { return; }
      if (section.items) { legendItems(part.querySelector(".civicmap-legend-items"), section.items); }
      if (section.empty !== undefined) {
        part.querySelector(".civicmap-legend-empty").textContent = section.empty;
        part.classList.toggle("civicmap-legend-is-empty", Boolean(section.empty));
      }
    },

    /*
     * Redraw the data layers in place when the page's filters change, without reloading:
     * spec {url, layers: {community, heat, unit_grids, hotspots, stations, coverage} (global
     * JavaScript names), unitGridsUrl, styles: {community, unit_grids}, onDemand: {hourly,
     * uncovered}, updated, failed}. The data carry the unit grids as counts by grid id; their
     * shapes (the same for every filter) are fetched once from ``unitGridsUrl``
     * (unitGridShapes, shared with the layer's own first drawing), beside the first change's
     * data, and joined here. A change of the filter form (or its button) fetches
     * ``url?<filters>`` (same origin, JSON: frontend.maps.layers.governance_map_data), redraws
     * every layer, legend section, table and the "as of" time, puts the filters in the
     * address (pushState: shareable, the back button restores the previous filters) and says
     * so in a polite live region. A refused filter is answered beside its field, the map left
     * as it was. Without fetch or pushState the form submits and the page reloads, as it does
     * without JavaScript.
     */
    liveFilters: function (map, spec) {
      var form = document.querySelector("form.civicmap-filters");
      if (!form || !window.fetch || !window.history || !window.history.pushState ||
          !window.URLSearchParams || !window.FormData) { return; }
      var status = document.getElementById("civicmap-map-status");
      var box = map.getContainer();
      var updates = 0;
      var asked = 0;

      var formQuery = function () {
        var params = new URLSearchParams();
        new FormData(form).forEach(function (value, key) { if (value) { params.append(key, value); } });
        return params.toString();
      };
      var formSet = function (query) {
        var params = new URLSearchParams(query);
        Array.prototype.forEach.call(form.elements, function (field) {
          if (field.name && field.tagName === "SELECT") {
            field.value = params.get(field.name) || "";
            if (field.selectedIndex < 0) { field.selectedIndex = 0; }
          }
        });
      };
      var errorsClear = function () {
        form.querySelectorAll(".civicmap-error").forEach(function (node) { node.remove(); });
        form.querySelectorAll("[aria-invalid]").forEach(function (field) {
          field.removeAttribute("aria-invalid");
          field.removeAttribute("aria-describedby");
        });
      };
      var errorsShow = function (errors) {
        errorsClear();
        var said = [];
        (errors || []).forEach(function (error) {
          var field = error.field && form.elements[error.field];
          said.push(error.message);
          if (!field) { return; }
          var note = el("span", "civicmap-error", error.message);
          note.id = error.field + "-error";
          field.setAttribute("aria-invalid", "true");
          field.setAttribute("aria-describedby", note.id);
          field.insertAdjacentElement("afterend", note);
        });
        if (status) { status.textContent = said.join(" "); }
      };
      var geoJson = function (name, data, style) {
        var layer = name && window[name];
        if (!layer) { return; }
        if (style) {
          layer.options.style = function (feature) {
            var colour = (feature.properties || {}).colour;
            return Object.assign({}, style, colour ? {fillColor: colour} : {});
          };
        }
        layer.clearLayers();
        layer.addData(data);
      };
      var shapesGet = function () {
        if (!spec.layers.unit_grids || !window[spec.layers.unit_grids] || !spec.unitGridsUrl) {
          return Promise.resolve(null);
        }
        return civicmap.unitGridShapes(spec.unitGridsUrl);
      };
      var table = function (id, rows, emptyText) {
        var body = document.querySelector("#" + id + " tbody");
        if (!body) { return; }
        body.textContent = "";
        rows.forEach(function (row) {
          var tr = el("tr");
          row.forEach(function (cell, index) {
            var td = el(index ? "td" : "th", null, cell);
            if (!index) { td.setAttribute("scope", "row"); }
            tr.appendChild(td);
          });
          body.appendChild(tr);
        });
        if (!rows.length && emptyText) {
          var tr = el("tr");
          var td = el("td", null, emptyText);
          td.colSpan = body.parentNode.querySelectorAll("thead th").length;
          tr.appendChild(td);
          body.appendChild(tr);
        }
      };
      var redraw = function (data) {
        var names = spec.layers;
        /* The stations come apart from the rest (read live, the rest cached): merge them. */
        Object.assign(data.layers, data.live.layers);
        Object.assign(data.legend, data.live.legend);
        geoJson(names.community, data.layers.community, spec.styles.community);
        geoJson(names.unit_grids, data.layers.unit_grids, spec.styles.unit_grids);
        if (window[names.unit_grids]) { window[names.unit_grids].civicmapDrawn = "drawn"; }
        geoJson(names.hotspots, data.layers.hotspots);
        geoJson(names.stations, data.layers.stations);
        geoJson(names.coverage, data.layers.coverage);
        if (window[names.heat]) { window[names.heat].setLatLngs(data.layers.heat); }
        Object.keys(data.legend).forEach(function (key) {
          civicmap.legendUpdate(map, names[key], data.legend[key]);
        });
        Object.keys(spec.onDemand || {}).forEach(function (kind) {
          var reload = civicmap.onDemandReload[kind];
          if (spec.onDemand[kind] && reload && data.urls[kind]) { reload(data.urls[kind]); }
        });
        table("civicmap-community-table", data.tables.communities);
        var column = document.getElementById("civicmap-case-column");
        if (column) { column.textContent = data.tables.case_column; }
        table("civicmap-hotspot-table", data.tables.hotspots, data.tables.hotspots_empty);
        var asOf = document.querySelector(".civicmap-as-of");
        if (asOf) {
          asOf.textContent = data.as_of_text;
          asOf.setAttribute("data-as-of", data.as_of);
        }
      };
      var load = function (query, push) {
        asked += 1;
        var ticket = asked;
        box.setAttribute("aria-busy", "true");
        var grids = shapesGet();  /* beside the data, not after them */
        fetch(spec.url + (query ? "?" + query : ""),
              {credentials: "same-origin", headers: {Accept: "application/json"}})
          .then(function (response) {
            return response.json().then(function (body) {
              return {ok: response.ok, status: response.status, body: body};
            });
          })
          .then(function (answer) {
            if (!answer.ok) { return answer; }
            return grids.then(function (collection) {
              var units = window[spec.layers.unit_grids];
              if (units) { units.civicmapCounts = answer.body.layers.unit_grids; }
              answer.body.layers.unit_grids = civicmap.unitGridsJoin(
                collection, answer.body.layers.unit_grids);
              return answer;
            });
          })
          .then(function (answer) {
            if (ticket !== asked) { return; }  /* a newer choice is on its way */
            box.removeAttribute("aria-busy");
            if (!answer.ok) {
              if (answer.status === 400) { errorsShow(answer.body.errors); return; }
              throw new Error(spec.url + ": HTTP " + answer.status);
            }
            errorsClear();
            redraw(answer.body);
            var address = window.location.pathname +
              (answer.body.query ? "?" + answer.body.query : "");
            if (push) {
              window.history.pushState({civicmapQuery: answer.body.query}, "", address);
            }
            updates += 1;
            box.setAttribute("data-updates", String(updates));
            if (status) { status.textContent = spec.updated + " " + answer.body.as_of_text; }
          })
          .catch(function (error) {
            if (ticket !== asked) { return; }
            box.removeAttribute("aria-busy");
            if (status) { status.textContent = spec.failed; }
            if (window.console) { window.console.warn(String(error)); }
          });
      };
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        load(formQuery(), true);
      });
      form.addEventListener("change", function () { load(formQuery(), true); });
      window.addEventListener("popstate", function () {
        var query = window.location.search.replace(/^\?/, "");
        formSet(query);
        load(query, false);
      });
    },

    /* Mark a legend section empty (or not) once its on-demand layer's data are in. */
    legendEmpty: function (map, layerName, empty) {
      var part = (map._civicmapLegend || {})[layerName];
      if (part) { part.classList.toggle("civicmap-legend-is-empty", Boolean(empty)); }
    }
  };

  window.civicmap = Object.assign(window.civicmap || {}, civicmap);
})();
