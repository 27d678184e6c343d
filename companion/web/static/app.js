// Companion: small progressive enhancements shared by every page. Pages work without it.
(function () {
  "use strict";
  // Forms marked data-busy disable their submit button while a slow request (a model call) runs.
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.dataset.label = button.textContent;
        button.textContent = form.dataset.busy || "Working...";
      }
      form.setAttribute("aria-busy", "true");
    });
  });
  // Buttons marked data-confirm ask first (delete, publish).
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (event) {
      if (!window.confirm(el.dataset.confirm)) { event.preventDefault(); }
    });
  });
})();
