// Draws a report's chart from the JSON the view wrote (json_script): its top rows, numbers in the page's language.
// Redrawn when a filter change swaps the chart in with the table (HTMX out-of-band swap).
(function () {
  const lang = document.documentElement.lang;
  const rtl = document.documentElement.dir === "rtl";
  const fmt = new Intl.NumberFormat(lang === "fa" ? "fa-IR" : "en-US");
  Chart.defaults.font.family = "Vazirmatn, system-ui, sans-serif";
  Chart.defaults.animation = false;
  const palette = ["#198754", "#0d6efd", "#fd7e14", "#6f42c1", "#20c997", "#dc3545", "#6c757d", "#ffc107"];
  function draw() {
    const source = document.getElementById("report-chart-data");
    const canvas = document.getElementById("report-chart");
    if (!source || !canvas || Chart.getChart(canvas)) return;
    const data = JSON.parse(source.textContent);
    const round = data.type === "doughnut";
    new Chart(canvas, {
      type: data.type,
      data: { labels: data.labels, datasets: [{ label: data.label, data: data.values,
        backgroundColor: round ? palette : "#19875499" }] },
      options: { locale: lang === "fa" ? "fa-IR" : "en-US", maintainAspectRatio: false,
        plugins: { legend: { display: round, position: "bottom", rtl: rtl } },
        scales: round ? {} : { x: { reverse: rtl }, y: { position: rtl ? "right" : "left", ticks: { precision: 0, callback: v => fmt.format(v) } } } } });
  }
  draw();
  document.body.addEventListener("htmx:afterSettle", draw);
})();
