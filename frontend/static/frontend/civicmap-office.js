/*
 * The office's triage console (/office/): open cases on the map and in a list, refreshed by
 * polling; a click shows the case from GET /api/v1/cases/{id}/ (photos, reports, tasks,
 * allowed_actions, transfer_to) and its history from /events/, and the action buttons POST
 * /api/v1/cases/{id}/{action}/ with the session and the CSRF token (a transfer with the
 * subdistrict chosen in its select).
 *
 * The list's filters, paging, keys and bulk actions are civicmap-office-list.js's; the feed is
 * asked with the page URL's query (the filters), so polling keeps them.
 *
 * All case text goes into the page with textContent; photo URLs must be our own paths.
 */
(function () {
  "use strict";

  // Shared DOM and text helpers (civicmap-map.js, loaded before this script).
  var el = window.civicmap.el;
  var format = window.civicmap.format;

  function ownPath(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/";
  }

  window.civicmap = window.civicmap || {};

  window.civicmap.officeConsole = function (map, config) {
    var cluster = window[config.cluster];
    var root = document.getElementById("office-console");
    var list = document.getElementById("office-list");
    var status = document.getElementById("office-status");
    var detail = document.getElementById("office-detail");
    var csrf = root.getAttribute("data-csrf");
    var known = {};  // case id -> {data, item, marker}
    var firstLoad = true;
    var selected = null;
    var timer = null;
    var asked = 0;  // the latest feed request: an older answer (other filters) is dropped
    var listUi = window.civicmap.officeList(config, {
      reload: function () {
        Object.keys(known).forEach(function (id) {
          cluster.removeLayer(known[id].marker);
          known[id].item.remove();
          delete known[id];
        });
        firstLoad = true;
        poll();
      },
      open: function (id) { select(Number(id)); },
      items: function () { return Array.prototype.slice.call(list.children); }
    });

    function when(iso) {
      return new Date(iso).toLocaleString(config.locale, {hour12: false});
    }

    function stageInfo(stage) {
      return config.stages[stage] || {colour: "#777777", label: stage};
    }

    function stageBadge(stage) {
      var info = stageInfo(stage);
      var badge = el("span", "office-stage", info.label);
      badge.style.backgroundColor = info.colour;  // CSSOM, allowed by the CSP
      badge.setAttribute("data-stage", stage);
      return badge;
    }

    function fillItem(item, data) {
      item.textContent = "";
      var head = el("div", "office-case-head");
      head.appendChild(el("span", "office-case-id", "#" + data.id));
      head.appendChild(stageBadge(data.stage));
      if (item.classList.contains("office-case-new")) {
        head.appendChild(el("span", "office-new", config.text["new"]));
      }
      item.appendChild(head);
      item.appendChild(el("div", "office-case-title", data.category_name));
      item.appendChild(el("div", "office-case-meta",
        [data.community || "", format(config.text.reportCount, {count: data.report_count}),
         when(data.last_report_at)].filter(Boolean).join(" · ")));
      listUi.decorate(item, data);
      item.setAttribute("aria-current", String(data.id) === String(selected) ? "true" : "false");
    }

    function markerFor(data) {
      var info = stageInfo(data.stage);
      var marker = L.circleMarker([data.lat, data.lon], {
        radius: 8, color: "#ffffff", weight: 2, fillColor: info.colour, fillOpacity: 0.95,
        className: "office-marker office-marker-" + data.stage
      });
      marker.caseId = data.id;
      marker.bindTooltip(function () {
        var current = known[data.id] ? known[data.id].data : data;
        return el("span", null, "#" + current.id + " " + current.category_name);
      });
      marker.on("click", function () { select(data.id); });
      return marker;
    }

    function add(data, isNew) {
      var item = el("li", "office-case" + (isNew ? " office-case-new" : ""));
      item.setAttribute("data-case", data.id);
      item.tabIndex = -1;  // one item in the tab order (update); the keys move between them
      item.addEventListener("click", function () { select(data.id); });
      fillItem(item, data);
      var marker = markerFor(data);
      cluster.addLayer(marker);
      known[data.id] = {data: data, item: item, marker: marker};
    }

    /* Update a case in place: the same marker object, so that a pan or spiderfy that the
       cluster group is animating for it is never left holding a removed layer. */
    function change(entry, data) {
      var old = entry.data;
      if (old.stage === data.stage && old.report_count === data.report_count &&
          old.lat === data.lat && old.lon === data.lon && old.due === data.due &&
          old.priority === data.priority && old.handler === data.handler) { return; }
      entry.data = data;
      var marker = entry.marker;
      if (old.stage !== data.stage) {
        var className = "office-marker office-marker-" + data.stage;
        marker.options.className = className;  // used when the cluster re-adds the marker
        marker.setStyle({fillColor: stageInfo(data.stage).colour});
        var path = marker.getElement();
        if (path) {
          path.classList.remove("office-marker-" + old.stage);
          path.classList.add("office-marker-" + data.stage);
        }
      }
      if (old.lat !== data.lat || old.lon !== data.lon) {
        marker.setLatLng([data.lat, data.lon]);  // the cluster group follows the move
      }
      fillItem(entry.item, data);
    }

    function update(payload) {
      var seen = {};
      payload.cases.forEach(function (data) {
        seen[data.id] = true;
        if (known[data.id]) { change(known[data.id], data); } else { add(data, !firstLoad); }
      });
      Object.keys(known).forEach(function (id) {
        if (!seen[id]) {
          cluster.removeLayer(known[id].marker);
          known[id].item.remove();
          delete known[id];
        }
      });
      payload.cases.forEach(function (data) { list.appendChild(known[data.id].item); });
      if (!list.querySelector('.office-case[tabindex="0"]') && list.firstChild) {
        list.firstChild.tabIndex = 0;
      }
      firstLoad = false;
      status.classList.remove("office-error");
      status.textContent = payload.total ? format(
        payload.total_capped ? config.text.openCasesMore : config.text.openCases, {
        count: payload.total, time: new Date().toLocaleTimeString(config.locale,
                                                                  {hour12: false})})
        : config.text.noCases;
      listUi.pagerShow(payload);
      listUi.errorsShow(null);
      root.setAttribute("data-loaded", String(payload.total));
      root.setAttribute("data-query", window.location.search);
    }

    /* The list first, then the counts beside the filters (the slower read: the list never
       waits for it, and counts that fail to load leave the last ones shown). */
    function poll() {
      window.clearTimeout(timer);
      var mine = ++asked;
      getJson(listUi.feedUrl("0"))
        .then(function (payload) {
          if (mine !== asked) { return; }
          update(payload);
          return getJson(listUi.feedUrl("only")).then(function (counted) {
            if (mine === asked) {
              listUi.facetsShow(counted.facets);
              root.setAttribute("data-counted", window.location.search);
            }
          }, function () {});
        })
        .catch(function (body) {
          if (mine !== asked) { return; }
          status.classList.add("office-error");
          status.textContent = body && body.errors ? errorText(body) : config.text.loadFailed;
          listUi.errorsShow(body);
        })
        .then(function () {
          if (mine === asked) { timer = window.setTimeout(poll, config.pollMs); }
        });
    }

    function getJson(url) {
      return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) { throw body; }
            return body;
          });
        });
    }

    function errorText(body) {
      if (body && body.errors && body.errors.length) {
        return body.errors.map(function (e) { return e.message; }).join(" ");
      }
      return config.text.loadFailed;
    }

    function section(title) {
      var box = el("section", "office-section");
      box.appendChild(el("h3", null, title));
      return box;
    }

    function renderDetail(data, events) {
      detail.textContent = "";
      showDetail(true);
      var close = el("button", "office-close", "×");
      close.type = "button";
      close.setAttribute("aria-label", config.text.close);
      close.addEventListener("click", function () { showDetail(false); selected = null; });
      detail.appendChild(close);
      var title = el("h2", "office-detail-title", "#" + data.id + " " + data.category_name);
      detail.appendChild(title);
      var meta = el("div", "office-detail-meta");
      meta.appendChild(stageBadge(data.stage));
      meta.appendChild(el("span", null, " " + (data.community || "")));
      if (data.priority && data.priority !== "normal") {  // urgent or high, in words
        var level = config.priorities.filter(function (p) { return p[0] === data.priority; });
        var badge = el("span", "office-priority-badge", level.length ? level[0][1] : "");
        badge.setAttribute("data-priority", data.priority);
        meta.appendChild(badge);
      }
      detail.appendChild(meta);
      var page = el("a", "office-case-page", config.text.casePage);
      page.href = "/office/case/" + encodeURIComponent(data.id) + "/";
      detail.appendChild(page);

      var actions = section(config.text.actions);
      var allowed = config.actions.filter(function (pair) {
        return data.allowed_actions.indexOf(pair[0]) >= 0;
      });
      if (allowed.length) {
        var note = el("input", "office-note");
        note.type = "text";
        note.maxLength = 200;
        note.placeholder = config.text.note;
        note.setAttribute("aria-label", config.text.note);
        actions.appendChild(note);
        var buttons = el("div", "office-actions");
        allowed.forEach(function (pair) {
          var target = null;
          if (pair[0] === "transfer") {
            if (!data.transfer_to || !data.transfer_to.length) { return; }
            target = transferSelect(data.transfer_to);
            buttons.appendChild(target);
          }
          if (pair[0] === "prioritise") {  // with the note as its reason
            target = prioritySelect(data.priority);
            buttons.appendChild(target);
          }
          var button = el("button", "office-action", pair[1]);
          button.type = "button";
          button.setAttribute("data-action", pair[0]);
          button.addEventListener("click", function () {
            if (pair[0] === "dispatch" || pair[0] === "redispatch") {
              openDispatch(data.id);  // the panel: handler, priority, deadline, reason
              return;
            }
            var extra = !target ? {} : pair[0] === "prioritise" ? {priority: target.value}
              : {subdistrict: target.value};
            act(data.id, pair[0], note.value, extra);
          });
          buttons.appendChild(button);
        });
        actions.appendChild(buttons);
      } else {
        actions.appendChild(el("p", "office-muted", config.text.noActions));
      }
      actions.appendChild(el("p", "office-message"));
      actions.appendChild(el("div", "office-dispatch"));
      detail.appendChild(actions);

      var reports = section(config.text.reports);
      data.reports.forEach(function (report) {
        var box = el("div", "office-report");
        box.appendChild(el("div", "office-muted", when(report.received_at)));
        box.appendChild(el("p", "office-description", report.description));
        var photos = el("div", "office-photos");
        (report.photos || []).filter(ownPath).forEach(function (url) {
          var img = el("img");
          img.src = url;
          img.alt = config.text.photos;
          img.loading = "lazy";
          photos.appendChild(img);
        });
        box.appendChild(photos);
        reports.appendChild(box);
      });
      detail.appendChild(reports);

      if (data.tasks && data.tasks.length) {
        var tasks = section(config.text.tasks);
        data.tasks.forEach(function (task) {
          tasks.appendChild(el("div", "office-task",
            [task.handler || "", (config.taskStatuses || {})[task.status] || task.status,
             task.note || ""].filter(Boolean).join(" · ")));
        });
        detail.appendChild(tasks);
      }

      var history = section(config.text.history);
      var ol = el("ol", "office-history");
      events.forEach(function (event) {
        var stages = event.to && event.to !== event.from ? " → " + stageInfo(event.to).label : "";
        var label = config.events[event.action] || event.action;
        ol.appendChild(el("li", null, when(event.at) + " " + label + stages +
          (event.note ? " — " + event.note : "")));
      });
      history.appendChild(ol);
      detail.appendChild(history);
    }

    function openDispatch(id) {
      window.civicmap.dispatchPanel(detail.querySelector(".office-dispatch"), {
        caseId: id, apiRoot: config.api, csrf: csrf, labels: config.dispatchLabels,
        onDone: function () { select(id); poll(); }
      });
    }

    function prioritySelect(current) {
      var select = el("select", "office-priority");
      select.setAttribute("aria-label", config.text.priority);
      config.priorities.forEach(function (pair) {
        var option = el("option", null, pair[1]);
        option.value = pair[0];
        option.selected = pair[0] === current;
        select.appendChild(option);
      });
      return select;
    }

    function transferSelect(places) {
      var select = el("select", "office-transfer");
      select.setAttribute("aria-label", config.text.transferTo);
      places.forEach(function (place) {
        var option = el("option", null, place.name);
        option.value = place.code;
        select.appendChild(option);
      });
      return select;
    }

    function showDetail(open) {
      detail.hidden = !open;
      root.classList.toggle("office-detail-open", open);
      map.invalidateSize();
    }

    /* The chosen case stands out on the map: a larger marker with a dark ring, drawn on top. */
    function highlight(id) {
      Object.keys(known).forEach(function (key) {
        var entry = known[key];
        var chosen = String(key) === String(id);
        entry.item.classList.toggle("office-case-selected", chosen);
        entry.item.setAttribute("aria-current", chosen ? "true" : "false");
        entry.marker.setStyle(chosen ? {radius: 13, color: "#111111", weight: 4}
                                     : {radius: 8, color: "#ffffff", weight: 2});
        var path = entry.marker.getElement();
        if (path) { path.classList.toggle("office-marker-chosen", chosen); }
        entry.marker.options.className = "office-marker office-marker-" + entry.data.stage +
          (chosen ? " office-marker-chosen" : "");
        if (chosen && path) { entry.marker.bringToFront(); }
      });
    }

    function select(id) {
      selected = id;
      highlight(id);
      if (known[id]) {
        known[id].item.classList.remove("office-case-new");
        fillItem(known[id].item, known[id].data);
        cluster.zoomToShowLayer(known[id].marker, function () { highlight(selected); });
      }
      Promise.all([getJson(config.api + "cases/" + id + "/"),
                   getJson(config.api + "cases/" + id + "/events/")])
        .then(function (results) {
          if (selected === id) { renderDetail(results[0], results[1].events); }
        })
        .catch(function (body) {
          if (selected !== id) return;  // another case was clicked meanwhile
          showDetail(true);
          detail.textContent = errorText(body);
        });
    }

    function act(id, action, text, extra) {
      var message = detail.querySelector(".office-message");
      detail.querySelectorAll(".office-action").forEach(function (b) { b.disabled = true; });
      fetch(config.api + "cases/" + id + "/" + action + "/", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": csrf},
        body: JSON.stringify(Object.assign(text ? {reason: text, note: text} : {}, extra))
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw body; }
          return body;
        });
      }).then(function () {
        if (action === "transfer") {  // no longer this office's case: out of its list
          detail.textContent = "";
          detail.appendChild(el("p", "office-message", config.text.transferred));
        } else {
          select(id);
        }
        poll();
      }).catch(function (body) {
        message.textContent = errorText(body);
        detail.querySelectorAll(".office-action").forEach(function (b) { b.disabled = false; });
      });
    }

    poll();
  };
})();
