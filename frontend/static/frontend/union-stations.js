/* The union's station editor (frontend/union_station_views.py): the opening-hours rows gain
   "add" and "remove" buttons over the plain inputs, and the map's pin and the longitude and
   latitude inputs follow each other. The pin and the inputs are both in the basemap's system
   (WGS 84, or GCJ-02 on Amap): the server shifts them back to WGS 84 when saving, so no
   coordinate transform is done here. */
(function () {
  "use strict";
  var form = document.getElementById("station-form");
  if (!form) { return; }

  var template = document.getElementById("interval-template");
  function nextNumber(day) {
    var numbers = Array.prototype.map.call(
      day.querySelectorAll(".union-interval"),
      function (row) { return parseInt(row.getAttribute("data-interval"), 10) || 0; });
    return numbers.length ? Math.max.apply(null, numbers) + 1 : 1;
  }
  function addInterval(day) {
    var number = nextNumber(day);
    var dayNumber = day.getAttribute("data-day");
    var dayName = day.querySelector(".union-hours-name").textContent;
    var row = template.content.firstElementChild.cloneNode(true);
    row.setAttribute("data-interval", String(number));
    row.querySelectorAll("[data-part]").forEach(function (input) {
      var name = "hours-" + dayNumber + "-" + number + "-" + input.getAttribute("data-part");
      input.name = name;
      input.id = name;
    });
    row.querySelectorAll("label[data-for]").forEach(function (label) {
      label.htmlFor = "hours-" + dayNumber + "-" + number + "-" + label.getAttribute("data-for");
      label.textContent = dayName + " " + number + ": " + label.textContent;
    });
    day.querySelector(".union-hours-intervals").appendChild(row);
    row.querySelector("input").focus();
  }
  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) { return; }
    if (button.classList.contains("union-interval-add")) {
      addInterval(button.closest(".union-hours-day"));
    } else if (button.classList.contains("union-interval-remove")) {
      var row = button.closest(".union-interval");
      var day = row.closest(".union-hours-day");
      row.remove();
      day.querySelector(".union-interval-add").focus();
    }
  });

  var holder = document.getElementById("pin-map");
  var pin = holder && window[holder.getAttribute("data-pin")];
  var lon = document.getElementById("id_lon");
  var lat = document.getElementById("id_lat");
  if (!pin || !lon || !lat) { return; }
  pin.on("dragend", function () {
    var position = pin.getLatLng();
    lon.value = position.lng.toFixed(7);
    lat.value = position.lat.toFixed(7);
  });
  function follow() {
    var x = parseFloat(lon.value);
    var y = parseFloat(lat.value);
    if (isFinite(x) && isFinite(y)) { pin.setLatLng([y, x]); }
  }
  lon.addEventListener("change", follow);
  lat.addEventListener("change", follow);
})();
