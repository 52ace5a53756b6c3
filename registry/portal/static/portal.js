// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  function ready() {
    // GOV.UK error summary: move focus to it so screen readers announce the problems first.
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
    // Bulk import: carry on issuing the next part without a click.
    var next = document.querySelector("form[data-autosubmit]");
    if (next) {
      window.setTimeout(function () { next.submit(); }, 50);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
