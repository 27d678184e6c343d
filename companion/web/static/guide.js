// Guide viewer: bring the cited passage into view (the page URL carries no #fragment, so do it here).
(function () {
  "use strict";
  var cited = document.getElementById("cited");
  if (cited && !window.location.hash) {
    cited.scrollIntoView({ block: "center" });
    cited.focus({ preventScroll: true });
  }
})();
