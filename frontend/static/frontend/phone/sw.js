/* The rider page's service worker (served at /rider/sw.js by frontend.phone_views, which puts
 * self.CIVICMAP_SW = {version, page, assets, lazy_assets, outbox_js} before this file).
 *
 * - install: keep the page and its assets in a cache named after the version (Leaflet too,
 *   loaded by the page only for a map, so that the pin can be moved offline), then take over;
 * - fetch: the page network first (a fresh page, in the chosen language, whenever online;
 *   the kept one after NAVIGATION_TIMEOUT_MS or offline); the assets from the cache, the QR
 *   reader kept when first used; every other request (the API, map tiles) is not touched;
 * - sync: Background Sync "outbox" sends the reports waiting in IndexedDB (outbox.js).
 */
/* global CivicOutbox */
"use strict";

var SW = self.CIVICMAP_SW;
var CACHE = "civicmap-rider-" + SW.version;
var NAVIGATION_TIMEOUT_MS = 4000;  // a slow network: after this the kept page is shown
importScripts(SW.outbox_js);

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll([SW.page].concat(SW.assets, SW.lazy_assets));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("civicmap-rider-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function pageFromNetwork(request) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); }, NAVIGATION_TIMEOUT_MS);
    fetch(request).then(function (response) {
      clearTimeout(timer);
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(SW.page, copy); });
      }
      resolve(response);
    }, function (error) { clearTimeout(timer); reject(error); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === SW.page) {
    event.respondWith(pageFromNetwork(request).catch(function () {
      return caches.match(SW.page, {ignoreVary: true, ignoreSearch: true}).then(function (kept) {
        return kept || fetch(request);
      });
    }));
    return;
  }
  var path = url.pathname;
  if (SW.assets.indexOf(path) >= 0 || SW.lazy_assets.indexOf(path) >= 0 ||
      SW.on_use_assets.indexOf(path) >= 0) {
    event.respondWith(caches.match(path, {ignoreVary: true}).then(function (kept) {
      return kept || fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { return cache.put(path, copy); });
        }
        return response;
      });
    }));
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag !== "outbox") return;
  event.waitUntil(CivicOutbox.flush("rider").then(function (result) {
    if (result.offline) throw new Error("still offline: the browser retries later");
  }));
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "flush") {
    event.waitUntil(CivicOutbox.flush("rider"));
  }
});
