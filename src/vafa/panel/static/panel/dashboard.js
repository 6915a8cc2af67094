// Draws the dashboard's charts from the JSON the view wrote (json_script): numbers in the page's language.
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const lang = document.documentElement.lang;
  const rtl = document.documentElement.dir === "rtl";
  const fmt = new Intl.NumberFormat(lang === "fa" ? "fa-IR" : "en-US");
  Chart.defaults.font.family = "Vazirmatn, system-ui, sans-serif";
  Chart.defaults.animation = false;
  const palette = ["#198754", "#0d6efd", "#fd7e14", "#6f42c1", "#20c997", "#dc3545", "#6c757d", "#ffc107"];
  const months = document.getElementById("months-chart");
  if (months) new Chart(months, {
    data: { labels: data.months.labels, datasets: [
      { type: "bar", label: data.months.revenue_label, data: data.months.revenue, backgroundColor: "#19875499", yAxisID: "y" },
      { type: "line", label: data.months.visits_label, data: data.months.visits, borderColor: "#0d6efd", yAxisID: "y1" }] },
    options: { locale: lang === "fa" ? "fa-IR" : "en-US", maintainAspectRatio: false, plugins: { legend: { rtl: rtl } },
      scales: { x: { reverse: rtl }, y: { position: rtl ? "right" : "left", ticks: { precision: 0, callback: v => fmt.format(v) } },
                y1: { position: rtl ? "left" : "right", grid: { drawOnChartArea: false }, ticks: { precision: 0, callback: v => fmt.format(v) } } } } });
  for (const [id, set] of [["tiers-chart", data.tiers], ["sources-chart", data.sources]]) {
    const el = document.getElementById(id);
    if (el) new Chart(el, { type: "doughnut", data: { labels: set.labels, datasets: [{ data: set.values, backgroundColor: palette }] },
      options: { locale: lang === "fa" ? "fa-IR" : "en-US", plugins: { legend: { position: "bottom", rtl: rtl } } } });
  }
})();
