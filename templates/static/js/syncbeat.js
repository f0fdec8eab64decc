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
  // Pages show times in the browser's zone from the next page on (syncing/localtime.py).
  function rememberZone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (zone && document.cookie.indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + ";path=/;max-age=31536000;samesite=lax";
    }
  }
  document.addEventListener("DOMContentLoaded", preselectZone);
  rememberZone();
})();
