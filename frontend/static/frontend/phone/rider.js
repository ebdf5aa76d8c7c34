/* The rider's page (/rider/): report with photo and position, confirm a nearby case instead,
 * what waits to be sent, my reports with the team's answer and a rating, the nearest rest
 * stations and check-in by QR code, my points and awards. Uses window.Phone (phone.js) and
 * window.CivicOutbox (outbox.js).
 */
(function () {
  "use strict";

  var P = window.Phone;
  var t = P.t;
  var el = P.el;
  var $ = P.$;
  var labels = P.config.labels;
  var MAX_PHOTOS = 4;
  var NEARBY_MOVE_M = 30;  // the nearby list is asked again when the place moves this far

  var state = {photos: [], place: null, nearbyKey: null, stationsAt: null,
               community: null, communityAt: null};

  // --- service worker: the page and its assets offline; Background Sync for the outbox ------

  function registerWorker() {
    if (!("serviceWorker" in navigator) || !P.config.sw_url) return Promise.resolve(null);
    return navigator.serviceWorker.register(P.config.sw_url, {scope: P.config.sw_scope})
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        document.documentElement.dataset.swReady = "1";
        return registration;
      }, function () { return null; });
  }
  var worker = registerWorker();

  function askBackgroundSync() {
    worker.then(function (registration) {
      if (registration && registration.sync) registration.sync.register("outbox").catch(function () {});
    });
  }

  // --- position and the map -------------------------------------------------------------------

  var map = null;

  /* "<community> (±15 m)" once the server has named the place; "position from this phone
   * (±15 m)" until then and offline. */
  function placeText() {
    var place = state.place;
    if (!place) return t("loc_none");
    if (state.community === false) return t("loc_outside");
    var name = state.community && state.community.name;
    var metres = Math.round(place.accuracy || 0);
    if (place.source === "device") {
      return name ? t("loc_place_device", {place: name, m: metres}) : t("loc_device", {m: metres});
    }
    if (place.source === "photo") return name ? t("loc_place_photo", {place: name}) : t("loc_photo");
    return name ? t("loc_place_map", {place: name}) : t("loc_map");
  }

  function placeShow() {
    var status = $("loc-status");
    status.textContent = placeText();
    status.dataset.source = state.place ? state.place.source : "";
    status.dataset.community = state.community ? state.community.code : "";
    if (state.place) fieldErrorClear("place");
    communityRefresh();
    nearbyRefresh();
    if (state.place && $("loc-map").hidden && !state.mapClosed) mapOpen();
  }

  var communityLatest = P.latest();  // the pin may move again before the answer

  /* The community the place falls in (GET places/at/), asked again when it moves this far. */
  function communityRefresh() {
    var place = state.place;
    if (!place || !navigator.onLine) return;
    var previous = state.communityAt;
    if (previous && previous.system === place.system && metresBetween(previous, place) < NEARBY_MOVE_M) return;
    state.communityAt = {lon: place.lon, lat: place.lat, system: place.system};
    state.community = null;
    communityLatest(P.api("places/at/?lon=" + place.lon.toFixed(6) + "&lat=" + place.lat.toFixed(6) +
                          "&coord_system=" + place.system)).then(function (body) {
      state.community = body.community || false;  // false: outside the service area
      $("loc-status").textContent = placeText();
      $("loc-status").dataset.community = body.community ? body.community.code : "";
    }, function () { state.communityAt = null; });
  }

  /* The place in WGS 84 (for the map and for comparing moves). */
  function placeWgs84() {
    var place = state.place;
    if (!place) return null;
    if (place.system === "wgs84") return place;
    return place.wgs84 || null;
  }

  function placeSet(place) {
    state.place = place;
    if (map && place.source !== "map") {
      var wgs = placeWgs84();
      if (wgs) map.moveTo(wgs.lon, wgs.lat);
    }
    placeShow();
  }

  P.onPosition(function (fix) {
    if (fix.error) {
      if (!state.place) {
        $("loc-status").textContent = fix.error === "denied" ? t("loc_denied")
          : (fix.error === "insecure" ? t("loc_needs_secure") : t("loc_none"));
      }
      return;
    }
    // The device's position wins over a photo's, never over a pin the rider placed.
    if (!state.place || state.place.source !== "map") {
      placeSet({lon: fix.lon, lat: fix.lat, system: "wgs84", accuracy: fix.accuracy, source: "device"});
    }
  });

  /* The small map with the pin: opened by itself once there is a place (Leaflet is loaded
   * then, not with the page), closed and opened again by the button. */
  function mapOpen() {
    var box = $("loc-map");
    box.hidden = false;
    $("loc-map-toggle").setAttribute("aria-expanded", "true");
    if (map) { map.map.invalidateSize(); return; }
    if (box.dataset.loading) return;
    box.dataset.loading = "1";
    var start = placeWgs84() || P.config.home;
    P.smallMap(box, {lon: start.lon, lat: start.lat, draggable: true, onMove: function (spot) {
      // Dragged on the basemap: the place is in the basemap's system (GCJ-02 on Amap), sent so.
      var wgs = P.mapSystem === "wgs84" ? {lon: spot.lon, lat: spot.lat} : null;
      state.place = {lon: spot.lon, lat: spot.lat, system: spot.system, source: "map", wgs84: wgs};
      placeShow();
    }}).then(function (made) {
      map = made;
      made.pin.getElement().setAttribute("aria-label", t("map_hint"));  // a draggable button
      var fix = P.position();
      if (fix) map.you(fix.lon, fix.lat);
      box.appendChild(el("p", {class: "ph-map-note ph-map-hint", text: t("map_hint")}));
    }, function () {  // Leaflet not reachable (offline before the worker kept it)
      delete box.dataset.loading;
      box.hidden = true;
      state.mapClosed = true;  // not tried again by itself; the button still tries
    });
  }

  $("loc-map-toggle").addEventListener("click", function () {
    if ($("loc-map").hidden) { state.mapClosed = false; mapOpen(); return; }
    state.mapClosed = true;
    $("loc-map").hidden = true;
    this.setAttribute("aria-expanded", "false");
  });
  $("loc-device").addEventListener("click", function () {
    var fix = P.position();
    if (fix) {
      state.place = null;
      placeSet({lon: fix.lon, lat: fix.lat, system: "wgs84", accuracy: fix.accuracy, source: "device"});
    } else {
      P.positionWatch();
    }
  });

  // --- photos ---------------------------------------------------------------------------------

  function photosShow() {
    var list = $("photo-list");
    list.textContent = "";
    state.photos.forEach(function (photo, index) {
      if (!photo.url) photo.url = URL.createObjectURL(photo.blob);
      list.appendChild(el("li", {class: "ph-thumb"}, [
        el("img", {src: photo.url, alt: ""}),
        el("button", {type: "button", class: "ph-thumb-remove", "aria-label": t("photo_remove"),
                      on: {click: function () {
                        URL.revokeObjectURL(photo.url);
                        state.photos.splice(index, 1);
                        photosShow();
                      }}}, [P.icon("xmark")])
      ]));
    });
  }

  function photosAdd(input) {
    var files = Array.prototype.slice.call(input.files || []);
    input.value = "";
    var room = MAX_PHOTOS - state.photos.length;
    if (files.length > room) P.toast(t("photo_limit", {n: MAX_PHOTOS}), "error");
    Promise.all(files.slice(0, Math.max(0, room)).map(P.photoPrepare)).then(function (prepared) {
      prepared.forEach(function (photo) {
        state.photos.push(photo);
        if (photo.gps && (!state.place || state.place.source === "photo")) {
          placeSet({lon: photo.gps.lon, lat: photo.gps.lat, system: "wgs84", source: "photo"});
        }
      });
      photosShow();
      if (state.photos.length) fieldErrorClear("photos");
    });
  }

  $("photo-camera").addEventListener("change", function () { photosAdd(this); });
  $("photo-pick").addEventListener("change", function () { photosAdd(this); });

  // --- category -------------------------------------------------------------------------------

  function category() {
    return document.querySelector('input[name="category"]:checked');
  }

  function pickerShow(open) {
    $("category-picker").hidden = !open;
    $("category-change").setAttribute("aria-expanded", String(open));
  }

  /* Before a report of a danger to life: the emergency numbers as tel: links. */
  function emergencyShow(chosen) {
    var numbers = chosen && chosen.dataset.calls ? chosen.dataset.calls.split(" ") : [];
    var box = $("emergency");
    box.hidden = !numbers.length;
    var title = $("emergency-title");
    title.textContent = "";
    if (numbers.length) {
      title.appendChild(P.icon("triangle-exclamation"));
      title.appendChild(document.createTextNode(t("emergency_title")));
    }
    var list = $("emergency-calls");
    list.textContent = "";
    numbers.forEach(function (number) {
      list.appendChild(el("li", {}, [el("a", {class: "ph-btn ph-call", href: "tel:" + number,
        text: t("emergency_call", {number: number, name: P.config.emergency_numbers[number] || ""})})]));
    });
  }

  $("category-picker").addEventListener("change", function () {
    var chosen = category();
    var note = $("category-chosen");
    note.textContent = "";
    if (chosen) {
      note.appendChild(P.icon(chosen.dataset.icon, "ph-cat-icon"));
      note.appendChild(document.createTextNode(chosen.dataset.name));
      if (chosen.hasAttribute("data-private")) {
        note.appendChild(el("span", {class: "ph-private-note", text: t("private_note")}));
      }
      $("category-chosen-row").hidden = false;
      // Fold the picker away: the choice, any emergency numbers and the nearby cases of this
      // kind come right below the question; "Change" opens the picker again.
      pickerShow(false);
      fieldErrorClear("category");
    }
    emergencyShow(chosen);
    nearbyRefresh();
  });

  $("category-change").addEventListener("click", function () {
    var open = $("category-picker").hidden;
    pickerShow(open);
    var chosen = category();
    if (open && chosen) {
      var group = chosen.closest("details");
      group.open = true;
      chosen.focus();
    }
  });

  // --- nearby open cases: confirm instead of reporting again ----------------------------------

  function metresBetween(a, b) {
    var rad = Math.PI / 180;
    var x = (b.lon - a.lon) * rad * Math.cos((a.lat + b.lat) / 2 * rad);
    var y = (b.lat - a.lat) * rad;
    return Math.sqrt(x * x + y * y) * 6371000;
  }

  var nearbyLatest = P.latest();  // another category or place may be chosen meanwhile

  function nearbyRefresh() {
    var chosen = category();
    var section = $("nearby");
    var place = state.place;
    if (!chosen || !place || chosen.hasAttribute("data-private")) {
      section.hidden = true;
      state.nearbyKey = null;
      return;
    }
    var key = chosen.value + "|" + place.system;
    var previous = state.nearbyKey;
    if (previous && previous.key === key && metresBetween(previous.place, place) < NEARBY_MOVE_M) return;
    state.nearbyKey = {key: key, place: {lon: place.lon, lat: place.lat}};
    var list = $("nearby-list");
    section.hidden = false;
    if (!navigator.onLine) {
      list.textContent = "";
      list.appendChild(el("li", {class: "ph-hint", text: t("nearby_offline")}));
      state.nearbyKey = null;
      return;
    }
    var query = "reports/nearby/?category=" + encodeURIComponent(chosen.value) +
      "&lon=" + place.lon.toFixed(6) + "&lat=" + place.lat.toFixed(6) +
      "&coord_system=" + place.system;
    nearbyLatest(P.api(query)).then(function (body) {
      list.textContent = "";
      if (!body.cases.length) {
        list.appendChild(el("li", {class: "ph-hint", text: t("nearby_none")}));
        return;
      }
      body.cases.forEach(function (item) {
        list.appendChild(el("li", {class: "ph-item ph-nearby", data: {case: item.id}}, [
          item.thumbnail_url ? el("img", {class: "ph-photo", src: item.thumbnail_url, alt: "",
                                          loading: "lazy"})
            : el("span", {class: "ph-photo ph-photo-missing"}, [P.icon(chosenIcon(item))]),
          el("div", {class: "ph-item-body"}, [
            el("strong", {text: item.category_name}),
            el("span", {class: "ph-muted", text: [P.metres(item.distance_m),
              labels.stages[item.stage] || item.stage,
              t("reports_n", {n: item.report_count})].join(" · ")}),
            el("button", {type: "button", class: "ph-btn ph-confirm", data: {case: item.id},
                          text: t("confirm"), on: {click: function () { confirmCase(item.id); }}})
          ])
        ]));
      });
    }, function (error) {
      state.nearbyKey = null;
      list.textContent = "";
      list.appendChild(el("li", {class: "ph-hint", text: error.offline ? t("nearby_offline") : error.message}));
    });
  }

  function chosenIcon() {
    var chosen = category();
    return chosen ? chosen.dataset.icon : "circle-info";
  }

  // --- sending: everything goes through the outbox --------------------------------------------

  function formReset() {
    $("report-form").reset();
    state.photos.forEach(function (photo) { if (photo.url) URL.revokeObjectURL(photo.url); });
    state.photos = [];
    photosShow();
    $("category-chosen-row").hidden = true;
    pickerShow(true);
    emergencyShow(null);
    $("nearby").hidden = true;
    state.nearbyKey = null;
    fieldErrorsShow([]);
    var fix = P.position();
    state.place = null;
    if (fix) placeSet({lon: fix.lon, lat: fix.lat, system: "wgs84", accuracy: fix.accuracy, source: "device"});
    else placeShow();
  }

  // --- errors beside their fields ------------------------------------------------------------

  // The form's parts by the API's field names (issues/services/intake.py names every bad
  // field at once): each part has its error line and the control that takes the focus.
  var FIELD_OF = {photos: "photos", category: "category", lon: "place", lat: "place",
                  coord_system: "place", accuracy_m: "place", description: "description"};
  var FIELD_ORDER = ["photos", "place", "category", "description"];

  function fieldFocusTarget(part) {
    if (part === "photos") return $("photo-camera");
    if (part === "place") return $("loc-map-toggle");
    if (part === "description") return $("description");
    return category() || document.querySelector('#category-picker input[name="category"]');
  }

  function fieldErrorClear(part) {
    $(part + "-error").textContent = "";
    $("field-" + part).classList.remove("ph-invalid");
    var target = fieldFocusTarget(part);
    if (target) target.removeAttribute("aria-invalid");
  }

  /* Each error beside its part of the form (the rest above the button); the first part in
   * the form's order is scrolled to the middle of the screen, clear of the sticky bar and
   * button, and its control takes the focus, so that a screen reader reads the error too. */
  function fieldErrorsShow(errors) {
    var byPart = {};
    var general = [];
    errors.forEach(function (error) {
      var part = FIELD_OF[error.field];
      if (part) (byPart[part] = byPart[part] || []).push(error.message);
      else general.push(error.message);
    });
    FIELD_ORDER.forEach(function (part) {
      fieldErrorClear(part);
      if (!byPart[part]) return;
      $(part + "-error").textContent = byPart[part].join(" ");
      $("field-" + part).classList.add("ph-invalid");
      var target = fieldFocusTarget(part);
      target.setAttribute("aria-invalid", "true");
      if (target.getAttribute("aria-describedby") === null) {
        target.setAttribute("aria-describedby", part + "-error");
      }
    });
    $("report-errors").textContent = general.length ? general.join(" ")
      : (errors.length ? t("form_problems") : "");
    var first = FIELD_ORDER.filter(function (part) { return byPart[part]; })[0];
    if (!first) return;
    if (first === "category") pickerShow(true);
    var target = fieldFocusTarget(first);
    if (first === "category" && target.closest("details")) target.closest("details").open = true;
    $(first + "-error").scrollIntoView({block: "center"});
    target.focus({preventScroll: true});
  }

  /* Queue the item, then try to send everything waiting; resolves with what happened to it. */
  function send(item) {
    return CivicOutbox.enqueue(item).then(function () {
      return CivicOutbox.flush("rider");
    }).then(function (result) {
      var sent = result.sent.filter(function (entry) { return entry.item.id === item.id; })[0];
      var refused = result.refused.filter(function (entry) { return entry.id === item.id; })[0];
      if (sent) return {sent: sent.body};
      if (refused) {
        return CivicOutbox.remove(item.id).then(function () { return {refused: refused.errors}; });
      }
      askBackgroundSync();
      return {waiting: true, offline: result.offline, auth: result.auth};
    }).finally(outboxShow);
  }

  /* A confirmation is made on the spot: it carries the device's own position (never a place
     picked on the map or read from a photo), and the server refuses one from too far away. */
  function confirmCase(caseId) {
    var fix = P.position();
    if (!fix) { $("report-errors").textContent = t("confirm_needs_position"); return; }
    var id = P.uuid4();
    var item = {id: id, kind: "confirm", url: P.config.api + "cases/" + caseId + "/confirm/",
                fields: {client_uuid: id, lon: fix.lon.toFixed(7), lat: fix.lat.toFixed(7),
                         coord_system: "wgs84"},
                created_at: new Date().toISOString(),
                files: state.photos.slice(0, 1).map(function (photo) {
                  return {field: "photo", blob: photo.blob, name: photo.name};
                }),
                label: {case: caseId}};
    send(item).then(function (outcome) {
      if (outcome.sent) {
        P.toast(t(outcome.sent.created ? "confirmed" : "already_confirmed", {id: caseId}), "ok");
        formReset();
      } else if (outcome.refused) {
        fieldErrorsShow(outcome.refused);
      } else {
        P.toast(t("queued"));
        formReset();
      }
    });
  }

  $("report-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var chosen = category();
    var problems = [];
    if (!state.photos.length && !(chosen && chosen.hasAttribute("data-photo-optional"))) {
      problems.push({field: "photos", message: t("photo_required")});
    }
    if (!chosen) problems.push({field: "category", message: t("category_required")});
    if (!state.place) problems.push({field: "lon", message: t("position_required")});
    fieldErrorsShow(problems);
    if (problems.length) return;
    var place = state.place;
    var id = P.uuid4();
    var item = {
      id: id, kind: "report", url: P.config.api + "reports/", created_at: new Date().toISOString(),
      fields: {
        client_uuid: id, category: chosen.value, description: $("description").value.trim(),
        lon: place.lon.toFixed(7), lat: place.lat.toFixed(7), coord_system: place.system,
        accuracy_m: place.source === "device" && place.accuracy ? Math.round(place.accuracy) : null
      },
      files: state.photos.map(function (photo) {
        return {field: "photos", blob: photo.blob, name: photo.name};
      }),
      label: {category: chosen.value, name: chosen.dataset.name, icon: chosen.dataset.icon}
    };
    var button = $("report-submit");
    button.disabled = true;
    $("report-errors").textContent = t("sending");
    send(item).then(function (outcome) {
      document.body.dataset.lastSend = outcome.sent ? "sent" : (outcome.refused ? "refused" : "waiting");
      $("report-errors").textContent = "";
      if (outcome.sent) {
        P.toast(t("sent", {id: outcome.sent.properties.case}), "ok");
        formReset();
        mineStale = true;
      } else if (outcome.refused) {
        fieldErrorsShow(outcome.refused);
      } else {
        P.toast(t("queued"));
        formReset();
      }
    }).finally(function () { button.disabled = false; });
  });

  // --- the outbox -----------------------------------------------------------------------------

  function outboxShow() {
    return CivicOutbox.waiting().then(function (items) {
      var list = $("outbox-list");
      list.textContent = "";
      items.forEach(function (item) {
        var title = item.kind === "confirm" ? t("kind_confirm", {id: item.label.case})
          : t("kind_report") + ": " + (item.label.name || item.fields.category);
        var refused = item.state === "refused";
        list.appendChild(el("li", {class: "ph-item ph-outbox-item" + (refused ? " ph-refused" : ""),
                                   data: {id: item.id, state: item.state}}, [
          P.icon(item.kind === "confirm" ? "check" : (item.label.icon || "flag"), "ph-cat-icon"),
          el("div", {class: "ph-item-body"}, [
            el("strong", {text: title}),
            el("span", {class: "ph-muted", text: P.when(item.created_at) + " · " +
              (refused ? t("outbox_refused") : t("outbox_waiting"))}),
            item.errors ? el("span", {class: "ph-error", text: item.errors.map(function (e) {
              return e.message; }).join(" ")}) : null,
            el("button", {type: "button", class: "ph-btn ph-small", text: t("outbox_delete"),
                          on: {click: function () { CivicOutbox.remove(item.id).then(outboxShow); }}})
          ])
        ]));
      });
      var count = items.length;
      $("outbox").hidden = count === 0;
      var badge = $("tab-badge");
      badge.hidden = count === 0;
      badge.textContent = String(count);
      var banner = $("outbox-banner");
      banner.hidden = count === 0;
      banner.textContent = t("outbox_count", {n: count});
      document.body.dataset.outbox = String(count);
      return items;
    });
  }

  function outboxFlush() {
    return CivicOutbox.flush("rider").then(function (result) {
      if (result.sent.length) {
        P.toast(t("outbox_sent_n", {n: result.sent.length}), "ok");
        mineStale = true;
        if (!$("view-mine").hidden) mineShow();
      }
      return outboxShow();
    });
  }

  $("outbox-send").addEventListener("click", outboxFlush);
  window.addEventListener("online", function () { P.toast(t("online_again")); outboxFlush(); });
  if (typeof BroadcastChannel === "function") {
    new BroadcastChannel(CivicOutbox.channelName).addEventListener("message", function () {
      outboxShow();
    });
  }
  setInterval(function () {
    if (navigator.onLine && document.body.dataset.outbox && document.body.dataset.outbox !== "0") outboxFlush();
  }, 60000);

  // --- my reports -----------------------------------------------------------------------------

  var PAGE = 20;  // "my reports" and points come 20 at a time, "More" asks for the next 20

  /* A list asked for a page at a time: ``path`` with the filter's query (``query()``), kept for
   * offline use (the first page); ``items(body)`` the rows of an answer, ``item(row)`` its
   * element, ``empty`` the hint when there is none. "More" (``more``) shows while the answer's
   * ``count`` says more rows match. Resolves when the first page is shown. */
  function pagedList(options) {
    var shown = 0;
    var asked = P.latest();  // a filter switched meanwhile wins
    function url(offset) {
      return options.path + "?limit=" + PAGE + "&offset=" + offset + options.query();
    }
    function add(answer, first) {
      var list = options.list;
      var rows = options.items(answer.body);
      if (first) list.textContent = "";
      if (first && !rows.length) list.appendChild(el("li", {class: "ph-hint", text: options.empty()}));
      rows.forEach(function (row) { list.appendChild(options.item(row)); });
      shown += rows.length;
      options.more.hidden = answer.kept || shown >= answer.body.count;
      return answer;
    }
    options.more.addEventListener("click", function () {
      options.more.disabled = true;
      asked(P.api(url(shown))).then(function (body) { add({body: body}, false); },
                                     function (error) { P.toast(error.message, "error"); })
        .then(function () { options.more.disabled = false; });
    });
    return function load() {
      shown = 0;
      options.more.hidden = true;
      return asked(P.apiKept(url(0))).then(function (answer) { return add(answer, true); });
    };
  }

  /* A segmented filter (``.ph-seg`` buttons with ``data-value``): the chosen value, and
   * ``onChange`` when another is pressed. */
  function segFilter(box, onChange) {
    box.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-value]");
      if (!button || button.getAttribute("aria-pressed") === "true") return;
      box.querySelectorAll("button[data-value]").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other === button));
      });
      onChange(button.dataset.value);
    });
    return function () { return box.querySelector('button[aria-pressed="true"]').dataset.value; };
  }

  // --- my reports -----------------------------------------------------------------------------

  var mineStale = true;
  var mineLoaded = Promise.resolve();  // the list as last asked for
  var mineState = segFilter($("mine-filter"), function () { mineStale = true; mineShow(); });
  var mineLoad = pagedList({
    path: "me/reports/", list: $("mine-list"), more: $("mine-more"),
    query: function () { return "&state=" + mineState(); },
    items: function (body) { return body.features; }, item: mineItem,
    empty: function () { return t(mineState() === "all" ? "mine_empty" : "list_empty"); }
  });

  function mineShow() {
    if (!mineStale) return mineLoaded;
    $("mine-status").textContent = t("loading");
    mineLoaded = mineLoad().then(function (answer) {
      mineStale = !!answer.kept;
      $("mine-status").textContent = answer.kept ? t("saved_copy", {time: P.when(answer.kept)}) : "";
    }, function (error) {
      $("mine-status").textContent = error.message;
    });
    return mineLoaded;
  }

  /* From the inbox: the rider's report of the message's case, opened, in "my reports"; one
   * beyond the pages loaded so far is asked for alone and shown on top of the list. */
  function caseOpen(note) {
    mineStale = true;  // the message tells of a change
    var all = $("mine-filter").querySelector('button[data-value="all"]');
    if (all.getAttribute("aria-pressed") !== "true") all.click();  // the case may be filtered out
    showView("view-mine");  // asks for the list again (onShow)
    mineLoaded.then(function () {
      var item = document.querySelector('#mine-list li[data-case="' + note.case + '"]');
      return item || mineOfCase(note.case);
    }).then(function (item) {
      if (!item) return;
      var button = item.querySelector("button[aria-expanded]");
      if (button.getAttribute("aria-expanded") === "false") button.click();
      item.scrollIntoView({block: "start"});
      button.focus({preventScroll: true});
    });
  }

  /* The rider's report of a case not among the rows loaded (GET me/cases/<id>/report/), put
   * first in "my reports"; null, said in a toast, when it cannot be had: offline, or a 404
   * (no report of theirs there any more). */
  function mineOfCase(caseId) {
    return P.api("me/cases/" + caseId + "/report/").then(function (feature) {
      var list = $("mine-list");
      list.querySelectorAll("li.ph-hint").forEach(function (hint) { hint.remove(); });
      var item = mineItem(feature);
      item.classList.add("ph-opened");
      list.insertBefore(item, list.firstChild);
      return item;
    }, function (error) {
      P.inboxOpenFailed(error);
      return null;
    });
  }

  function mineItem(feature) {
    var report = feature.properties;
    // A row opened alone from the inbox (mineOfCase) gives way to its place in the pages.
    var opened = document.querySelector('#mine-list li.ph-opened[data-report="' + feature.id + '"]');
    if (opened) opened.remove();
    var photo = (report.photos || []).filter(function (p) { return p.thumbnail_url; })[0];
    var details = el("div", {class: "ph-details", hidden: true});
    var item = el("li", {class: "ph-item ph-mine",
                         data: {case: report.case, report: feature.id, stage: report.status}}, [
      photo ? P.authImage(photo.thumbnail_url, "", "ph-photo") : el("span", {class: "ph-photo ph-photo-missing"}),
      el("div", {class: "ph-item-body"}, [
        el("strong", {text: report.category_name}),
        el("span", {class: "ph-muted", text: t("case_n", {id: report.case}) + " · " + P.when(report.received_at)}),
        el("span", {class: "ph-stage", data: {stage: report.status}, text: labels.stages[report.status] || report.status}),
        el("button", {type: "button", class: "ph-btn ph-small", text: t("show_details"),
                      "aria-expanded": "false", on: {click: function () {
                        var open = details.hidden;
                        details.hidden = !open;
                        this.setAttribute("aria-expanded", String(open));
                        if (open && !details.dataset.loaded) caseDetails(report, details);
                      }}}),
        details
      ])
    ]);
    return item;
  }

  function caseDetails(report, box) {
    box.dataset.loaded = "1";
    box.appendChild(el("h4", {text: t("history")}));
    box.appendChild(el("ol", {class: "ph-history"}, (report.history || []).map(function (entry) {
      // A note here is one written to the reporter (a cancellation's reason, the union's reply).
      return el("li", {text: P.when(entry.at) + " " + (labels.events[entry.action] ||
        labels.stages[entry.stage] || entry.action) + (entry.note ? ": " + entry.note : "")});
    })));
    if (["handed_in", "closed", "evaluated"].indexOf(report.status) < 0 || !navigator.onLine) return;
    P.api("cases/" + report.case + "/").then(function (detail) {
      var tasks = detail.tasks.filter(function (task) { return task.note || task.proof_photo; });
      var last = tasks[tasks.length - 1];
      if (last) {
        if (last.note) {
          box.appendChild(el("h4", {text: t("team_note")}));
          box.appendChild(el("p", {class: "ph-note", text: last.note}));
        }
        if (last.proof_photo) {
          box.appendChild(el("h4", {text: t("proof_photo")}));
          box.appendChild(P.authImage(last.proof_photo, t("proof_photo"), "ph-proof"));
        }
      }
      if (detail.allowed_actions.indexOf("rate") >= 0) box.appendChild(rateForm(report.case));
    }, function (error) { box.appendChild(el("p", {class: "ph-error", text: error.message})); });
  }

  function rateForm(caseId) {
    var stars = el("div", {class: "ph-stars", role: "radiogroup", "aria-label": t("rate_title")});
    for (var score = 1; score <= 5; score += 1) {
      var id = "rate-" + caseId + "-" + score;
      stars.appendChild(el("input", {type: "radio", name: "score", value: String(score), id: id,
                                     class: "ph-visually-hidden", required: true}));
      stars.appendChild(el("label", {for: id, title: t("stars", {n: score})}, [P.icon("star"),
        el("span", {class: "ph-visually-hidden", text: t("stars", {n: score})})]));
    }
    var comment = el("textarea", {name: "comment", rows: "2", maxlength: "2000",
                                  "aria-label": t("rate_comment"), placeholder: t("rate_comment")});
    var message = el("p", {class: "ph-message ph-error", id: "rate-" + caseId + "-message",
                           role: "alert"});
    stars.setAttribute("aria-describedby", message.id);
    var form = el("form", {class: "ph-rate ph-stack", novalidate: "novalidate", data: {case: caseId}}, [
      el("h4", {text: t("rate_title")}), stars, comment,
      el("button", {type: "submit", class: "ph-btn ph-primary", text: t("rate_send")}), message
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = form.querySelector('input[name="score"]:checked');
      if (!chosen) {  // the server would refuse it too (400 naming score)
        message.textContent = t("rate_score_required");
        stars.setAttribute("aria-invalid", "true");
        form.querySelector('input[name="score"]').focus();
        return;
      }
      message.textContent = "";
      var body = new FormData();
      body.append("score", chosen.value);
      body.append("comment", comment.value.trim());
      P.api("cases/" + caseId + "/rate/", {method: "POST", form: body}).then(function () {
        form.textContent = "";
        form.appendChild(el("p", {class: "ph-ok", text: t("rated")}));
        mineStale = true;
      }, function (error) { message.textContent = error.message; });
    });
    return form;
  }

  // --- stations and check-in ------------------------------------------------------------------

  var stationsLatest = P.latest();  // "open now" may be switched meanwhile

  function stationsShow() {
    var fix = P.position();
    var status = $("stations-status");
    if (!fix) { status.textContent = t("stations_need_position"); return; }
    state.stationsAt = fix;
    status.textContent = t("loading");
    var query = "stations/nearest/?lon=" + fix.lon.toFixed(6) + "&lat=" + fix.lat.toFixed(6) +
      ($("stations-open").checked ? "&open_now=true" : "");
    stationsLatest(P.apiKept(query)).then(function (answer) {
      status.textContent = answer.kept ? t("saved_copy", {time: P.when(answer.kept)}) : "";
      var list = $("stations-list");
      list.textContent = "";
      if (!answer.body.stations.length) list.appendChild(el("li", {class: "ph-hint", text: t("stations_empty")}));
      answer.body.stations.forEach(function (station) {
        list.appendChild(el("li", {class: "ph-item ph-station", data: {station: station.id}}, [
          P.icon("mug-hot", "ph-cat-icon"),
          el("div", {class: "ph-item-body"}, [
            el("strong", {text: station.name}),
            el("span", {class: "ph-muted", text: P.metres(station.distance_m) + " · " +
              t("walk_min", {min: station.walk_minutes})}),
            el("span", {class: station.open_now ? "ph-open" : "ph-closed", text: openText(station)}),
            el("span", {class: "ph-muted ph-today", text: todayText(station)}),
            el("span", {class: "ph-muted", text: station.address_zh}),
            el("ul", {class: "ph-chips"}, station.services.map(function (service) {
              return el("li", {class: service.member_benefit ? "ph-chip ph-benefit" : "ph-chip",
                               title: service.member_benefit ? t("member_benefit") : null,
                               text: P.config.lang.indexOf("en") === 0 ? service.name_en : service.name_zh});
            })),
            navLinks(station)
          ])
        ]));
      });
    }, function (error) { status.textContent = error.message; });
  }

  /* "Open now", or "Closed · reopens tomorrow 08:00" (the day from the server, Asia/Shanghai). */
  function openText(station) {
    if (station.open_now) return t("open_now");
    var reopens = station.reopens;
    if (!reopens) return t("closed_now");
    var at = reopens.at.slice(11, 16);  // "HH:MM" of the ISO time, already in Beijing time
    var when = reopens.days === 0 ? t("reopens_today", {time: at})
      : reopens.days === 1 ? t("reopens_tomorrow", {time: at})
      : reopens.days < 7 ? t("reopens_on", {day: t("weekday_" + weekday(reopens.at)), time: at})
      : t("reopens_date", {date: reopens.at.slice(5, 10), time: at});
    return t("closed_now") + " · " + when;
  }

  /* Monday = 0, as the server counts, of the ISO date "YYYY-MM-DD…". */
  function weekday(iso) {
    var parts = iso.slice(0, 10).split("-").map(Number);
    return (new Date(Date.UTC(parts[0], parts[1] - 1, parts[2])).getUTCDay() + 6) % 7;
  }

  function todayText(station) {
    if (!station.today.length) return t("today_closed");
    return t("today_hours", {hours: station.today.map(function (interval) {
      return t(interval.next_day ? "hours_next_day" : "hours_span",
               {open: interval.open, close: interval.close});
    }).join(", ")});
  }

  /* The server's links, each in its app's coordinates (civicmap.navigation). */
  function navLinks(station) {
    return el("div", {class: "ph-nav-links"}, [["amap", "nav_amap"], ["baidu", "nav_baidu"],
                                               ["geo", "nav_geo"]].map(function (pair) {
      return el("a", {class: "ph-btn ph-small", href: station.navigation[pair[0]],
                      rel: "noopener noreferrer", data: {nav: pair[0]},
                      "aria-label": t("nav_with", {app: t(pair[1]), name: station.name}),
                      text: t(pair[1])});
    }));
  }

  $("stations-open").addEventListener("change", stationsShow);
  P.onPosition(function (fix) {  // the first fix after the tab was opened without one
    if (!fix.error && !$("view-stations").hidden && !state.stationsAt) stationsShow();
  });

  function checkIn(code) {
    var message = $("checkin-message");
    var fix = P.position();
    if (!fix) { message.textContent = t("checkin_needs_position"); return; }
    if (!navigator.onLine) { message.textContent = t("checkin_needs_network"); return; }
    message.textContent = t("sending");
    delete message.dataset.counted;
    var benefit = $("checkin-benefit").value;
    P.api("stations/checkins/", {method: "POST", json: {
      code: code, lon: fix.lon, lat: fix.lat, coord_system: "wgs84",
      accuracy_m: fix.accuracy ? Math.min(100000, Math.round(fix.accuracy)) : undefined,
      benefit: benefit || undefined
    }}).then(function (body) {
      message.textContent = t(body.counted ? "checkin_done" : "checkin_again",
                              {name: body.checkin.station_name}) +
        (body.benefit ? " " + t("benefit_used", {name: body.benefit.name}) : "");
      $("checkin-benefit").value = "";
      if (body.benefit) benefitChoicesLoad();
      message.className = "ph-message ph-ok";
      message.dataset.counted = String(body.counted);
      $("checkin-code").value = "";
    }, function (error) {
      message.textContent = error.offline ? t("checkin_needs_network") : error.message;
      message.className = "ph-message ph-error";
    });
  }

  /* The card's benefits with uses left, to choose one at check-in (the station checks it). Their
     box, above the "open now" switch, may appear when they arrive and move it: data-loaded says
     they have (tests wait for it before a tap below the box). */
  function benefitChoicesLoad() {
    var box = $("checkin-benefit-box");
    P.api("me/card/").then(function (card) {
      var select = $("checkin-benefit");
      var seen = {};
      while (select.options.length > 1) select.remove(1);
      card.benefits.forEach(function (benefit) {
        if (benefit.remaining <= 0 || seen[benefit.code]) return;
        seen[benefit.code] = true;
        select.appendChild(el("option", {value: benefit.code, text: benefit.name}));
      });
      box.hidden = select.options.length <= 1;
    }, function () { box.hidden = true; }).then(function () { box.dataset.loaded = "true"; });
  }

  $("checkin-scan").addEventListener("click", function () {
    P.scan().then(function (text) { if (text) checkIn(text.trim()); });
  });
  $("checkin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var code = $("checkin-code").value.trim();
    if (code) checkIn(code);
  });

  // --- me: points and signing out -------------------------------------------------------------

  var pointsKind = segFilter($("points-filter"), function () { pointsShow(); });
  var pointsLoad = pagedList({
    path: "me/points/", list: $("points-list"), more: $("points-more"),
    query: function () { return "&kind=" + pointsKind(); },
    items: function (body) { return body.entries; }, item: pointsItem,
    empty: function () { return t(pointsKind() === "all" ? "points_empty" : "list_empty"); }
  });

  function pointsItem(entry) {
    return el("li", {class: "ph-item ph-points-entry"}, [
      el("strong", {class: "ph-points-n", text: (entry.points > 0 ? "+" : "") + entry.points}),
      el("div", {class: "ph-item-body"}, [
        el("span", {text: entry.reason_text}),
        el("span", {class: "ph-muted", text: P.when(entry.at)})
      ])
    ]);
  }

  function pointsShow() {
    var status = $("points-status");
    status.textContent = t("loading");
    pointsLoad().then(function (answer) {
      var points = answer.body;
      status.textContent = answer.kept ? t("saved_copy", {time: P.when(answer.kept)}) : "";
      $("points-summary").hidden = false;
      $("points-total").textContent = String(points.total);
      $("points-month-label").textContent = t("points_month", {month: points.month});
      $("points-month").textContent = String(points.month_total);
    }, function (error) {
      $("points-summary").hidden = true;
      status.textContent = error.status === 404 ? t("points_unavailable") : error.message;
    });
  }

  function meShow() {
    var user = P.auth() && P.auth().user;
    $("me-name").textContent = user ? t("signed_in_as", {name: user.display_name}) : "";
    pointsShow();
  }

  // --- the leaderboard: this month's, the district's or the rider's subdistrict's -------------

  var BOARD_TOP = 10;  // rows listed; the rider's own place is shown below when further down
  var boardScope = segFilter($("board-filter"), function () { boardShow(); });
  var boardAsked = P.latest();
  var homeSubdistrict;  // learnt from the district's board (undefined: not asked yet)

  function boardAsk(subdistrict) {
    return boardAsked(P.apiKept("leaderboard/?limit=" + BOARD_TOP +
                                (subdistrict ? "&subdistrict=" + subdistrict.code : "")));
  }

  function boardShow() {
    var status = $("board-status");
    var list = $("board-list");
    status.textContent = t("loading");
    var district = homeSubdistrict === undefined || boardScope() === "district"
      ? boardAsk(null) : Promise.resolve(null);
    district.then(function (answer) {
      if (answer) homeSubdistrict = answer.body.home_subdistrict || null;
      if (boardScope() === "district") return answer;
      if (!homeSubdistrict) throw new Error(t("board_no_home"));
      return boardAsk(homeSubdistrict);
    }).then(function (answer) {
      var board = answer.body;
      var me = board.me;
      status.textContent = answer.kept ? t("saved_copy", {time: P.when(answer.kept)}) : "";
      $("board-place").textContent = board.subdistrict ? board.subdistrict.name : t("board_district");
      $("board-month").textContent = board.month;
      list.textContent = "";
      if (!board.riders.length) list.appendChild(el("li", {class: "ph-hint", text: t("board_empty")}));
      var listed = false;
      board.riders.forEach(function (row) {
        var mine = !!me && row.rank === me.rank && row.display_name === me.display_name;
        listed = listed || mine;
        list.appendChild(boardItem(row, mine));
      });
      if (me && !listed) {
        list.appendChild(el("li", {class: "ph-board-gap", "aria-hidden": "true", text: "…"}));
        list.appendChild(boardItem(me, true));
      }
      $("board-me").textContent = me ? t("board_me", {rank: me.rank, points: me.points})
        : t("board_not_on");
    }).catch(function (error) { status.textContent = error.message; });
  }

  function boardItem(row, mine) {
    return el("li", {class: mine ? "ph-item ph-board-row ph-board-me" : "ph-item ph-board-row",
                     "aria-current": mine ? "true" : null}, [
      el("strong", {class: "ph-board-rank", text: String(row.rank)}),
      el("div", {class: "ph-item-body"}, [
        el("span", {text: mine ? t("board_you", {name: row.display_name}) : row.display_name}),
        row.community ? el("span", {class: "ph-muted", text: row.community}) : null,
        row.awards.length ? el("ul", {class: "ph-chips"}, row.awards.map(function (award) {
          return el("li", {class: "ph-chip ph-benefit", data: {award: award.kind}, text: award.name});
        })) : null
      ]),
      el("strong", {class: "ph-points-n", text: t("points_n", {n: row.points})})
    ]);
  }

  $("board-open").addEventListener("click", function () { showView("view-board"); });
  $("board-back").addEventListener("click", function () { showView("view-me"); });

  function awardsShow() {
    var status = $("awards-status");
    status.textContent = t("loading");
    P.apiKept("me/awards/").then(function (answer) {
      status.textContent = answer.kept ? t("saved_copy", {time: P.when(answer.kept)}) : "";
      var list = $("awards-list");
      list.textContent = "";
      if (!answer.body.awards.length) list.appendChild(el("li", {class: "ph-hint", text: t("awards_empty")}));
      answer.body.awards.forEach(function (award) {
        list.appendChild(el("li", {class: "ph-item ph-award", data: {award: String(award.id)}}, [
          el("div", {class: "ph-item-body"}, [
            el("strong", {text: award.name}),
            el("span", {class: "ph-muted", text: t("award_of", {month: award.month, place: award.subdistrict.name})})
          ]),
          el("button", {type: "button", class: "ph-btn", text: t("award_certificate"), on: {click: function () {
            P.download(award.certificate, "award-" + award.id + "-" + award.month + ".pdf")
              .catch(function (error) { P.toast(error.message, "error"); });
          }}})
        ]));
      });
    }, function (error) {
      status.textContent = error.message;
    });
  }

  function cardShow() {
    var status = $("card-status");
    status.textContent = t("loading");
    P.apiKept("me/card/").then(function (answer) {
      var card = answer.body;
      status.textContent = answer.kept ? t("saved_copy", {time: P.when(answer.kept)}) : "";
      var list = $("card-benefits");
      list.textContent = "";
      if (card.status === "none") {
        $("card-summary").hidden = true;
        status.textContent = t("card_none");
        return;
      }
      $("card-summary").hidden = false;
      $("card-state").textContent = t("card_status_" + card.status);
      $("card-number").textContent = card.card_number || t("card_no_number");
      card.benefits.forEach(function (benefit) {
        list.appendChild(el("li", {class: "ph-item ph-benefit-item", data: {benefit: benefit.code}}, [
          el("strong", {class: "ph-points-n", text: String(benefit.remaining)}),
          el("div", {class: "ph-item-body"}, [
            el("span", {text: benefit.name}),
            el("span", {class: "ph-muted", text: benefit.subdistrict}),
            el("span", {class: "ph-muted", text: card.status === "suspended"
              ? t("benefit_suspended")
              : t("benefit_left", {left: benefit.remaining, limit: benefit.member_limit})})
          ])
        ]));
      });
    }, function (error) {
      $("card-summary").hidden = true;
      status.textContent = error.message;
    });
  }

  $("sign-out").addEventListener("click", function () {
    CivicOutbox.waiting().then(function (items) {
      if (items.length && !window.confirm(t("sign_out_waiting", {n: items.length}))) return;
      return Promise.all(items.map(function (item) { return CivicOutbox.remove(item.id); }))
        .then(function () { return P.signOut(); });
    });
  });

  // --- start ----------------------------------------------------------------------------------

  var showView = null;
  var inbox = null;

  function onShow(viewId) {
    if (viewId === "view-mine") { outboxShow(); mineShow(); }
    if (viewId === "view-inbox") inbox.show();
    if (viewId === "view-stations") { stationsShow(); if (navigator.onLine) benefitChoicesLoad(); }
    if (viewId === "view-me") { meShow(); awardsShow(); cardShow(); }
    if (viewId === "view-board") boardShow();
  }

  P.signedIn().then(function (auth) {
    if (auth.user && !auth.user.rider) P.toast(t("not_rider"), "error");
    document.addEventListener("phone:user", function (event) {
      if (!event.detail.rider) P.toast(t("not_rider"), "error");
    });
    showView = P.tabs(onShow);
    inbox = P.inbox(caseOpen);
    P.positionWatch();
    placeShow();
    outboxShow().then(function (items) { if (items.length && navigator.onLine) outboxFlush(); });
    document.body.dataset.ready = "1";
  });
})();
