/* The phone pages' common parts: configuration and strings, the API with the user's token,
 * sign-in, position, the small map, the QR scanner, photos, tabs. rider.js and team.js use
 * them as window.Phone.
 *
 * Text from the server is only ever set with textContent (never parsed as HTML), and nothing
 * here uses inline handlers or inline styles: the pages' Content-Security-Policy allows none.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("phone-config").textContent);
  var strings = config.strings;
  var english = config.lang.indexOf("en") === 0;
  var locale = english ? "en-GB" : "zh-CN";
  var auth = null;  // {page, token, user}

  function t(key, values) {
    var text = strings[key] || key;
    if (values) {
      text = text.replace(/%\((\w+)\)s/g, function (match, name) {
        return values[name] === undefined ? match : String(values[name]);
      });
    }
    return text;
  }

  /* el("li", {class: "x", text: "…", data: {id: 1}}, [children]) */
  function el(tag, options, children) {
    var node = document.createElement(tag);
    options = options || {};
    Object.keys(options).forEach(function (key) {
      var value = options[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key === "data") Object.keys(value).forEach(function (k) { node.dataset[k] = value[k]; });
      else if (key === "on") Object.keys(value).forEach(function (k) { node.addEventListener(k, value[k]); });
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  function icon(name, className) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", className || "ph-i");
    svg.setAttribute("aria-hidden", "true");
    var use = document.createElementNS(SVG_NS, "use");
    use.setAttribute("href", config.assets.icons + "#i-" + name);
    svg.appendChild(use);
    return svg;
  }

  function $(id) { return document.getElementById(id); }

  var toastTimer = null;
  function toast(message, kind) {
    var box = $("toast");
    box.textContent = message;
    box.className = "ph-toast" + (kind ? " ph-toast-" + kind : "");
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, kind === "error" ? 8000 : 5000);
  }

  // --- network state ------------------------------------------------------------------------

  function showNetwork() {
    $("ph-net").hidden = navigator.onLine;
    document.body.classList.toggle("ph-offline", !navigator.onLine);
  }
  window.addEventListener("online", showNetwork);
  window.addEventListener("offline", showNetwork);
  showNetwork();

  // --- API ----------------------------------------------------------------------------------

  function ApiError(status, errors, offline) {
    this.status = status;
    this.errors = errors || [];
    this.offline = !!offline;
    this.message = offline ? t("network_error")
      : (this.errors.length ? this.errors.map(function (e) { return e.message; }).join(" ")
        : (status >= 500 ? t("server_error") : String(status)));
  }

  function authHeaders(extra) {
    var headers = {"Accept": "application/json"};
    if (auth) headers.Authorization = "Token " + auth.token;
    Object.keys(extra || {}).forEach(function (key) { headers[key] = extra[key]; });
    return headers;
  }

  function errorsOf(body) {
    if (body && Array.isArray(body.errors)) return body.errors;
    if (body && typeof body === "object") {  // DRF's own shape: {field: [messages]}
      var list = [];
      Object.keys(body).forEach(function (field) {
        [].concat(body[field]).forEach(function (message) {
          list.push({field: field, code: "invalid", message: String(message)});
        });
      });
      return list;
    }
    return [];
  }

  /* api("reports/nearby/?…") or api(absolute path) → JSON; throws ApiError. */
  function api(path, options) {
    options = options || {};
    var url = path.charAt(0) === "/" ? path : config.api + path;
    var init = {method: options.method || "GET", headers: authHeaders(options.headers),
                credentials: "same-origin"};
    if (options.form) init.body = options.form;
    if (options.json) {
      init.body = JSON.stringify(options.json);
      init.headers["Content-Type"] = "application/json";
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!response.ok) throw new ApiError(response.status, errorsOf(body));
        return body;
      });
    }, function () { throw new ApiError(0, [], true); });
  }

  /* A GET whose last answer is kept in IndexedDB and shown, marked, when offline. */
  function apiKept(path) {
    return api(path).then(function (body) {
      CivicStore.put("kept", {url: path, body: body, at: new Date().toISOString(), page: config.page});
      return {body: body, kept: null};
    }, function (error) {
      if (!error.offline) throw error;
      return CivicStore.get("kept", path).then(function (kept) {
        if (!kept) throw error;
        return {body: kept.body, kept: kept.at};
      });
    });
  }

  /* For a lookup the user can ask again before its answer arrives (a filter changed on a slow
   * network): latest() gives a function that wraps each request's promise; only the newest
   * request's promise settles, so an older answer arriving last replaces nothing. */
  function latest() {
    var asked = 0;
    return function (promise) {
      var mine = ++asked;
      return new Promise(function (resolve, reject) {
        promise.then(function (value) { if (mine === asked) resolve(value); },
                     function (error) { if (mine === asked) reject(error); });
      });
    };
  }

  /* Photos behind the token (private categories, proof photos): fetched with the token and
   * shown from a blob: URL. */
  function authImage(url, alt, className) {
    var img = el("img", {alt: alt || "", class: className || "ph-photo", loading: "lazy"});
    fetch(url, {headers: authHeaders(), credentials: "same-origin"}).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.blob();
    }).then(function (blob) {
      img.src = URL.createObjectURL(blob);
    }).catch(function () { img.classList.add("ph-photo-missing"); });
    return img;
  }

  /* Save a file the server gives only with the rider's token (an award's certificate): fetched,
   * then handed to the browser's download as a blob URL. Throws ApiError. */
  function download(url, filename) {
    return fetch(url, {headers: authHeaders(), credentials: "same-origin"}).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return null; }).then(function (body) {
          throw new ApiError(response.status, errorsOf(body));
        });
      }
      return response.blob().then(function (blob) {
        var link = el("a", {href: URL.createObjectURL(blob), download: filename, hidden: true});
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 60000);
      });
    }, function () { throw new ApiError(0, [], true); });
  }

  // --- sign-in ------------------------------------------------------------------------------

  function tokenFromText(text) {
    text = (text || "").trim();
    if (text.indexOf(config.token_prefix) === 0) return text.slice(config.token_prefix.length).trim();
    if (/^[0-9a-f]{40}$/i.test(text)) return text;
    return null;
  }

  function signInMessage(text) { $("signin-message").textContent = text || ""; }

  function acceptToken(token, user) {
    auth = {page: config.page, token: token, user: user};
    return CivicStore.put("auth", auth).then(function () { return auth; });
  }

  function checkToken(token) {
    signInMessage(t("signing_in"));
    auth = {page: config.page, token: token, user: null};
    return api(config.me_url).then(function (user) {
      return acceptToken(token, user);
    }, function (error) {
      auth = null;
      signInMessage(error.offline ? error.message : t("token_bad"));
      throw error;
    });
  }

  function startSignIn(onSignedIn) {
    $("signin").hidden = false;
    $("app").hidden = true;
    var tabs = $("tabs");
    if (tabs) tabs.hidden = true;
    function done(result) { signInMessage(""); onSignedIn(result); }
    bindOnce($("signin-scan"), "click", function () {
      scan().then(function (text) {
        if (text === null) return;
        var token = tokenFromText(text);
        if (!token) { signInMessage(t("token_prefix_bad")); return; }
        checkToken(token).then(done, function () {});
      });
    });
    bindOnce($("signin-token-form"), "submit", function (event) {
      event.preventDefault();
      var token = tokenFromText($("signin-token").value);
      if (!token) { signInMessage(t("token_bad")); return; }
      checkToken(token).then(done, function () {});
    });
    bindOnce($("signin-password-form"), "submit", function (event) {
      event.preventDefault();
      signInMessage(t("signing_in"));
      api(config.token_url, {method: "POST", json: {
        username: $("signin-username").value, password: $("signin-password").value
      }}).then(function (body) {
        $("signin-password").value = "";
        return acceptToken(body.token, body.user);
      }).then(done, function (error) { signInMessage(error.message); });
    });
  }

  function bindOnce(node, type, handler) {
    if (node.dataset["bound" + type]) return;
    node.dataset["bound" + type] = "1";
    node.addEventListener(type, handler);
  }

  /* Resolves with the stored sign-in, refreshed from the server when online (a revoked token
   * signs the user out), or after the user signs in. */
  function signedIn() {
    return CivicStore.get("auth", config.page).then(function (stored) {
      if (stored) {
        auth = stored;
        api(config.me_url).then(function (user) {
          auth.user = user;
          CivicStore.put("auth", auth);
          document.dispatchEvent(new CustomEvent("phone:user", {detail: user}));
        }, function (error) {
          if (error.status === 401) signOut(true);
        });
        return stored;
      }
      return new Promise(function (resolve) { startSignIn(resolve); });
    }).then(function (result) {
      $("signin").hidden = true;
      $("app").hidden = false;
      var tabs = $("tabs");
      if (tabs) tabs.hidden = false;
      return result;
    });
  }

  function signOut(silently) {
    return CivicStore.remove("auth", config.page).then(function () {
      return CivicStore.clear("kept");
    }).then(function () {
      auth = null;
      if (!silently) toast(t("signed_out"));
      window.location.reload();
    });
  }

  // --- position -----------------------------------------------------------------------------

  /* Watches the device's position (WGS 84, as the Geolocation API gives it) and keeps the
   * latest fix; listeners get {lon, lat, accuracy} or {error: "denied" | "unavailable"}. */
  var position = {fix: null, error: null, watch: null, listeners: []};

  function positionNotify(value) {
    position.listeners.forEach(function (listener) { listener(value); });
  }

  function positionWatch() {
    if (!("geolocation" in navigator)) {
      position.error = window.isSecureContext ? "unavailable" : "insecure";
      positionNotify({error: position.error});
      return;
    }
    if (position.watch !== null) navigator.geolocation.clearWatch(position.watch);
    position.watch = navigator.geolocation.watchPosition(function (found) {
      position.error = null;
      position.fix = {lon: found.coords.longitude, lat: found.coords.latitude,
                      accuracy: found.coords.accuracy, at: found.timestamp};
      positionNotify(position.fix);
    }, function (error) {
      position.error = error.code === 1 ? "denied" : "unavailable";
      positionNotify({error: position.error});
    }, {enableHighAccuracy: true, maximumAge: 30000, timeout: 20000});
  }

  function onPosition(listener) {
    position.listeners.push(listener);
    if (position.fix) listener(position.fix);
    else if (position.error) listener({error: position.error});
  }

  // --- coordinates: WGS 84 to GCJ-02, for a basemap drawn in GCJ-02 (Amap) ---------------------

  var GCJ_A = 6378245.0;
  var GCJ_EE = 0.00669342162296594323;
  function gcjLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
    r += (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
    return r;
  }
  function gcjLon(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
    r += (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
    return r;
  }
  function wgs84ToGcj02(lon, lat) {
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) return [lon, lat];
    var dLat = gcjLat(lon - 105, lat - 35);
    var dLon = gcjLon(lon - 105, lat - 35);
    var radLat = lat / 180 * Math.PI;
    var magic = 1 - GCJ_EE * Math.sin(radLat) * Math.sin(radLat);
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180) / ((GCJ_A * (1 - GCJ_EE)) / (magic * sqrtMagic) * Math.PI);
    dLon = (dLon * 180) / (GCJ_A / sqrtMagic * Math.cos(radLat) * Math.PI);
    return [lon + dLon, lat + dLat];
  }

  /* What the basemap draws in: "gcj02" for Amap, else "wgs84". */
  var mapSystem = config.basemap.gcj02 ? "gcj02" : "wgs84";
  function toMap(lon, lat) { return mapSystem === "gcj02" ? wgs84ToGcj02(lon, lat) : [lon, lat]; }

  // --- lazy assets: Leaflet for maps, jsQR for scanning --------------------------------------

  var loaded = {};
  function loadScript(url) {
    if (!loaded[url]) {
      loaded[url] = new Promise(function (resolve, reject) {
        var script = el("script", {src: url});
        script.addEventListener("load", resolve);
        script.addEventListener("error", function () { delete loaded[url]; reject(new Error(url)); });
        document.head.appendChild(script);
      });
    }
    return loaded[url];
  }
  function loadStyle(url) {
    if (!loaded[url]) {
      loaded[url] = new Promise(function (resolve, reject) {
        var link = el("link", {rel: "stylesheet", href: url});
        link.addEventListener("load", resolve);
        link.addEventListener("error", function () { delete loaded[url]; reject(new Error(url)); });
        document.head.appendChild(link);
      });
    }
    return loaded[url];
  }

  /* A small Leaflet map in `box` at (lon, lat) WGS 84; with `draggable` the pin moves and
   * `onMove({lon, lat, system})` gets the new place in the basemap's own system. */
  function smallMap(box, options) {
    return Promise.all([loadStyle(config.assets.leaflet_css), loadScript(config.assets.leaflet_js)])
      .then(function () { return loadScript(config.assets.basemap_js); })
      .then(function () {
        var L = window.L;
        var here = toMap(options.lon, options.lat);
        var map = L.map(box, {zoomControl: true}).setView([here[1], here[0]], options.zoom || 17);
        // The attribution names the sources only; no tiles: our grid outlines (civicmap-basemap.js).
        window.civicmap.basemap(map, config.basemap);
        config.basemap.tiles.forEach(function (tile) {
          L.tileLayer(tile.url, {attribution: tile.attribution, subdomains: tile.subdomains || "abc",
                                 maxZoom: tile.max_zoom}).addTo(map);
        });
        L.control.scale({imperial: false}).addTo(map);
        // Only a pin one moves is a control (focusable, a button); a place shown is an image.
        var pin = L.marker([here[1], here[0]], {
          draggable: !!options.draggable, autoPan: true, keyboard: !!options.draggable,
          icon: L.divIcon({className: "ph-pin", iconSize: [28, 40], iconAnchor: [14, 40]})
        }).addTo(map);
        if (options.draggable) {
          pin.on("dragend", function () {
            var spot = pin.getLatLng();
            options.onMove({lon: spot.lng, lat: spot.lat, system: mapSystem});
          });
          map.on("click", function (event) {
            pin.setLatLng(event.latlng);
            options.onMove({lon: event.latlng.lng, lat: event.latlng.lat, system: mapSystem});
          });
        }
        var others = L.layerGroup().addTo(map);
        return {
          map: map, pin: pin,
          moveTo: function (lon, lat) {
            var spot = toMap(lon, lat);
            pin.setLatLng([spot[1], spot[0]]);
            map.setView([spot[1], spot[0]]);
          },
          mark: function (points) {  // other places (WGS 84), drawn as small circles
            others.clearLayers();
            points.forEach(function (point) {
              var spot = toMap(point.lon, point.lat);
              L.circleMarker([spot[1], spot[0]], {radius: 7, className: point.className || "ph-dot"})
                .addTo(others);
            });
          },
          you: function (lon, lat) {
            var spot = toMap(lon, lat);
            L.circleMarker([spot[1], spot[0]], {radius: 6, className: "ph-you"}).addTo(others);
          }
        };
      });
  }

  // --- QR scanning: BarcodeDetector where the browser has it, else jsQR from our origin ------

  function detector() {
    if ("BarcodeDetector" in window && window.BarcodeDetector.getSupportedFormats) {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") < 0) throw new Error("no qr_code");
        var barcode = new window.BarcodeDetector({formats: ["qr_code"]});
        return function (source) {
          return barcode.detect(source).then(function (codes) {
            return codes.length ? codes[0].rawValue : null;
          });
        };
      }).catch(jsqrDetector);
    }
    return jsqrDetector();
  }

  function jsqrDetector() {
    return loadScript(config.assets.jsqr).then(function () {
      var canvas = document.createElement("canvas");
      var context = canvas.getContext("2d", {willReadFrequently: true});
      return function (source) {
        var width = source.videoWidth || source.naturalWidth || source.width;
        var height = source.videoHeight || source.naturalHeight || source.height;
        if (!width || !height) return Promise.resolve(null);
        var scale = Math.min(1, 800 / Math.max(width, height));  // enough pixels for a QR code
        canvas.width = Math.round(width * scale);
        canvas.height = Math.round(height * scale);
        context.drawImage(source, 0, 0, canvas.width, canvas.height);
        var pixels = context.getImageData(0, 0, canvas.width, canvas.height);
        var found = window.jsQR(pixels.data, canvas.width, canvas.height,
                                {inversionAttempts: "attemptBoth"});
        return Promise.resolve(found ? found.data : null);
      };
    });
  }

  /* Opens the scanner; resolves with the QR code's text, or null when cancelled. */
  function scan() {
    var box = $("scanner");
    var video = $("scanner-video");
    var message = $("scanner-message");
    var stream = null;
    var stopped = false;
    message.textContent = "";
    box.hidden = false;
    return new Promise(function (resolve) {
      function finish(value) {
        if (stopped) return;
        stopped = true;
        if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
        video.srcObject = null;
        box.hidden = true;
        $("scanner-cancel").removeEventListener("click", cancel);
        $("scanner-photo").removeEventListener("change", fromPhoto);
        resolve(value);
      }
      function cancel() { finish(null); }
      function fromPhoto() {
        var file = $("scanner-photo").files[0];
        $("scanner-photo").value = "";
        if (!file) return;
        Promise.all([detector(), createImageBitmap(file)]).then(function (both) {
          return both[0](both[1]);
        }).then(function (text) {
          if (text) finish(text); else message.textContent = t("scan_nothing");
        }, function () { message.textContent = t("scan_nothing"); });
      }
      $("scanner-cancel").addEventListener("click", cancel);
      $("scanner-photo").addEventListener("change", fromPhoto);
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        message.textContent = t("scan_no_camera");
        return;
      }
      Promise.all([
        detector(),
        navigator.mediaDevices.getUserMedia({video: {facingMode: {ideal: "environment"}}, audio: false})
      ]).then(function (both) {
        var detect = both[0];
        stream = both[1];
        if (stopped) { stream.getTracks().forEach(function (track) { track.stop(); }); return; }
        video.srcObject = stream;
        return video.play().then(function () {
          function tick() {
            if (stopped) return;
            detect(video).then(function (text) {
              if (text) finish(text); else setTimeout(tick, 150);
            }, function () { setTimeout(tick, 300); });
          }
          tick();
        });
      }).catch(function () { message.textContent = t("scan_no_camera"); });
    });
  }

  // --- photos: EXIF GPS, and a smaller copy of a large photo for a slow network ---------------

  /* The GPS position in a JPEG's EXIF, as {lon, lat} (WGS 84, as GPS records it), or null. */
  function exifPosition(buffer) {
    var view = new DataView(buffer);
    if (view.byteLength < 4 || view.getUint16(0) !== 0xFFD8) return null;
    var offset = 2;
    while (offset + 4 < view.byteLength) {
      var marker = view.getUint16(offset);
      var size = view.getUint16(offset + 2);
      if (marker === 0xFFE1 && view.getUint32(offset + 4) === 0x45786966) {  // "Exif"
        return tiffGps(view, offset + 10);
      }
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) break;
      offset += 2 + size;
    }
    return null;
  }

  function tiffGps(view, start) {
    try {
      var little = view.getUint16(start) === 0x4949;
      var u16 = function (at) { return view.getUint16(start + at, little); };
      var u32 = function (at) { return view.getUint32(start + at, little); };
      var ifd = u32(4);
      var gpsAt = null;
      for (var i = 0, n = u16(ifd); i < n; i += 1) {
        if (u16(ifd + 2 + i * 12) === 0x8825) gpsAt = u32(ifd + 2 + i * 12 + 8);
      }
      if (gpsAt === null) return null;
      var tags = {};
      for (var j = 0, m = u16(gpsAt); j < m; j += 1) {
        var entry = gpsAt + 2 + j * 12;
        var tag = u16(entry);
        var type = u16(entry + 2);
        if (type === 2) tags[tag] = String.fromCharCode(view.getUint8(start + entry + 8));
        if (type === 5) {
          var at = u32(entry + 8);
          var parts = [];
          for (var k = 0; k < 3; k += 1) parts.push(u32(at + k * 8) / (u32(at + k * 8 + 4) || 1));
          tags[tag] = parts[0] + parts[1] / 60 + parts[2] / 3600;
        }
      }
      if (typeof tags[2] !== "number" || typeof tags[4] !== "number") return null;
      var lat = tags[1] === "S" ? -tags[2] : tags[2];
      var lon = tags[3] === "W" ? -tags[4] : tags[4];
      if (!isFinite(lat) || !isFinite(lon) || (lat === 0 && lon === 0)) return null;
      return {lon: lon, lat: lat};
    } catch (e) {
      return null;
    }
  }

  var RESIZE_ABOVE_BYTES = 1500000;  // larger photos are sent as a copy of at most…
  var RESIZE_MAX_SIDE = 2048;        // …this many pixels on the long side (JPEG, quality 0.85)

  /* {blob, name, gps} for one chosen photo: its EXIF GPS, and a smaller copy when it is large.
   * The copy has no EXIF, so the page sends the position itself (it always does). */
  function photoPrepare(file) {
    return file.slice(0, 256 * 1024).arrayBuffer().then(function (head) {
      var gps = exifPosition(head);
      if (file.size <= RESIZE_ABOVE_BYTES || typeof createImageBitmap !== "function") {
        return {blob: file, name: file.name || "photo.jpg", gps: gps};
      }
      return createImageBitmap(file).then(function (bitmap) {
        var scale = Math.min(1, RESIZE_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        return new Promise(function (resolve) {
          canvas.toBlob(function (blob) {
            resolve({blob: blob || file, name: "photo.jpg", gps: gps});
          }, "image/jpeg", 0.85);
        });
      }, function () { return {blob: file, name: file.name || "photo.jpg", gps: gps}; });
    });
  }

  // --- small things ----------------------------------------------------------------------------

  function uuid4() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(locale, {month: "numeric", day: "numeric",
                                                 hour: "2-digit", minute: "2-digit"});
  }

  function duration(seconds) {
    var minutes = Math.max(0, Math.round(Math.abs(seconds) / 60));
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    if (days > 0) return t("days_hours", {d: days, h: hours});
    if (hours > 0) return t("hours_minutes", {h: hours, m: minutes % 60});
    return t("minutes", {m: minutes});
  }

  function metres(value) { return t("distance_m", {m: Math.round(value)}); }

  function showErrors(node, error) {
    node.textContent = error ? (error.message || String(error)) : "";
  }

  // --- the inbox: the user's notifications (GET /api/v1/notifications/), both pages -----------

  var INBOX_POLL_MS = 60000;  // the unread count is asked again each minute and on focus
  var INBOX_PAGE = 20;        // messages a page ("Older messages" asks for the next)
  var relative = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(locale, {numeric: "auto"}) : null;

  /* "3 minutes ago", "yesterday" … in the page's language; older than a week, the date. */
  function ago(iso) {
    var seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    if (!relative || seconds < -7 * 86400) return when(iso);
    var steps = [[60, "second", 1], [3600, "minute", 60], [86400, "hour", 3600],
                 [Infinity, "day", 86400]];
    for (var i = 0; i < steps.length; i += 1) {
      if (Math.abs(seconds) < steps[i][0]) {
        return relative.format(Math.round(seconds / steps[i][2]), steps[i][1]);
      }
    }
    return when(iso);
  }

  /* The inbox section (rider_base.html) and its tab's unread badge. `open(notification)`
   * shows the notification's case or task on the page; it is called after marking it read.
   * Returns {show, count}: show() loads the newest page, count() refreshes the badge. */
  function inbox(open) {
    var list = $("inbox-list");
    var more = $("inbox-more");
    var readAll = $("inbox-read-all");
    var status = $("inbox-status");
    var unread = 0;
    var next = null;
    var shown = latest();  // the view may be opened again before an answer

    function badge(count) {
      unread = Math.max(0, count);
      var node = $("inbox-badge");
      node.hidden = unread === 0;
      node.dataset.count = String(unread);
      node.textContent = "";
      node.appendChild(document.createTextNode(unread > 99 ? "99+" : String(unread)));
      node.appendChild(el("span", {class: "ph-visually-hidden", text: " " + t("inbox_unread")}));
      readAll.hidden = unread === 0;
    }

    function count() {
      if (!auth || !navigator.onLine || document.hidden) return;  // asked again when shown
      api("notifications/?unread=true&limit=1").then(function (body) { badge(body.unread); },
                                                       function () {});
    }

    function markedRead(node) {
      node.classList.remove("ph-unread");
      var flag = node.querySelector(".ph-unread-flag");
      if (flag) flag.remove();
    }

    function item(note) {
      var node = el("li", {class: "ph-item ph-note" + (note.read_at ? "" : " ph-unread"),
                           data: {id: note.id, kind: note.kind, case: note.case || "",
                                  task: note.task || ""}});
      var button = el("button", {type: "button", class: "ph-note-open"}, [
        note.read_at ? null : el("span", {class: "ph-unread-flag", text: t("inbox_new")}),
        el("span", {class: "ph-note-text", text: note.message}),
        el("time", {class: "ph-muted", datetime: note.created_at, title: when(note.created_at),
                    text: ago(note.created_at)})
      ]);
      button.addEventListener("click", function () {
        var wasUnread = node.classList.contains("ph-unread");
        var marking = wasUnread ? api("notifications/" + note.id + "/read/", {method: "POST"})
          : Promise.resolve(null);
        marking.then(function () {
          if (wasUnread) { markedRead(node); badge(unread - 1); }
          if (note.case || note.task) open(note);
        }, function (error) { toast(error.message, "error"); });
      });
      node.appendChild(button);
      return node;
    }

    function page(before) {
      if (!navigator.onLine) { status.textContent = t("inbox_offline"); return; }
      status.textContent = t("loading");
      var query = "notifications/?limit=" + INBOX_PAGE + (before ? "&before=" + before : "");
      shown(api(query)).then(function (body) {
        if (!before) list.textContent = "";
        status.textContent = "";
        badge(body.unread);
        next = body.next_before;
        more.hidden = !next;
        if (!before && !body.notifications.length) {
          list.appendChild(el("li", {class: "ph-hint", text: t("inbox_empty")}));
        }
        body.notifications.forEach(function (note) { list.appendChild(item(note)); });
      }, function (error) { status.textContent = error.message; });
    }

    more.addEventListener("click", function () { if (next) page(next); });
    readAll.addEventListener("click", function () {
      api("notifications/read/", {method: "POST", json: {all: true}}).then(function () {
        list.querySelectorAll(".ph-unread").forEach(markedRead);
        badge(0);
      }, function (error) { toast(error.message, "error"); });
    });
    window.addEventListener("focus", count);
    window.addEventListener("online", count);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") count();
    });
    setInterval(count, INBOX_POLL_MS);
    count();
    return {show: function () { page(null); }, count: count};
  }

  /* A message's case or task that could not be fetched to open it: offline it cannot be
   * opened; a 404 means it is no longer the user's (deleted, or given to another team). */
  function inboxOpenFailed(error) {
    toast(error.offline ? t("inbox_open_offline")
      : (error.status === 404 ? t("inbox_gone") : error.message), "error");
  }

  // --- tabs ------------------------------------------------------------------------------------

  function tabs(onShow) {
    var nav = $("tabs");
    if (!nav) return;
    nav.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-view]");
      if (!button) return;
      show(button.dataset.view);
    });
    function show(viewId) {
      nav.querySelectorAll("button[data-view]").forEach(function (button) {
        if (button.dataset.view === viewId) button.setAttribute("aria-current", "page");
        else button.removeAttribute("aria-current");
      });
      document.querySelectorAll(".ph-view").forEach(function (view) {
        view.hidden = view.id !== viewId;
      });
      window.scrollTo(0, 0);
      if (onShow) onShow(viewId);
    }
    return show;
  }

  window.Phone = {
    config: config, t: t, el: el, icon: icon, $: $, toast: toast, api: api, apiKept: apiKept,
    latest: latest,
    ApiError: ApiError, authImage: authImage, download: download, signedIn: signedIn, signOut: signOut,
    auth: function () { return auth; }, positionWatch: positionWatch, onPosition: onPosition,
    position: function () { return position.fix; }, smallMap: smallMap, toMap: toMap,
    mapSystem: mapSystem, scan: scan, photoPrepare: photoPrepare, exifPosition: exifPosition,
    uuid4: uuid4, when: when, duration: duration, metres: metres, showErrors: showErrors,
    tabs: tabs, inbox: inbox, inboxOpenFailed: inboxOpenFailed
  };
})();
