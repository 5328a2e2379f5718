/* Task form: show the --help of the command chosen in the form. */
(function () {
  "use strict";

  function setUp() {
    var help = document.getElementById("eztm-command-help");
    var select = document.getElementById("id_command");
    if (!help || !select || !help.dataset.url) {
      return;
    }
    select.addEventListener("change", function () {
      var query = new URLSearchParams({ command: select.value });
      fetch(help.dataset.url + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.text() : "";
        })
        .then(function (text) {
          help.textContent = text;
        });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
