// Knowledge page: send the upload form with XMLHttpRequest so a <progress> bar can follow the upload, then
// show the server's answer (the re-rendered page) in place. Without JavaScript the form posts normally.
(function () {
  "use strict";

  // The page's main content is replaced after an upload; give the new buttons the behaviour app.js
  // gives on load (ask before deleting, disable a busy form's button).
  function enhance(root) {
    root.querySelectorAll("[data-confirm]").forEach(function (el) {
      el.addEventListener("click", function (event) {
        if (!window.confirm(el.dataset.confirm)) { event.preventDefault(); }
      });
    });
    root.querySelectorAll("form[data-busy]").forEach(function (form) {
      if (form.id === "upload-form") { return; }
      form.addEventListener("submit", function () {
        var button = form.querySelector("button[type=submit]");
        if (button) { button.disabled = true; button.textContent = form.dataset.busy; }
        form.setAttribute("aria-busy", "true");
      });
    });
  }

  function errorText(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) { return body.error.message; }
    } catch (ignored) { /* not JSON */ }
    return "the server answered " + xhr.status;
  }

  function showPage(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var main = document.getElementById("main");
    var fresh = null;
    if (type.indexOf("text/html") === 0) {
      fresh = new DOMParser().parseFromString(xhr.responseText, "text/html").getElementById("main");
    }
    if (!fresh || !main) { return false; }
    main.innerHTML = fresh.innerHTML;
    enhance(main);
    if (window.companionJobs) { window.companionJobs.watch(main); }  // a large guide: ingested as a job
    var target = main.querySelector("p.error") || document.getElementById("ingest-result") ||
      document.getElementById("job");
    var status = document.getElementById("upload-status");
    if (status) {
      var message = main.querySelector("p.notice, p.error");
      status.textContent = message ? message.textContent : "";
    }
    if (target) {
      if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
      target.focus();
    }
    return true;
  }

  function fail(form, text) {
    var status = document.getElementById("upload-status");
    var button = form.querySelector("button[type=submit]");
    document.getElementById("upload-progress-box").hidden = true;
    status.textContent = text;
    status.className = "error";
    if (button) { button.disabled = false; button.textContent = button.dataset.label || "Upload and ingest"; }
    form.removeAttribute("aria-busy");
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.id !== "upload-form" || !window.FormData || !window.XMLHttpRequest) { return; }
    event.preventDefault();
    var box = document.getElementById("upload-progress-box");
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var button = form.querySelector("button[type=submit]");
    var xhr = new XMLHttpRequest();
    if (button && !button.disabled) {  // app.js does this for the form on first load, not after a swap
      button.dataset.label = button.textContent;
      button.disabled = true;
      button.textContent = form.dataset.busy;
    }
    form.setAttribute("aria-busy", "true");
    box.hidden = false;
    bar.max = 100;
    bar.value = 0;
    status.className = "hint";
    status.textContent = "Uploading...";
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.round((e.loaded / e.total) * 100);
      bar.value = percent;
      status.textContent = "Uploading: " + percent + "%";
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = "Uploaded; indexing the guide (this can take a few seconds)...";
    });
    xhr.addEventListener("load", function () {
      if (!showPage(xhr)) { fail(form, "Upload refused: " + errorText(xhr)); }
    });
    xhr.addEventListener("error", function () {
      fail(form, "The upload failed: the server could not be reached. Try again.");
    });
    xhr.open("POST", form.action);
    xhr.send(new FormData(form));
  });
})();
