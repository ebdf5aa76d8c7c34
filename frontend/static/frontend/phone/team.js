/* The teams' page (/team/): my team's live tasks in three sections (new, in progress,
 * overdue: the section in the address's hash, each with its count), in the section's order or
 * nearest first; a task's photos, place on a small map and a link to navigation; accept,
 * start, hand in with a photo and a note (or decline with a reason), and for a leader, give it
 * to a member, through POST /api/v1/cases/{id}/{action}/. Uses window.Phone.
 */
(function () {
  "use strict";

  var P = window.Phone;
  var t = P.t;
  var el = P.el;
  var $ = P.$;
  var labels = P.config.labels;
  var WORKER_ACTIONS = ["accept", "start", "handin", "decline"];
  var SECTIONS = ["new", "in_progress", "overdue"];
  var state = {sort: "deadline", section: sectionOfHash(), tasks: [], task: null, detail: null,
               map: null, proof: null};
  var showView = null;

  // --- the list -------------------------------------------------------------------------------

  function dueText(task) {
    if (task.remaining_seconds === null || task.remaining_seconds === undefined) return "";
    return task.remaining_seconds >= 0 ? t("due_in", {time: P.duration(task.remaining_seconds)})
      : t("overdue_by", {time: P.duration(task.remaining_seconds)});
  }

  function sectionOfHash() {
    var wanted = window.location.hash.slice(1);
    return SECTIONS.indexOf(wanted) >= 0 ? wanted : "new";
  }

  function countsShow(counts) {
    document.querySelectorAll(".ph-count").forEach(function (node) {
      node.textContent = counts ? "(" + counts[node.dataset.count] + ")" : "";
    });
  }

  var tasksLatest = P.latest();  // the order or the section may be switched meanwhile

  function tasksShow() {
    var status = $("tasks-status");
    var query = "tasks/?section=" + state.section;
    if (state.sort === "distance") {
      var fix = P.position();
      if (!fix) { status.textContent = t("sort_nearest_needs_position"); return; }
      query += "&lon=" + fix.lon.toFixed(6) + "&lat=" + fix.lat.toFixed(6);
    }
    status.textContent = t("loading");
    tasksLatest(P.apiKept(query)).then(function (answer) {
      status.textContent = answer.kept ? t("saved_copy", {time: P.when(answer.kept)}) : "";
      var list = $("tasks-list");
      list.textContent = "";
      countsShow(answer.body.counts);
      if (!answer.body.tasks.length) {
        list.appendChild(el("li", {class: "ph-hint", text: t("section_empty_" + state.section)}));
      }
      answer.body.tasks.forEach(function (task) {
        var overdue = task.remaining_seconds < 0;
        // The item stays a list item (a list holds only those); its body is the button.
        list.appendChild(el("li", {class: "ph-item ph-task",
                                   data: {task: task.id, case: task.case, status: task.status},
                                   on: {click: function () { taskOpen(task); }}}, [
          P.icon("person-digging", "ph-cat-icon"),
          el("div", {class: "ph-item-body", tabindex: "0", role: "button",
                     on: {keydown: function (event) {
                       if (event.key === "Enter" || event.key === " ") {
                         event.preventDefault();
                         taskOpen(task);
                       }
                     }}}, [
            el("strong", {}, [task.status === "offered" ? el("span", {class: "ph-new", text: t("new_mark")}) : null,
                              task.category_name]),
            task.assigned_to_me ? el("span", {class: "ph-mine-mark", text: t("assigned_to_me")}) : null,
            el("span", {class: "ph-muted", text: [t("case_n", {id: task.case}), task.community,
              task.handler].filter(Boolean).join(" · ")}),
            el("span", {class: "ph-stage", data: {stage: task.stage},
                        text: labels.task_statuses[task.status] || task.status}),
            el("span", {class: "ph-due" + (overdue ? " ph-overdue" : ""), text: dueText(task)}),
            task.distance_m !== null ? el("span", {class: "ph-muted ph-distance", data: {m: Math.round(task.distance_m)},
                                                   text: P.metres(task.distance_m)}) : null
          ])
        ]));
      });
      state.tasks = answer.body.tasks;
      document.body.dataset.tasks = String(answer.body.tasks.length);
      document.body.dataset.section = state.section;
    }, function (error) { status.textContent = error.message; });
  }

  function sortBy(sort) {
    state.sort = sort;
    $("sort-deadline").setAttribute("aria-pressed", String(sort === "deadline"));
    $("sort-distance").setAttribute("aria-pressed", String(sort === "distance"));
    tasksShow();
  }

  function sectionShow(section) {
    state.section = section;
    SECTIONS.forEach(function (each) {
      $("section-" + each).setAttribute("aria-pressed", String(each === section));
    });
    if (window.location.hash !== "#" + section) history.replaceState(null, "", "#" + section);
    tasksShow();
  }

  SECTIONS.forEach(function (section) {
    $("section-" + section).addEventListener("click", function () { sectionShow(section); });
  });
  window.addEventListener("hashchange", function () {
    if (sectionOfHash() !== state.section) sectionShow(sectionOfHash());
  });
  $("sort-deadline").addEventListener("click", function () { sortBy("deadline"); });
  $("sort-distance").addEventListener("click", function () { sortBy("distance"); });
  $("tasks-refresh").addEventListener("click", tasksShow);
  P.onPosition(function (fix) {
    if (!fix.error && state.sort === "distance" && !document.body.dataset.tasks) tasksShow();
    if (!fix.error && state.map) state.map.you(fix.lon, fix.lat);
  });

  // --- one task ------------------------------------------------------------------------------

  function taskOpen(task) {
    state.task = task;
    showView("view-task");
    $("task-title").textContent = task.category_name;
    $("task-meta").textContent = [t("case_n", {id: task.case}), task.community, task.handler,
      task.assigned_to_me ? t("assigned_to_me") : null].filter(Boolean).join(" · ");
    $("task-due").textContent = dueText(task);
    $("task-due").className = "ph-due" + (task.remaining_seconds < 0 ? " ph-overdue" : "");
    $("task-reports").textContent = "";
    $("action-buttons").textContent = "";
    $("action-message").textContent = "";
    $("handin-form").hidden = true;
    $("decline-form").hidden = true;
    $("assign-form").hidden = true;
    navigationLinks(task);
    mapShow(task);
    detailLoad();
  }

  /* The server's links, each in its app's coordinates (civicmap.navigation): geo: opens the
   * phone's map app (WGS 84, RFC 5870), Amap's in GCJ-02. */
  function navigationLinks(task) {
    $("nav-geo").href = task.navigation.geo;
    $("nav-amap").href = task.navigation.amap;
  }

  function mapShow(task) {
    var box = $("task-map");
    if (state.map) {
      state.map.moveTo(task.lon, task.lat);
      state.map.map.invalidateSize();
      return;
    }
    P.smallMap(box, {lon: task.lon, lat: task.lat, zoom: 16}).then(function (made) {
      state.map = made;
      var fix = P.position();
      if (fix) made.you(fix.lon, fix.lat);
    });
  }

  function detailLoad() {
    var task = state.task;
    return P.api("cases/" + task.case + "/").then(function (detail) {
      if (state.task !== task) return;
      state.detail = detail;
      document.body.dataset.stage = detail.stage;
      var box = $("task-reports");
      box.textContent = "";
      detail.reports.forEach(function (report) {
        box.appendChild(el("div", {class: "ph-report"}, [
          el("p", {class: "ph-muted", text: P.when(report.received_at)}),
          report.description ? el("p", {class: "ph-note", text: report.description}) : null,
          report.photos.length ? el("div", {class: "ph-photos"}, report.photos.map(function (url) {
            return P.authImage(url, "", "ph-case-photo");
          })) : el("p", {class: "ph-hint", text: t("no_photos")})
        ]));
      });
      actionsShow(detail.allowed_actions);
      assignShow(detail.assign_to);
    }, function (error) { $("action-message").textContent = error.message; });
  }

  /* A leader's member picker (the case's ``assign_to``: the team's active members), on the
   * member the task is with now, if any (reassigning). */
  function assignShow(members) {
    var form = $("assign-form");
    form.hidden = !members;
    if (!members) return;
    var select = $("assign-member");
    select.textContent = "";
    select.appendChild(el("option", {value: "", text: t("assign_member_required")}));
    members.forEach(function (member) {
      select.appendChild(el("option", {value: String(member.id), text: member.name,
                                       selected: member.current}));
    });
  }

  function actionsShow(allowed) {
    var box = $("action-buttons");
    box.textContent = "";
    WORKER_ACTIONS.filter(function (action) { return allowed.indexOf(action) >= 0; })
      .forEach(function (action) {
        box.appendChild(el("button", {
          type: "button", class: "ph-btn ph-wide" + (action === "decline" ? "" : " ph-primary"),
          data: {action: action}, text: labels.actions[action],
          on: {click: function () { actionChosen(action); }}
        }));
      });
  }

  function actionChosen(action) {
    $("action-message").textContent = "";
    if (action === "handin") { $("handin-form").hidden = false; $("decline-form").hidden = true; return; }
    if (action === "decline") { $("decline-form").hidden = false; $("handin-form").hidden = true; return; }
    act(action, new FormData());
  }

  function act(action, form, done) {
    var task = state.task;
    var message = $("action-message");
    message.className = "ph-message";
    message.textContent = t("sending");
    document.querySelectorAll("#view-task button, #view-task input").forEach(function (node) { node.disabled = true; });
    return P.api("cases/" + task.case + "/" + action + "/", {method: "POST", form: form})
      .then(function (detail) {
        state.detail = detail;
        document.body.dataset.stage = detail.stage;
        message.className = "ph-message ph-ok";
        message.textContent = done || t("done_" + action);
        $("handin-form").hidden = true;
        $("decline-form").hidden = true;
        actionsShow(detail.allowed_actions);
        assignShow(detail.assign_to);
        document.body.dataset.tasks = "";
      }, function (error) {
        message.className = "ph-message ph-error";
        message.textContent = error.message;
      }).finally(function () {
        document.querySelectorAll("#view-task button, #view-task input").forEach(function (node) { node.disabled = false; });
      });
  }

  $("handin-photo").addEventListener("change", function () {
    var file = this.files[0];
    this.value = "";
    if (!file) return;
    P.photoPrepare(file).then(function (photo) {
      if (state.proof && state.proof.url) URL.revokeObjectURL(state.proof.url);
      photo.url = URL.createObjectURL(photo.blob);
      state.proof = photo;
      var list = $("handin-thumb");
      list.textContent = "";
      list.appendChild(el("li", {class: "ph-thumb"}, [el("img", {src: photo.url, alt: ""})]));
    });
  });

  $("handin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var note = $("handin-note").value.trim();
    var problems = [];
    if (!state.proof) problems.push(t("handin_photo_required"));
    if (!note) problems.push(t("note_required"));
    if (problems.length) {
      $("action-message").className = "ph-message ph-error";
      $("action-message").textContent = problems.join(" ");
      return;
    }
    var form = new FormData();
    form.append("note", note);
    form.append("photo", state.proof.blob, state.proof.name);
    act("handin", form).then(function () {
      if (state.detail && state.detail.stage === "handed_in") {
        $("handin-note").value = "";
        $("handin-thumb").textContent = "";
        state.proof = null;
      }
    });
  });

  $("decline-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var reason = $("decline-reason").value.trim();
    if (!reason) { $("action-message").textContent = t("reason_required"); return; }
    var form = new FormData();
    form.append("reason", reason);
    act("decline", form);
  });

  $("assign-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var select = $("assign-member");
    if (!select.value) {
      $("action-message").className = "ph-message ph-error";
      $("action-message").textContent = t("assign_member_required");
      return;
    }
    var name = select.options[select.selectedIndex].text;
    var form = new FormData();
    form.append("assignee", select.value);
    act("assign", form, t("done_assign", {name: name}));
  });

  $("task-back").addEventListener("click", function () { showView("view-tasks"); });

  /* From the inbox: the message's task, from the section shown, else asked for alone
   * (GET tasks/<id>/: in another section, closed, or reassigned to another team: a 404); a
   * message of a case only (an escalation), its task among the caller's, closed ones too. */
  function taskOpenFrom(note) {
    function match(task) {
      return note.task ? task.id === note.task : task.case === note.case;
    }
    var found = state.tasks.filter(match)[0];
    var asked = found ? Promise.resolve(found)
      : (note.task ? P.api("tasks/" + note.task + "/")
        : P.api("tasks/?include_closed=true&limit=300").then(function (body) {
          return body.tasks.filter(match)[0];
        }));
    asked.then(function (task) {
      if (task) taskOpen(task); else P.toast(t("inbox_gone"));
    }, P.inboxOpenFailed);
  }

  // --- start ----------------------------------------------------------------------------------

  $("sign-out").addEventListener("click", function () { P.signOut(); });

  var inbox = null;

  function onShow(viewId) {
    if (viewId === "view-tasks") tasksShow();
    if (viewId === "view-inbox") inbox.show();
    if (viewId === "view-account") {
      var user = P.auth() && P.auth().user;
      $("me-name").textContent = user ? t("signed_in_as", {name: user.display_name}) : "";
    }
  }

  P.signedIn().then(function (auth) {
    if (auth.user && !auth.user.worker) P.toast(t("not_worker"), "error");
    showView = P.tabs(onShow);
    inbox = P.inbox(taskOpenFrom);
    P.positionWatch();
    sectionShow(state.section);
    document.body.dataset.ready = "1";
  });
})();
