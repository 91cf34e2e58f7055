/* Dispute resolution rate per team or region: a bar chart (ECharts, local static file). */
(function () {
  "use strict";
  var el = document.getElementById("rate-chart");
  var data = document.getElementById("rate-data");
  if (!el || !data || typeof echarts === "undefined") { return; }
  var d = JSON.parse(data.textContent);
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: { data: [d.rate_label, d.closed_label] },
    grid: { left: 48, right: 48, bottom: 90, top: 40 },
    xAxis: { type: "category", data: d.labels, axisLabel: { rotate: 30, interval: 0 } },
    yAxis: [
      { type: "value", name: "%", min: 0, max: 100 },
      { type: "value", name: d.closed_label, minInterval: 1 }
    ],
    series: [
      { name: d.rate_label, type: "bar", barMaxWidth: 56, data: d.rates, itemStyle: { color: "#15803d" }, label: { show: true, position: "top", formatter: "{c}%" } },
      { name: d.closed_label, type: "line", yAxisIndex: 1, data: d.closed, itemStyle: { color: "#1d4ed8" } }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
