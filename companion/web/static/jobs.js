// Background jobs: follow the job partial (#job, see _job.html) by polling its state once a second, update
// the bar and the message, and load the page again when the job ends (the page then shows its report).
// Without JavaScript the page refreshes itself (a <noscript> meta refresh) instead.
(function () {
  "use strict";
  var FINISHED = { done: true, failed: true, cancelled: true };

  function show(section, job) {
    var bar = section.querySelector("#job-progress");
    var message = section.querySelector("#job-message");
    var status = section.querySelector("#job-status");
    if (bar && job.progress.total) { bar.max = job.progress.total; bar.value = job.progress.done; }
    if (status) { status.textContent = job.status; }
    if (message) {
      var count = job.progress.total !== null ? job.progress.done + " of " + job.progress.total + ": " : "";
      message.textContent = count + job.progress.message;
    }
    section.dataset.jobStatus = job.status;
  }

  function watch(root) {
    var section = (root || document).querySelector("#job[data-job-url]");
    if (!section || FINISHED[section.dataset.jobStatus] || section.dataset.watched) { return; }
    section.dataset.watched = "1";
    var failures = 0;
    function poll() {
      fetch(section.dataset.jobUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (job) {
          failures = 0;
          show(section, job);
          if (FINISHED[job.status]) { window.location.assign(section.dataset.doneUrl); return; }
          window.setTimeout(poll, 1000);
        })
        .catch(function () {
          failures += 1;  // the server restarting: keep trying, more slowly
          window.setTimeout(poll, Math.min(10000, 1000 * (failures + 1)));
        });
    }
    window.setTimeout(poll, 500);
  }

  window.companionJobs = { watch: watch };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watch(document); });
  } else {
    watch(document);
  }
})();
