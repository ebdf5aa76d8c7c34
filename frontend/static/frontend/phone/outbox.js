/* The phone pages' storage in IndexedDB, and the outbox of reports waiting for the network.
 *
 * Loaded by the pages and by the rider's service worker (importScripts), so both can send what
 * waits: the page when it opens or the network returns, the worker on a Background Sync event.
 *
 * Stores of the database "civicmap-phone":
 *   auth   {page, token, user}           the signed-in user of each page ("rider", "team")
 *   outbox {id, kind, url, fields, files, created_at, state, attempts, errors, label}
 *          id is the report's client_uuid: the server answers a repeat of one with the first
 *          answer (HTTP 200), so a report sent twice (a lost answer, two tabs) is stored once.
 *   kept   {url, body, at}               the last answer of some GETs, shown when offline
 *
 * Sending is serialised with the Web Locks API where there is one (pages and worker share it).
 */
(function (scope) {
  "use strict";

  var DB_NAME = "civicmap-phone";
  var DB_VERSION = 1;
  var LOCK = "civicmap-outbox";
  var CHANNEL = "civicmap-outbox";
  var dbPromise = null;

  function open() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = scope.indexedDB.open(DB_NAME, DB_VERSION);
        request.onupgradeneeded = function () {
          var db = request.result;
          if (!db.objectStoreNames.contains("auth")) db.createObjectStore("auth", {keyPath: "page"});
          if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", {keyPath: "id"});
          if (!db.objectStoreNames.contains("kept")) db.createObjectStore("kept", {keyPath: "url"});
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { dbPromise = null; reject(request.error); };
      });
    }
    return dbPromise;
  }

  function run(storeName, mode, action) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(storeName, mode);
        var result;
        var request = action(tx.objectStore(storeName));
        if (request) request.onsuccess = function () { result = request.result; };
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  var store = {
    get: function (name, key) { return run(name, "readonly", function (s) { return s.get(key); }); },
    all: function (name) { return run(name, "readonly", function (s) { return s.getAll(); }); },
    put: function (name, value) { return run(name, "readwrite", function (s) { return s.put(value); }); },
    remove: function (name, key) { return run(name, "readwrite", function (s) { return s.delete(key); }); },
    clear: function (name) { return run(name, "readwrite", function (s) { return s.clear(); }); }
  };

  function announce(message) {
    if (typeof scope.BroadcastChannel === "function") {
      var channel = new scope.BroadcastChannel(CHANNEL);
      channel.postMessage(message);
      channel.close();
    }
  }

  function formData(item) {
    var body = new FormData();
    Object.keys(item.fields).forEach(function (key) {
      var value = item.fields[key];
      if (value !== null && value !== undefined && value !== "") body.append(key, String(value));
    });
    (item.files || []).forEach(function (file) { body.append(file.field, file.blob, file.name); });
    return body;
  }

  function waiting() {
    return store.all("outbox").then(function (items) {
      return items.sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
    });
  }

  function enqueue(item) {
    item.state = "waiting";
    item.attempts = 0;
    item.errors = null;
    return store.put("outbox", item).then(function () {
      announce({type: "changed"});
      return item;
    });
  }

  function readJson(response) {
    return response.json().catch(function () { return {}; });
  }

  /* Send every waiting item, oldest first. Stops at the first network failure (the rest would
   * fail too), at 401/403 (sign in again), at 429 and 5xx (try later). Any other 4xx is a
   * refusal of this item: it stays, marked refused with the server's messages, for the rider
   * to read and delete. Resolves to {sent: [{item, body}], refused: [item], offline, auth}. */
  function flushNow(page) {
    var result = {sent: [], refused: [], offline: false, auth: false, busy: false};
    return store.get("auth", page).then(function (auth) {
      if (!auth) { result.auth = true; return result; }
      return waiting().then(function (items) {
        var pending = items.filter(function (item) { return item.state !== "refused"; });
        function next(index) {
          if (index >= pending.length) return result;
          var item = pending[index];
          item.attempts = (item.attempts || 0) + 1;
          return scope.fetch(item.url, {
            method: "POST", body: formData(item), credentials: "same-origin",
            headers: {"Authorization": "Token " + auth.token, "Accept": "application/json"}
          }).then(function (response) {
            return readJson(response).then(function (body) {
              if (response.ok) {
                result.sent.push({item: item, body: body});
                return store.remove("outbox", item.id).then(function () { return next(index + 1); });
              }
              if (response.status === 401 || response.status === 403) {
                result.auth = true;
                item.errors = body.errors || null;
                return store.put("outbox", item).then(function () { return result; });
              }
              if (response.status === 429 || response.status >= 500) {
                item.errors = body.errors || null;
                result.busy = true;
                return store.put("outbox", item).then(function () { return result; });
              }
              item.state = "refused";
              item.errors = body.errors || [{field: null, code: "refused", message: String(response.status)}];
              result.refused.push(item);
              return store.put("outbox", item).then(function () { return next(index + 1); });
            });
          }, function () {
            result.offline = true;
            return store.put("outbox", item).then(function () { return result; });
          });
        }
        return next(0);
      });
    }).then(function (outcome) {
      if (outcome.sent.length || outcome.refused.length) {
        announce({type: "flushed", sent: outcome.sent.length, refused: outcome.refused.length});
      }
      return outcome;
    });
  }

  function flush(page) {
    page = page || "rider";
    if (scope.navigator && scope.navigator.locks && scope.navigator.locks.request) {
      return scope.navigator.locks.request(LOCK, function () { return flushNow(page); });
    }
    return flushNow(page);
  }

  scope.CivicStore = store;
  scope.CivicOutbox = {
    enqueue: enqueue,
    waiting: waiting,
    flush: flush,
    remove: function (id) {
      return store.remove("outbox", id).then(function () { announce({type: "changed"}); });
    },
    channelName: CHANNEL
  };
})(self);
