// The member portal's only script (the CSP allows no inline scripts): the service worker, the Jalali date
// picker, progress bars and stamp cards drawn from data attributes, and the share button.
(function () {
  "use strict";
  var body = document.body;
  if ("serviceWorker" in navigator && body.dataset.sw) {
    navigator.serviceWorker.register(body.dataset.sw, { scope: body.dataset.scope }).catch(function () {});
  }
  if (body.dataset.signedOut !== undefined && window.caches) {
    // Signed out: pages cached for offline use hold the member's data; they go with the session.
    caches.keys().then(function (names) { names.forEach(function (n) { caches.delete(n); }); });
  }
  if (body.dataset.calendar === "jalali" && window.jalaliDatepicker) {
    jalaliDatepicker.startWatch({ persianDigits: true, autoShow: true, autoHide: true, hideAfterChange: true });
  }
  document.querySelectorAll(".progress-bar[data-of]").forEach(function (bar) {
    var of = Number(bar.dataset.of) || 1;
    bar.style.width = Math.min(100, Math.round((100 * Number(bar.dataset.width)) / of)) + "%";
  });
  document.querySelectorAll(".stamps[data-every]").forEach(function (card) {
    var every = Math.min(Number(card.dataset.every), 30), have = Number(card.dataset.have);
    for (var i = 0; i < every; i++) {
      var dot = document.createElement("span");
      if (i < have) dot.className = "on";
      card.appendChild(dot);
    }
  });
  document.querySelectorAll("[data-share]").forEach(function (button) {
    button.addEventListener("click", function () {
      var link = document.getElementById("share-link").value;
      var status = document.querySelector("[data-share-status]");
      if (navigator.share) {
        navigator.share({ title: button.dataset.shareTitle, text: button.dataset.shareText, url: link }).catch(function () {});
        return;
      }
      var done = function () { status.textContent = button.dataset.copied; };
      if (navigator.clipboard) {
        navigator.clipboard.writeText(link).then(done, function () {
          document.getElementById("share-link").select(); document.execCommand("copy"); done();
        });
      } else {
        document.getElementById("share-link").select(); document.execCommand("copy"); done();
      }
    });
  });
})();
