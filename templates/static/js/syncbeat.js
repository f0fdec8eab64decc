/* Syncbeat's few lines of script; every page works without them.
   A new form's time zone field starts at the browser's zone (when the list has it). */
(function () {
  "use strict";
  function preselectZone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone) { return; }
    document.querySelectorAll("form[data-new] [name=timezone]").forEach(function (field) {
      if (field.tagName === "SELECT") {
        if (field.querySelector('option[value="' + zone + '"]')) { field.value = zone; }
      } else if (!field.value || field.value === "UTC") {
        field.value = zone;
      }
    });
  }
  document.addEventListener("DOMContentLoaded", preselectZone);
})();
