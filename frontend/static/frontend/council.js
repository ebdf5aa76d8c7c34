/* The suggestion box's chart: Apache ECharts (served by us, vendor/echarts) drawing the
   numbers the page lists in #council-chart-data (frontend/union_council_views.py
   council_chart); the same numbers are in the table below it. Canvas renderer. */
(function () {
  "use strict";
  var source = document.getElementById("council-chart-data");
  var element = document.getElementById("council-chart");
  if (!source || !element || !window.echarts) { return; }
  var chart = JSON.parse(source.textContent);
  var english = (document.documentElement.lang || "").toLowerCase().indexOf("en") === 0;
  element.style.height = Math.max(260, 70 + 28 * chart.categories.length) + "px";
  var instance = window.echarts.init(element, null,
                                     {renderer: "canvas", locale: english ? "EN" : "ZH"});
  instance.setOption({
    animation: false,
    tooltip: {trigger: "axis"},
    legend: {top: 0},
    grid: {left: 220, right: 40, top: 40, bottom: 32},
    xAxis: {type: "value", minInterval: 1},
    yAxis: {type: "category", inverse: true, data: chart.categories,
            axisLabel: {width: 210, overflow: "truncate"}},
    series: chart.series.map(function (s) {
      return {name: s.name, type: "bar", stack: "cases", data: s.data};
    })
  });
  element.setAttribute("data-drawn", "true");
  window.addEventListener("resize", function () { instance.resize(); });
})();
