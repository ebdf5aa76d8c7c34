/*
 * The office console's list controls (/office/): the search and filter form, whose state lives
 * in the page's URL (pushState on a change, popstate restores it, so a shared URL opens the
 * same view and Back returns to the previous filters); the counts beside each filter; paging;
 * keyboard navigation (/ search, j/k or arrows move, Enter opens, x selects); and bulk actions
 * on the selected cases (POST to the bulk endpoint, one outcome per case shown).
 *
 * civicmap-office.js owns the cases (items and markers) and calls in here; all text goes in
 * with textContent.
 */
(function () {
  "use strict";

  // Shared DOM and text helpers (civicmap-map.js, loaded before this script).
  var el = window.civicmap.el;
  var format = window.civicmap.format;

  window.civicmap = window.civicmap || {};

  /* hooks: reload() fetches the list again from the first case; open(id) shows a case;
     items() the list's items in order. */
  window.civicmap.officeList = function (config, hooks) {
    var form = document.getElementById("office-filters");
    var list = document.getElementById("office-list");
    var search = form.elements.q;
    var pageLabel = document.getElementById("office-page");
    var prev = document.getElementById("office-prev");
    var next = document.getElementById("office-next");
    var selectAll = document.getElementById("office-select-all");
    var bulkAction = document.getElementById("office-bulk-action");
    var bulkReason = document.getElementById("office-bulk-reason");
    var bulkApply = document.getElementById("office-bulk-apply");
    var bulkResult = document.getElementById("office-bulk-result");
    var checked = {};  // case id -> true
    var pages = 1;
    var csrf = document.getElementById("office-console").getAttribute("data-csrf");

    // Each select's option words without a count, to write the counts beside them.
    Array.prototype.forEach.call(form.querySelectorAll("select option"), function (option) {
      option.setAttribute("data-label", option.textContent);
    });
    config.bulkActions.forEach(function (pair) {
      var option = el("option", null, pair[1]);
      option.value = pair[0];
      bulkAction.appendChild(option);
    });

    /* The form's state as a query string: only the fields that are set. */
    function formQuery() {
      var params = new URLSearchParams();
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.name && field.value && field.type !== "submit") {
          params.set(field.name, field.value);
        }
      });
      if (params.get("page") === "1") { params.delete("page"); }
      if (params.get("sort") === form.elements.sort.options[0].value) { params.delete("sort"); }
      return params;
    }

    /* The form set from a query string (the URL's), every field not in it emptied. */
    function formFill(params) {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || field.type === "submit") { return; }
        var value = params.get(field.name);
        if (field.tagName === "SELECT" && !value && field.name === "sort") {
          field.selectedIndex = 0;
        } else {
          field.value = value || "";
        }
      });
    }

    /* The list's data: "0" the page without the counts, "only" the counts alone. */
    function feedUrl(facets) {
      var params = new URLSearchParams(window.location.search);
      params.set("facets", facets);
      var query = params.toString();
      return config.feed + (query ? "?" + query : "");
    }

    function changed(push) {
      var params = formQuery();
      var query = params.toString();
      var url = window.location.pathname + (query ? "?" + query : "");
      if (push) {
        window.history.pushState({query: query}, "", url);
      } else {
        window.history.replaceState({query: query}, "", url);
      }
      clearChecked();
      hooks.reload();
    }

    function setPage(page) {
      form.elements.page.value = page > 1 ? String(page) : "";
      changed(true);
    }

    form.addEventListener("change", function (event) {
      if (event.target === search) { return; }  // searched on Enter / the button
      form.elements.page.value = "";
      changed(true);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      form.elements.page.value = "";
      changed(true);
    });
    window.addEventListener("popstate", function () {
      formFill(new URLSearchParams(window.location.search));
      clearChecked();
      hooks.reload();
    });
    prev.addEventListener("click", function () {
      setPage(Math.max(1, Number(form.elements.page.value || 1) - 1));
    });
    next.addEventListener("click", function () {
      setPage(Number(form.elements.page.value || 1) + 1);
    });

    /* The counts beside each option (0 when the facet has none of it); "All" keeps its word. */
    function facetsShow(facets) {
      if (!facets) { return; }
      Object.keys(facets).forEach(function (name) {
        var select = form.elements[name];
        if (!select || select.tagName !== "SELECT") { return; }
        Array.prototype.forEach.call(select.options, function (option) {
          if (!option.value) { return; }
          var n = facets[name][option.value] || 0;
          option.textContent = option.getAttribute("data-label") + " (" + n + ")";
        });
      });
    }

    function pagerShow(payload) {
      pages = payload.pages || 1;
      pageLabel.textContent = format(config.text.pageOf, {page: payload.page, pages: pages});
      prev.disabled = payload.page <= 1;
      next.disabled = payload.page >= pages;
    }

    function errorsShow(body) {
      // A 400 names the field: mark it, so the form says what is wrong.
      Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (f) {
        f.removeAttribute("aria-invalid");
      });
      ((body && body.errors) || []).forEach(function (error) {
        var field = error.field && form.elements[error.field];
        if (field && field.setAttribute) { field.setAttribute("aria-invalid", "true"); }
      });
    }

    // --- the items: a checkbox each, keyboard navigation -------------------------------------

    function decorate(item, data) {
      var box = el("input", "office-check");
      box.type = "checkbox";
      box.checked = !!checked[data.id];
      box.tabIndex = -1;
      box.setAttribute("aria-label", format(config.text.selectCase, {id: data.id}));
      box.addEventListener("click", function (event) { event.stopPropagation(); });
      box.addEventListener("change", function () { check(data.id, box.checked); });
      item.insertBefore(box, item.firstChild);
      var head = item.querySelector(".office-case-head");
      if (data.priority && data.priority !== "normal") {
        var level = config.priorities.filter(function (p) { return p[0] === data.priority; });
        var badge = el("span", "office-priority office-priority-" + data.priority,
                       level.length ? level[0][1] : "");
        head.appendChild(badge);
      }
      if (data.due) {
        head.appendChild(el("span", "office-due office-due-" + data.due, config.dues[data.due]));
      }
      if (data.handler) {
        item.appendChild(el("div", "office-case-meta",
                            format(config.text.handler, {name: data.handler})));
      }
    }

    function check(id, on) {
      if (on) { checked[id] = true; } else { delete checked[id]; }
      var items = hooks.items();
      selectAll.checked = items.length > 0 && items.every(function (item) {
        return checked[item.getAttribute("data-case")];
      });
      bulkApply.disabled = Object.keys(checked).length === 0;
    }

    function clearChecked() {
      checked = {};
      selectAll.checked = false;
      bulkApply.disabled = true;
    }

    selectAll.addEventListener("change", function () {
      var on = selectAll.checked;  // check() below sets the box from the items as they go
      hooks.items().forEach(function (item) {
        item.querySelector(".office-check").checked = on;
        check(item.getAttribute("data-case"), on);
      });
    });

    function focusItem(item) {
      hooks.items().forEach(function (other) { other.tabIndex = other === item ? 0 : -1; });
      item.focus();
      item.scrollIntoView({block: "nearest"});
    }

    list.addEventListener("keydown", function (event) {
      var items = hooks.items();
      var index = items.indexOf(document.activeElement);
      if (index < 0) { return; }
      var key = event.key;
      if (key === "j" || key === "ArrowDown") {
        focusItem(items[Math.min(items.length - 1, index + 1)]);
      } else if (key === "k" || key === "ArrowUp") {
        focusItem(items[Math.max(0, index - 1)]);
      } else if (key === "Enter") {
        hooks.open(items[index].getAttribute("data-case"));
      } else if (key === "x" || key === " ") {
        var box = items[index].querySelector(".office-check");
        box.checked = !box.checked;
        check(items[index].getAttribute("data-case"), box.checked);
      } else {
        return;
      }
      event.preventDefault();
    });

    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target && (target.tagName === "INPUT" || target.tagName === "SELECT" ||
                              target.tagName === "TEXTAREA");
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        search.focus();
        search.select();
      } else if ((event.key === "j" || event.key === "ArrowDown") && !typing &&
                 !list.contains(target)) {
        var items = hooks.items();
        if (items.length && target === document.body) {
          event.preventDefault();
          focusItem(items[0]);
        }
      }
    });

    // --- bulk actions ------------------------------------------------------------------------

    bulkApply.addEventListener("click", function () {
      var ids = Object.keys(checked).map(Number);
      if (!ids.length) {
        bulkResult.textContent = config.text.bulkNone;
        return;
      }
      var reason = bulkReason.value;
      var body = {action: bulkAction.value, cases: ids};
      if (reason) { body.reason = reason; body.note = reason; }
      bulkApply.disabled = true;
      fetch(config.bulk, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": csrf},
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) { throw answer; }
          return answer;
        });
      }).then(function (answer) {
        bulkShow(answer.results);
        clearChecked();
        hooks.reload();
      }).catch(function (answer) {
        bulkResult.textContent = "";
        bulkResult.appendChild(el("p", "office-message", errorText(answer)));
        bulkApply.disabled = false;
      });
    });

    function errorText(body) {
      if (body && body.errors && body.errors.length) {
        return body.errors.map(function (e) { return e.message; }).join(" ");
      }
      return config.text.loadFailed;
    }

    function bulkShow(results) {
      var ok = results.filter(function (r) { return r.ok; }).length;
      bulkResult.textContent = "";
      bulkResult.appendChild(el("p", null, format(config.text.bulkDone,
                                                  {ok: ok, failed: results.length - ok})));
      var ul = el("ul", "office-bulk-outcomes");
      results.forEach(function (result) {
        var li = el("li", result.ok ? "office-bulk-ok" : "office-bulk-refused",
                    "#" + result.id + " " + (result.ok ? config.text.bulkOk : errorText(result)));
        li.setAttribute("data-case", result.id);
        li.setAttribute("data-ok", String(result.ok));
        ul.appendChild(li);
      });
      bulkResult.appendChild(ul);
    }

    // The URL is the state: the first view is the URL's (the server filled the form from it).
    window.history.replaceState({query: window.location.search.slice(1)}, "",
                                window.location.href);

    return {
      feedUrl: feedUrl, facetsShow: facetsShow, pagerShow: pagerShow, decorate: decorate,
      errorsShow: errorsShow, focusItem: focusItem,
      isChecked: function (id) { return !!checked[id]; }
    };
  };
})();
