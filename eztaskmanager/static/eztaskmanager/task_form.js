/* Task form: show the --help of the command chosen in the form, and under the arguments the
   command line a run executes (or the error the form's save gives), as the user types. */
(function () {
  "use strict";

  // Wait this long after the last key before asking the server for a preview.
  var PREVIEW_DELAY_MS = 250;

  function setUpHelp() {
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

  function element(tag, className, text) {
    var node = document.createElement(tag);
    node.className = className;
    node.textContent = text; // never markup: the server's text is shown as text
    return node;
  }

  function showPreview(box, data) {
    box.textContent = "";
    box.classList.remove("eztm-preview-invalid");
    if (data && data.state === "ok") {
      box.appendChild(element("span", "eztm-preview-label", box.dataset.runs));
      box.appendChild(document.createTextNode(" "));
      box.appendChild(element("code", "eztm-preview-line", data.command_line));
    } else if (data && data.state === "invalid") {
      box.classList.add("eztm-preview-invalid");
      box.appendChild(element("span", "eztm-preview-label", box.dataset.invalid));
      (data.errors || []).forEach(function (message) {
        box.appendChild(element("div", "eztm-preview-error", message));
      });
    } else if (data && data.state === "none") {
      box.appendChild(element("span", "eztm-preview-label", data.message));
    } else {
      box.appendChild(element("span", "eztm-preview-label", box.dataset.unreadable));
    }
  }

  function setUpPreview() {
    var box = document.getElementById("eztm-arguments-preview");
    var input = document.getElementById("id_arguments");
    if (!box || !input || !box.dataset.url) {
      return;
    }
    var select = document.getElementById("id_command");
    var legacy = document.getElementById("id_legacy_arguments");
    var token = input.form && input.form.querySelector("input[name=csrfmiddlewaretoken]");
    // Under the field's help, in the field's own column.
    var row = input.closest(".form-row");
    var column = row && (row.querySelector(":scope > div") || row);
    if (column) {
      column.appendChild(box);
    }
    box.hidden = false;
    var timer = null;
    var asked = 0; // number of the latest request: older answers are dropped

    function ask() {
      var number = ++asked;
      var body = new URLSearchParams({
        command: select ? select.value : box.dataset.command,
        arguments: input.value,
        legacy: legacy && legacy.checked ? "1" : "",
      });
      fetch(box.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.value : "" },
        body: body,
      })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (!response.ok || type.indexOf("application/json") !== 0) {
            throw new Error("no preview");
          }
          return response.json();
        })
        .then(function (data) {
          if (number === asked) {
            showPreview(box, data);
          }
        })
        .catch(function () {
          if (number === asked) {
            showPreview(box, null);
          }
        });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, PREVIEW_DELAY_MS);
    }

    input.addEventListener("input", later);
    if (select) {
      select.addEventListener("change", later);
    }
    if (legacy) {
      legacy.addEventListener("change", later);
    }
    ask();
  }

  function setUp() {
    setUpHelp();
    setUpPreview();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
