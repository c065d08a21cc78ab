// The lead inbox: ask every 20 seconds whether new leads match the page's
// filters, and offer to show them. Counts only travel; the list reloads.
(function () {
  "use strict";
  var notice = document.getElementById("new-leads");
  if (!notice || !window.fetch) { return; }
  var url = notice.getAttribute("data-updates-url");
  var reload = notice.getAttribute("data-reload-url");
  var interval = 20000;

  function show(count) {
    notice.textContent = "";
    var text = document.createTextNode(
      count + (count === 1 ? " new lead. " : " new leads. "));
    var link = document.createElement("a");
    link.href = reload;
    link.textContent = "Show";
    notice.appendChild(text);
    notice.appendChild(link);
    notice.hidden = false;
    document.title = "(" + count + ") " + document.title.replace(/^\(\d+\) /, "");
  }

  function poll() {
    if (document.hidden) { return schedule(); }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.redirected) { return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && data.count > 0) { show(data.count); }
        schedule();
      })
      .catch(schedule);
  }

  function schedule() { window.setTimeout(poll, interval); }
  schedule();
})();
