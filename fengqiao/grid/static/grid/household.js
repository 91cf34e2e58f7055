/* A household's tier over time: a step chart (ECharts), green at the bottom, red at the top. */
(function () {
  "use strict";
  function init() {
    var el = document.getElementById("tier-chart");
    var source = document.getElementById("tier-chart-data");
    if (!el || !source || typeof echarts === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var order = data.tiers.map(function (t) { return t[0]; });
    var names = data.tiers.map(function (t) { return t[1]; });
    var colours = data.tiers.map(function (t) { return t[2]; });
    var chart = echarts.init(el, null, { renderer: "svg" });
    var times = data.points.map(function (p) { return p.at.replace(" ", "T") + ":00"; });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 28, top: 16, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "item",
        formatter: function (item) {
          var point = data.points[item.dataIndex];
          return point.at + "<br>" + names[order.indexOf(point.tier)] + " · " + point.score;
        }
      },
      xAxis: { type: "time", axisLabel: { hideOverlap: true, formatter: "{yyyy}-{MM}-{dd}" } },
      // a value axis (0 green … 3 red) so that time stays the base axis of the step line
      yAxis: {
        type: "value", min: 0, max: names.length - 1, interval: 1,
        axisLabel: {
          formatter: function (value) { return names[value] || ""; },
          color: function (value) { return colours[value] || "#616e7c"; }
        }
      },
      series: [{
        type: "line",
        step: "end",
        symbolSize: 10,
        data: data.points.map(function (p, n) {
          var i = order.indexOf(p.tier);
          return { value: [times[n], i], itemStyle: { color: colours[i] } };
        }),
        lineStyle: { color: "#616e7c", width: 2 }
      }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
