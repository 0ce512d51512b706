// Live progress of a batch: polls the batch's progress.json (counts of its candidates by
// state, read from the database) and updates the bar until the run is over. No inline
// script: the Content-Security-Policy allows scripts from this site only.
(function () {
  "use strict";
  var box = document.getElementById("live-progress");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-url");
  var bar = document.getElementById("progress-bar");
  var percent = document.getElementById("progress-percent");
  var jobLine = document.getElementById("job-state");
  var delay = 1000;

  function show(data) {
    bar.value = data.percent;
    percent.textContent = data.percent + "%";
    box.setAttribute("data-percent", String(data.percent));
    Object.keys(data.counts).forEach(function (state) {
      var cell = box.querySelector('[data-count="' + state + '"]');
      if (cell) { cell.textContent = String(data.counts[state]); }
    });
    if (data.job) {
      var label = jobLine.getAttribute("data-label-" + data.job.state) || data.job.state;
      jobLine.setAttribute("data-state", data.job.state);
      jobLine.textContent = label.replace("{id}", String(data.job.id)) +
        (data.job.error ? ": " + data.job.error : "");
    }
    var status = document.getElementById("batch-status");
    if (status && status.getAttribute("data-label-" + data.status)) {
      status.textContent = status.getAttribute("data-label-" + data.status);
    }
    box.setAttribute("data-status", data.status);
  }

  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.done) {
          box.setAttribute("data-done", "yes");
        } else {
          window.setTimeout(tick, delay);
        }
      })
      .catch(function () {
        window.setTimeout(tick, delay * 5);
      });
  }
  tick();
}());
