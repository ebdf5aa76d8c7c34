/*
 * The office's case page (/office/case/{id}/): its forms (verify and close, send back with a
 * reason, an internal note) POST /api/v1/cases/{id}/{action}/ with the session and the CSRF
 * token, the lifecycle API every other page uses. Done: the page reloads and shows the case
 * as it is now. Refused: the API's messages appear under the form (textContent), the field it
 * names is marked invalid, and nothing was changed.
 */
(function () {
  "use strict";

  var root = document.getElementById("case-page");
  if (!root) { return; }
  var api = root.getAttribute("data-api");
  var caseId = root.getAttribute("data-case");
  var csrf = root.getAttribute("data-csrf");

  function messages(body) {
    if (body && body.errors && body.errors.length) {
      return body.errors;
    }
    return [{field: null, message: root.getAttribute("data-failed") || "Error"}];
  }

  function submit(form) {
    var action = form.getAttribute("data-action");
    var message = form.querySelector(".case-message");
    var buttons = form.querySelectorAll("button");
    var payload = {};
    form.querySelectorAll("textarea, input").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      if (field.name) { payload[field.name] = field.value; }
    });
    message.textContent = "";
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(api + "cases/" + caseId + "/" + action + "/", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": csrf},
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) { throw body; }
        return body;
      });
    }).then(function () {
      root.setAttribute("data-done", action);
      window.location.reload();
    }).catch(function (body) {
      var errors = messages(body);
      message.textContent = errors.map(function (e) { return e.message; }).join(" ");
      errors.forEach(function (e) {
        var field = e.field && form.querySelector('[name="' + e.field + '"]');
        if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
      });
      root.setAttribute("data-refused", action);
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  // The dispatch panel (civicmap-dispatch.js), while the case may be dispatched: the page
  // shows the case as it is after a dispatch went through.
  var dispatch = document.getElementById("case-dispatch-panel");
  if (dispatch && window.civicmap && window.civicmap.dispatchPanel) {
    window.civicmap.dispatchPanel(dispatch, {
      caseId: caseId, apiRoot: api, csrf: csrf,
      labels: JSON.parse(document.getElementById("case-dispatch-labels").textContent),
      onDone: function () { window.location.reload(); }
    });
  }

  root.querySelectorAll("form.case-action-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit(form);
    });
  });
})();
