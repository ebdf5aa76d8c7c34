/*
 * The office's dispatch panel (docs/DECISIONS.md D-058):
 *
 *   window.civicmap.dispatchPanel(container, {caseId, apiRoot, csrf, labels, onDone})
 *
 * reads GET {apiRoot}cases/{caseId}/dispatch-options/ and shows the routing's suggestion first
 * with the rule that chose it, every other team and department with its open and overdue
 * tasks, the case's priority, the resolution deadline with its bounds and a reason; it posts
 * the choice to the lifecycle API ({apiRoot}cases/{caseId}/dispatch/ or redispatch/) with the
 * session and the CSRF token. Errors are shown beside their fields (aria-invalid,
 * aria-describedby). ``labels`` are the page's translated words (frontend.maps.console
 * dispatch_labels); ``onDone(case)`` runs after a dispatch went through.
 *
 * All server text goes into the page with textContent.
 */
(function () {
  "use strict";

  var counter = 0;

  // Shared DOM and text helpers (civicmap-map.js, loaded before this script).
  var el = window.civicmap.el;
  var format = window.civicmap.format;

  function pad(number) { return (number < 10 ? "0" : "") + number; }

  /* An ISO time as the value of a datetime-local input (the browser's local time, minutes). */
  function localValue(iso) {
    var d = new Date(iso);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function shown(iso, locale) {
    return new Date(iso).toLocaleString(locale, {hour12: false, year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"});
  }

  function requestJson(url, options) {
    return fetch(url, options).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw body; }
        return body;
      }, function () { throw {}; });
    });
  }

  window.civicmap = window.civicmap || {};

  window.civicmap.dispatchPanel = function (container, config) {
    var labels = config.labels;
    var id = "dispatch-" + config.caseId + "-" + (++counter);
    var form = el("form", "dispatch-panel");
    form.noValidate = true;
    form.setAttribute("aria-label", labels.title);
    container.textContent = "";
    container.appendChild(form);
    var status = el("p", "dispatch-status", labels.loading);
    status.setAttribute("role", "status");
    form.appendChild(status);

    requestJson(config.apiRoot + "cases/" + config.caseId + "/dispatch-options/", {
      credentials: "same-origin", headers: {Accept: "application/json"}
    }).then(render, function (body) {
      status.textContent = messages(body) || labels.loadFailed;
    });

    function messages(body) {
      if (body && body.errors && body.errors.length) {
        return body.errors.map(function (e) { return e.message; }).join(" ");
      }
      return "";
    }

    /* An error line under a field, tied to it for assistive technology. */
    function errorFor(field, input) {
      var line = el("p", "dispatch-error");
      line.id = id + "-" + field + "-error";
      line.setAttribute("data-field", field);
      if (input) {
        var described = input.getAttribute("aria-describedby");
        input.setAttribute("aria-describedby", (described ? described + " " : "") + line.id);
      }
      return line;
    }

    function field(labelText, input, name) {
      var box = el("div", "dispatch-field");
      input.id = id + "-" + name;
      input.name = name;
      var label = el("label", null, labelText);
      label.htmlFor = input.id;
      box.appendChild(label);
      box.appendChild(input);
      return box;
    }

    function render(options) {
      form.textContent = "";
      form.setAttribute("data-loaded", "true");
      form.appendChild(el("h4", "dispatch-title", labels.title));

      // Who: the suggestion first (with its rule), then every other handler with its load.
      var who = el("fieldset", "dispatch-handlers");
      who.appendChild(el("legend", null, labels.handler));
      if (options.suggestion) {
        var rule = el("p", "dispatch-rule");
        rule.appendChild(el("strong", null, labels.suggested + " "));
        rule.appendChild(el("span", "dispatch-rule-text",
          format(labels.suggestedBy, {name: options.suggestion.name,
                                      rule: options.suggestion.rule.text})));
        who.appendChild(rule);
      } else {
        who.appendChild(el("p", "dispatch-rule", labels.noSuggestion));
      }
      var table = el("table", "dispatch-load");
      var caption = el("caption", null, labels.loadCaption);
      table.appendChild(caption);
      var head = el("tr");
      [labels.chooseColumn, labels.handlerColumn, labels.kindColumn, labels.openColumn,
       labels.overdueColumn].forEach(function (text) {
        var th = el("th", null, text);
        th.scope = "col";
        head.appendChild(th);
      });
      var thead = el("thead");
      thead.appendChild(head);
      table.appendChild(thead);
      var body = el("tbody");
      var union = options.suggestion && options.suggestion.kind === "union";
      var rows = options.handlers.slice();
      if (union) {
        rows.unshift({kind: "union", id: null, name: options.suggestion.name, open: null,
                      overdue: null, suggested: true});
      }
      rows.forEach(function (handler, index) {
        var tr = el("tr", handler.suggested ? "dispatch-suggested" : null);
        var radio = el("input");
        radio.type = "radio";
        radio.name = id + "-handler";
        radio.id = id + "-handler-" + index;
        radio.value = handler.kind + ":" + (handler.id === null ? "" : handler.id);
        radio.checked = Boolean(handler.suggested);
        radio.setAttribute("data-kind", handler.kind);
        if (handler.code) { radio.setAttribute("data-code", handler.code); }
        var cell = el("td");
        cell.appendChild(radio);
        tr.appendChild(cell);
        var name = el("td");
        var label = el("label", null, handler.name);
        label.htmlFor = radio.id;
        name.appendChild(label);
        if (handler.suggested) { name.appendChild(el("span", "dispatch-badge", labels.suggested)); }
        tr.appendChild(name);
        tr.appendChild(el("td", null, labels.kinds[handler.kind] || handler.kind));
        tr.appendChild(el("td", "dispatch-open", handler.open === null ? "—" : handler.open));
        tr.appendChild(el("td", "dispatch-overdue",
                          handler.overdue === null ? "—" : handler.overdue));
        body.appendChild(tr);
      });
      table.appendChild(body);
      var scroller = el("div", "dispatch-table");
      scroller.appendChild(table);
      who.appendChild(scroller);
      var handlerError = errorFor("team", null);
      who.appendChild(handlerError);
      form.appendChild(who);

      // How soon: the priority and the resolution deadline within its bounds.
      var priority = el("select", "dispatch-priority");
      options.priorities.forEach(function (choice) {
        var option = el("option", null, choice.label);
        option.value = choice.code;
        option.selected = choice.code === options.priority;
        priority.appendChild(option);
      });
      var priorityBox = field(labels.priority, priority, "priority");
      priorityBox.appendChild(el("p", "dispatch-hint", labels.priorityHint));
      priorityBox.appendChild(errorFor("priority", priority));
      form.appendChild(priorityBox);

      var deadline = el("input", "dispatch-deadline");
      deadline.type = "datetime-local";
      var initial = localValue(options.deadline.resolution_default);
      deadline.value = initial;
      deadline.min = localValue(options.deadline.earliest);
      deadline.max = localValue(options.deadline.latest);
      var deadlineBox = field(labels.deadline, deadline, "resolution_due");
      var bounds = el("p", "dispatch-hint", format(labels.bounds, {
        earliest: shown(options.deadline.earliest, labels.locale),
        latest: shown(options.deadline.latest, labels.locale)}));
      bounds.id = id + "-bounds";
      deadline.setAttribute("aria-describedby", bounds.id);
      deadlineBox.appendChild(bounds);
      deadlineBox.appendChild(errorFor("resolution_due", deadline));
      form.appendChild(deadlineBox);

      var reason = el("input", "dispatch-reason");
      reason.type = "text";
      reason.maxLength = 200;
      var reasonBox = field(labels.reason, reason, "reason");
      var reasonHint = el("p", "dispatch-hint", labels.reasonHint);
      reasonHint.id = id + "-reason-hint";
      reason.setAttribute("aria-describedby", reasonHint.id);
      reasonBox.appendChild(reasonHint);
      reasonBox.appendChild(errorFor("reason", reason));
      form.appendChild(reasonBox);

      var submit = el("button", "dispatch-submit", options.action === "redispatch"
        ? labels.redispatchButton : labels.dispatchButton);
      submit.type = "submit";
      form.appendChild(submit);
      var message = el("p", "dispatch-message");
      message.setAttribute("role", "status");
      form.appendChild(message);

      form.addEventListener("submit", function (event) {
        event.preventDefault();
        clearErrors();
        var payload = {};
        var chosen = form.querySelector('input[name="' + id + '-handler"]:checked');
        if (chosen && chosen.getAttribute("data-kind") !== "union") {
          payload[chosen.getAttribute("data-kind")] = Number(chosen.value.split(":")[1]);
        }
        var changed = false;
        if (priority.value !== options.priority) {
          payload.priority = priority.value;
          changed = true;
        }
        if (deadline.value !== initial) {
          if (!deadline.value || isNaN(new Date(deadline.value).getTime())) {
            show({field: "resolution_due", message: labels.deadlineInvalid});
            return;
          }
          payload.resolution_due = new Date(deadline.value).toISOString();
          changed = true;
        }
        if (reason.value.trim()) { payload.reason = reason.value.trim(); }
        if (changed && !payload.reason) {  // the server says the same; say it before asking
          show({field: "reason", message: labels.reasonRequired});
          reason.focus();
          return;
        }
        submit.disabled = true;
        message.textContent = labels.sending;
        requestJson(config.apiRoot + "cases/" + config.caseId + "/" + options.action + "/", {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "Accept": "application/json",
                    "X-CSRFToken": config.csrf},
          body: JSON.stringify(payload)
        }).then(function (done) {
          message.textContent = labels.done;
          form.setAttribute("data-done", "true");
          if (config.onDone) { config.onDone(done); }
        }, function (failure) {
          submit.disabled = false;
          message.textContent = "";
          var errors = (failure && failure.errors) || [];
          if (!errors.length) { message.textContent = labels.sendFailed; }
          errors.forEach(show);
        });
      });
    }

    function clearErrors() {
      form.querySelectorAll(".dispatch-error").forEach(function (line) {
        line.textContent = "";
      });
      form.querySelectorAll("[aria-invalid]").forEach(function (input) {
        input.removeAttribute("aria-invalid");
      });
    }

    /* An error beside its field (team and department share the handlers' line); any other
       under the button. */
    function show(error) {
      var name = error.field === "department" ? "team" : error.field;
      var line = name ? form.querySelector('.dispatch-error[data-field="' + name + '"]') : null;
      if (!line) {
        var message = form.querySelector(".dispatch-message");
        message.textContent = [message.textContent, error.message].join(" ").trim();
        return;
      }
      line.textContent = [line.textContent, error.message].join(" ").trim();
      var input = form.querySelector('[name="' + name + '"]');
      if (input) { input.setAttribute("aria-invalid", "true"); }
    }
  };
})();
