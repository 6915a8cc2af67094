// Jalali date picker on every <input data-jdp> when the business counts in Jalali; re-bound after HTMX swaps.
(function () {
  function bind() {
    if (document.body.dataset.calendar === "jalali" && window.jalaliDatepicker) {
      jalaliDatepicker.startWatch({ persianDigits: true, autoShow: true, autoHide: true, hideAfterChange: true });
    }
  }
  document.addEventListener("DOMContentLoaded", bind);
})();
