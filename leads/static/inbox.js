// The lead inbox: ask every 20 seconds whether new leads match the page's
// filters, and offer to show them. Counts only travel; the list reloads.
// It keeps asking while the tab is in the background, so the tab's title
// shows the count there, and, once the user has allowed it with the button
// (never asked on load), a browser notification says how many arrived.
(function () {
  "use strict";
  var notice = document.getElementById("new-leads");
  if (!notice || !window.fetch) { return; }
  var url = notice.getAttribute("data-updates-url");
  var reload = notice.getAttribute("data-reload-url");
  var interval = 20000;
  var title = document.title.replace(/^\(\d+\) /, "");
  var told = 0;
  var button = document.getElementById("notify-button");
  var canNotify = "Notification" in window;

  function offerNotifications() {
    if (!button || !canNotify) { return; }
    button.hidden = Notification.permission !== "default";
  }

  if (button && canNotify) {
    button.addEventListener("click", function () {
      var asked = Notification.requestPermission(function () { offerNotifications(); });
      if (asked && asked.then) { asked.then(offerNotifications); }
    });
    offerNotifications();
  }

  function notify(count) {
    if (!canNotify || Notification.permission !== "granted" || !document.hidden) { return; }
    if (count <= told) { return; }
    told = count;
    try {
      var note = new Notification(count === 1 ? "1 new lead" : count + " new leads", {
        body: "Open the inbox to see them.",
        tag: "clinic-leads-new"
      });
      note.onclick = function () { window.focus(); window.location.href = reload; };
    } catch (ignored) { /* some browsers allow notifications from a service worker only */ }
  }

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
    document.title = "(" + count + ") " + title;
    notify(count);
  }

  function poll() {
    // Background tabs keep polling (browsers may slow the timer down).
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
