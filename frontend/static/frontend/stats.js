/* The charts of the statistics pages (/office/stats/, /union/visits/): Apache ECharts (served
   by us, vendor/echarts) drawing what the page lists in #stats-charts (frontend/stats_tables.py,
   frontend/visits_tables.py); every number is also in a table. Canvas renderer: it styles
   through the CSSOM, which the page's CSP allows. */
(function () {
  "use strict";
  var source = document.getElementById("stats-charts");
  if (!source || !window.echarts) { return; }
  var charts = JSON.parse(source.textContent);
  var english = (document.documentElement.lang || "").toLowerCase().indexOf("en") === 0;
  var drawn = [];

  function option(chart) {
    var used = {};
    chart.series.forEach(function (s) { used[s.axis] = true; });
    var axes = [0, 1].filter(function (i) { return used[i]; });
    var valueAxes = axes.map(function (i) {
      return {type: "value", name: chart.axes[i], min: 0, max: i === 1 ? 100 : null,
              splitLine: {show: i === axes[0]}};
    });
    // Every label (a sideways chart grows to fit them); along the bottom, beyond a few dozen
    // (90 days), ECharts leaves out the labels that would overlap.
    var crowded = !chart.horizontal && chart.categories.length > 40;
    var categoryAxis = {type: "category", data: chart.categories,
                        axisLabel: {interval: crowded ? "auto" : 0,
                                    rotate: chart.horizontal ? 0 : 30,
                                    width: chart.horizontal ? 150 : 90, overflow: "truncate"}};
    if (chart.horizontal) { categoryAxis.inverse = true; }
    var series = chart.series.map(function (s) {
      var out = {name: s.name, type: s.type, data: s.data, connectNulls: true};
      if (chart.stacked && s.type === "bar") { out.stack = "total"; }
      out[chart.horizontal ? "xAxisIndex" : "yAxisIndex"] = axes.indexOf(s.axis);
      return out;
    });
    return {
      animation: false,
      tooltip: {trigger: "axis"},
      legend: {top: 0, type: "scroll"},
      grid: {left: chart.horizontal ? 160 : 56, right: 56, top: 48,
             bottom: chart.horizontal ? 32 : 90},
      xAxis: chart.horizontal ? valueAxes : categoryAxis,
      yAxis: chart.horizontal ? categoryAxis : valueAxes,
      series: series
    };
  }

  charts.forEach(function (chart) {
    var element = document.getElementById(chart.id);
    if (!element) { return; }
    if (chart.horizontal) {
      element.style.height = Math.max(260, 60 + 26 * chart.categories.length) + "px";
    }
    var instance = window.echarts.init(element, null,
                                       {renderer: "canvas", locale: english ? "EN" : "ZH"});
    instance.setOption(option(chart));
    element.setAttribute("data-drawn", "true");
    drawn.push(instance);
  });
  window.addEventListener("resize", function () {
    drawn.forEach(function (instance) { instance.resize(); });
  });
})();
