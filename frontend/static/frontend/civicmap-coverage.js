/*
 * The union's coverage page (/union/coverage/): the stations, their reach, the uncovered demand
 * and the suggested sites on the map, and the what-if. A click on the map (or the button that
 * adds one at the map's centre) adds a station, dragging a pin (or the arrow keys on a focused
 * pin: WCAG 2.1.1 and 2.5.7, no move needs a pointer) moves one, a toggle in the stations table
 * removes one; after each change the page asks the what-if endpoint (POST, same origin, JSON) for the
 * figures of the stations as they would be and shows them beside the saved ones. Nothing is
 * saved. Text is set with textContent only. Loaded after civicmap-map.js.
 */
(function () {
  "use strict";

  var civicmap = window.civicmap;
  var el = civicmap.el;
  var format = civicmap.format;

  function numberText(value) {
    return new Intl.NumberFormat(document.documentElement.lang || "zh-hans").format(value);
  }

  var STEP_M = 50;  /* metres an arrow key moves a focused pin; with Shift, FINE_STEP_M */
  var FINE_STEP_M = 10;
  var METRES_PER_DEGREE_LAT = 111320;  /* good to 0.5 % for steps of metres */
  var ARROWS = {ArrowUp: [1, 0], ArrowDown: [-1, 0], ArrowRight: [0, 1], ArrowLeft: [0, -1]};

  /* The arrow keys move a focused pin (``marker``) and its reach (``circle``) by STEP_M
     metres; ``moved`` runs once the key is let go, so that holding a key asks for the figures
     once. The keys are kept from the map, which would pan. */
  function keyboardMovable(marker, circle, moved) {
    var element = marker.getElement();
    var pending = false;
    element.addEventListener("keydown", function (event) {
      var step = ARROWS[event.key];
      if (!step) { return; }
      event.preventDefault();
      event.stopPropagation();
      var metres = event.shiftKey ? FINE_STEP_M : STEP_M;
      var point = marker.getLatLng();
      var latlng = L.latLng(
        point.lat + step[0] * metres / METRES_PER_DEGREE_LAT,
        point.lng + step[1] * metres / (METRES_PER_DEGREE_LAT * Math.cos(point.lat * Math.PI / 180)));
      marker.setLatLng(latlng);
      circle.setLatLng(latlng);
      pending = true;
    });
    element.addEventListener("keyup", function (event) {
      if (pending && ARROWS[event.key]) {
        pending = false;
        moved();
      }
    });
    element.setAttribute("aria-describedby", "coverage-help");
  }

  function shareText(share) {
    return share === null || share === undefined ? "—" : (share * 100).toFixed(2) + " %";
  }

  /* The what-if column of the figures table, from the endpoint's answer. */
  function figures(answer, text) {
    var whole = answer.summary.subdistrict;
    var checkins = answer.summary.checkins;
    var uncovered = answer.uncovered.reduce(function (sum, cell) { return sum + cell.reports; }, 0);
    function part(covered, total, share) {
      return format(text.figure, {covered: numberText(covered), total: numberText(total),
                                  share: shareText(share)});
    }
    return {
      reports: part(whole.reports_covered, whole.reports, whole.reports_share),
      needs: part(whole.needs_covered, whole.needs, whole.needs_share),
      checkins: part(checkins.checkins_covered, checkins.checkins, checkins.checkins_share),
      area: shareText(whole.area_share),
      stations: numberText(whole.stations),
      uncovered: format(text.cells, {cells: numberText(answer.uncovered.length),
                                     reports: numberText(uncovered)})
    };
  }

  civicmap.coverageWhatIf = function (map, spec) {
    var root = document.getElementById("union-coverage");
    var csrf = root.getAttribute("data-csrf");
    var status = document.getElementById("coverage-status");
    var changesList = document.getElementById("coverage-changes");
    var text = spec.text;
    var colours = spec.colours;
    var state = {moved: {}, removed: {}, added: [], seq: 0, nextAdded: 1};
    var stations = {};
    var cellsLayer = L.layerGroup().addTo(map);
    var addedLayer = L.layerGroup().addTo(map);
    civicmap.coverageState = {requests: 0, answered: 0, last: null};

    function pinIcon(kind) {
      return L.divIcon({className: "coverage-pin coverage-pin-" + kind, iconSize: [18, 18]});
    }

    function drawCells(cells) {
      cellsLayer.clearLayers();
      cells.forEach(function (cell) {
        var dot = L.circleMarker(cell.latlng, {
          radius: Math.min(3 + 2 * Math.sqrt(cell.reports), 20), color: colours.uncovered,
          weight: 1, fillColor: colours.uncovered, fillOpacity: 0.6,
          className: "coverage-uncovered"
        });
        dot.bindTooltip(function () {
          var card = el("div", "civicmap-detail");
          card.appendChild(el("div", null, format(text.reports, {reports: numberText(cell.reports)})));
          card.appendChild(el("div", null, format(text.needs, {needs: numberText(cell.needs)})));
          return card;
        }, {sticky: true, className: "civicmap-tooltip"});
        cellsLayer.addLayer(dot);
      });
    }

    function latlngOf(marker) {
      var point = marker.getLatLng();
      return {lon: Number(point.lng.toFixed(6)), lat: Number(point.lat.toFixed(6))};
    }

    function changeCount() {
      return Object.keys(state.moved).length + Object.keys(state.removed).length +
        state.added.length;
    }

    function listChanges() {
      changesList.textContent = "";
      Object.keys(state.moved).forEach(function (id) {
        changesList.appendChild(el("li", null, format(text.moved, {name: stations[id].name})));
      });
      Object.keys(state.removed).forEach(function (id) {
        changesList.appendChild(el("li", null, format(text.removedStation, {name: stations[id].name})));
      });
      state.added.forEach(function (added) {
        var item = el("li", null, added.label + " ");
        var button = el("button", "civicmap-link-button coverage-take-away", text.removeAdded);
        button.type = "button";
        button.setAttribute("aria-label", text.removeAdded + " " + added.label);
        button.addEventListener("click", function () {
          addedLayer.removeLayer(added.marker);
          addedLayer.removeLayer(added.circle);
          state.added = state.added.filter(function (other) { return other !== added; });
          changed();
        });
        item.appendChild(button);
        changesList.appendChild(item);
      });
    }

    function body() {
      return {
        days: spec.days, subdistrict: spec.subdistrict, coord_system: spec.coord_system,
        added: state.added.map(function (added) { return latlngOf(added.marker); }),
        moved: Object.keys(state.moved).map(function (id) {
          return Object.assign({id: Number(id)}, latlngOf(stations[id].marker));
        }),
        removed: Object.keys(state.removed).map(Number)
      };
    }

    function show(values) {
      Object.keys(values).forEach(function (key) {
        var cell = document.querySelector('#coverage-figures [data-figure="' + key + '"] .coverage-what-if');
        if (cell) { cell.textContent = values[key]; }
      });
    }

    function changed() {
      listChanges();
      var seq = ++state.seq;
      var count = changeCount();
      if (!count) {
        show(JSON.parse(root.getAttribute("data-saved")));
        drawCells(spec.cells);
        status.textContent = text.noChanges;
        civicmap.coverageState.last = null;
        return;
      }
      status.textContent = text.computing;
      civicmap.coverageState.requests += 1;
      fetch(spec.url, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", Accept: "application/json",
                  "X-CSRFToken": csrf},
        body: JSON.stringify(body())
      }).then(function (response) {
        return response.json().then(function (data) { return {ok: response.ok, data: data}; });
      }).then(function (result) {
        if (seq !== state.seq) { return; }  /* a later change is on its way */
        civicmap.coverageState.answered += 1;
        if (!result.ok) {
          var errors = (result.data.errors || []).map(function (error) {
            return (error.field ? error.field + ": " : "") + error.message;
          });
          status.textContent = text.failed + " " + errors.join(" ");
          civicmap.coverageState.last = "refused";
          return;
        }
        show(figures(result.data, text));
        drawCells(result.data.uncovered.map(function (cell) {
          return {latlng: [cell.display[1], cell.display[0]], reports: cell.reports,
                  needs: cell.needs};
        }));
        status.textContent = format(text.computed, {n: numberText(count)});
        civicmap.coverageState.last = "answered";
      }).catch(function () {
        if (seq === state.seq) { status.textContent = text.failed; }
      });
    }

    function toggle(id) {
      var station = stations[id];
      var removed = !state.removed[id];
      if (removed) { state.removed[id] = true; } else { delete state.removed[id]; }
      station.marker.getElement().classList.toggle("coverage-pin-removed", removed);
      station.circle.setStyle({opacity: removed ? 0 : 1, fillOpacity: removed ? 0 : 0.12});
      var button = document.querySelector('[data-station-toggle="' + id + '"]');
      if (button) {
        button.setAttribute("aria-pressed", removed ? "true" : "false");
        button.textContent = removed ? text.restore : text.remove;
      }
      changed();
    }

    spec.stations.forEach(function (station) {
      var circle = L.circle(station.latlng, {
        radius: station.radius_m, color: colours.station, weight: 1,
        fillColor: colours.station, fillOpacity: 0.12, interactive: false,
        className: "coverage-reach"
      }).addTo(map);
      var marker = L.marker(station.latlng, {
        icon: pinIcon("station"), draggable: true, keyboard: true, title: station.name,
        alt: station.name
      }).addTo(map);
      marker.getElement().setAttribute("aria-label", station.name);
      marker.getElement().setAttribute("data-station", String(station.id));
      marker.on("drag", function () { circle.setLatLng(marker.getLatLng()); });
      function moved() {
        state.moved[station.id] = true;
        changed();
      }
      marker.on("dragend", moved);
      keyboardMovable(marker, circle, moved);
      stations[station.id] = {name: station.name, marker: marker, circle: circle};
    });

    spec.picks.forEach(function (pick) {
      L.circleMarker(pick.latlng, {
        radius: 7, color: "#ffffff", weight: 2, fillColor: colours.pick, fillOpacity: 0.9,
        className: "coverage-pick"
      }).bindTooltip(format(text.pick, {rank: pick.rank}), {className: "civicmap-tooltip"})
        .addTo(map);
    });

    function add(latlng) {
      var label = format(text.added, {n: state.nextAdded});
      state.nextAdded += 1;
      var circle = L.circle(latlng, {
        radius: spec.radius_default_m, color: colours.added, weight: 1,
        fillColor: colours.added, fillOpacity: 0.12, interactive: false,
        className: "coverage-reach coverage-reach-added"
      }).addTo(addedLayer);
      var marker = L.marker(latlng, {
        icon: pinIcon("added"), draggable: true, keyboard: true, title: label, alt: label
      }).addTo(addedLayer);
      marker.getElement().setAttribute("aria-label", label);
      marker.on("drag", function () { circle.setLatLng(marker.getLatLng()); });
      marker.on("dragend", changed);
      keyboardMovable(marker, circle, changed);
      state.added.push({marker: marker, circle: circle, label: label});
      changed();
      return marker;
    }

    map.on("click", function (event) { add(event.latlng); });
    document.getElementById("coverage-add-centre").addEventListener("click", function () {
      add(map.getCenter()).getElement().focus();  /* ready for the arrow keys */
    });

    document.querySelectorAll("[data-station-toggle]").forEach(function (button) {
      button.addEventListener("click", function () {
        toggle(button.getAttribute("data-station-toggle"));
      });
    });
    document.querySelectorAll("[data-pick]").forEach(function (button) {
      button.addEventListener("click", function () {
        var rank = Number(button.getAttribute("data-pick"));
        spec.picks.forEach(function (pick) {
          if (pick.rank === rank) { add(L.latLng(pick.latlng)); }
        });
      });
    });
    document.getElementById("coverage-reset").addEventListener("click", function () {
      Object.keys(state.removed).forEach(toggle);
      Object.keys(state.moved).forEach(function (id) {
        var original = spec.stations.filter(function (s) { return String(s.id) === id; })[0];
        stations[id].marker.setLatLng(original.latlng);
        stations[id].circle.setLatLng(original.latlng);
      });
      state.moved = {};
      addedLayer.clearLayers();
      state.added = [];
      changed();
    });
    drawCells(spec.cells);
    root.classList.add("coverage-ready");
  };
})();
