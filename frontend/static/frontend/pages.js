/* CivicMap pages: small behaviours without inline handlers (the CSP allows none). */
(function () {
  "use strict";
  document.documentElement.classList.add("civicmap-js");
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
