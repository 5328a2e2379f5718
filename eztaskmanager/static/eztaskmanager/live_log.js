/* Live log viewer: polls the lines endpoint for the lines after the last one shown.
 *
 * Every piece of log text goes into the page through textContent, never as markup.
 */
(function () {
  "use strict";

  var root = document.getElementById("eztm-live");
  if (!root) {
    return;
  }
  var text = JSON.parse(document.getElementById("eztm-live-text").textContent);
  var url = root.dataset.linesUrl;
  var pollMs = Number(root.dataset.pollMs) || 1000;
  var maxLines = 20000;  // older lines leave the page beyond this; "Show earlier lines" brings them back

  var logBox = root.querySelector("[data-role=log]");
  var linesBox = root.querySelector("[data-role=lines]");
  var earlierButton = root.querySelector("[data-role=earlier]");
  var followButton = root.querySelector("[data-role=follow]");
  var statusLine = root.querySelector("[data-role=status]");
  var searchForm = root.querySelector("[data-role=search]");

  var view = {
    level: "all",
    search: "",
    first: 0,       // lowest line number looked at so far
    last: 0,        // highest line number looked at so far
    following: true,
    finished: false,
    generation: 0,  // bumped on each filter change; late answers of older ones are dropped
    timer: null
  };

  function fields(name) {
    return root.querySelectorAll("[data-field=" + name + "]");
  }

  function setField(name, value) {
    fields(name).forEach(function (element) {
      element.textContent = value;
    });
  }

  function showStatus(message) {
    statusLine.textContent = message || "";
  }

  function fetchLines(params) {
    var query = new URLSearchParams(params);
    query.set("level", view.level);
    if (view.search) {
      query.set("q", view.search);
    }
    return fetch(url + "?" + query.toString(), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.status === 403 || response.redirected || type.indexOf("application/json") !== 0) {
        var denied = new Error(text.denied);
        denied.fatal = true;
        throw denied;
      }
      if (!response.ok) {
        throw new Error(text.unreadable + " (HTTP " + response.status + ")");
      }
      return response.json();
    });
  }

  function lineElement(line) {
    var row = document.createElement("div");
    row.className = "eztm-line eztm-level-" + String(line.level).toLowerCase().replace(/[^a-z]/g, "");
    row.dataset.n = line.n;
    [["eztm-lineno", line.n], ["eztm-time", (line.time || "").slice(0, 19).replace("T", " ")], ["eztm-level", line.level],
     ["eztm-message", line.message]].forEach(function (part, index) {
      var span = document.createElement("span");
      span.className = part[0];
      span.textContent = part[1];
      if (index) {
        row.appendChild(document.createTextNode(" "));
      }
      row.appendChild(span);
    });
    return row;
  }

  function appendLines(lines) {
    var fragment = document.createDocumentFragment();
    lines.forEach(function (line) {
      fragment.appendChild(lineElement(line));
    });
    linesBox.appendChild(fragment);
    var extra = linesBox.childElementCount - maxLines;
    if (extra > 0) {
      for (var i = 0; i < extra; i++) {
        linesBox.removeChild(linesBox.firstElementChild);
      }
      view.first = Number(linesBox.firstElementChild.dataset.n);
      earlierButton.hidden = false;
    }
    if (view.following) {
      logBox.scrollTop = logBox.scrollHeight;
    }
  }

  function prependLines(lines) {
    var fragment = document.createDocumentFragment();
    lines.forEach(function (line) {
      fragment.appendChild(lineElement(line));
    });
    var height = logBox.scrollHeight;
    linesBox.insertBefore(fragment, linesBox.firstChild);
    logBox.scrollTop += logBox.scrollHeight - height;
  }

  function showReport(report) {
    view.finished = report.finished;
    var badge = root.querySelector("[data-field=result]");
    badge.className = "eztm-result eztm-result-" + (report.finished ? report.result : "running");
    badge.textContent = report.finished ? report.result_display : text.running;
    setField("task_status_display", report.task_status_display || report.task_status);
    setField("n_lines", report.n_lines);
    setField("n_warnings", report.n_warnings);
    setField("n_errors", report.n_errors);
    setField("n_problems", report.n_warnings + report.n_errors);
    setField("duration", report.duration === null ? "\u2013" : report.duration.toFixed(1) + " s");
    var bar = root.querySelector("[data-field=progress]");
    if (report.progress_total) {
      bar.hidden = false;
      bar.max = report.progress_total;
      bar.value = report.progress_done || 0;
      setField("progress_text", (report.progress_done || 0) + " / " + report.progress_total +
        " (" + Math.round(report.progress_percent) + "%)");
    } else if (report.progress_done !== null) {
      setField("progress_text", report.progress_done);
    }
    root.querySelector("[data-field=failure_row]").hidden = !report.failure_reason;
    // Stop while the run goes on, "Run again" once it has ended (present with the permission).
    root.querySelectorAll("[data-role=stop]").forEach(function (form) {
      form.hidden = report.finished;
    });
    root.querySelectorAll("[data-role=again]").forEach(function (form) {
      form.hidden = !report.finished;
    });
    setField("failure_reason", report.failure_reason);
  }

  function describeRange() {
    if (!linesBox.childElementCount) {
      return view.level === "all" && !view.search ? text.empty : text.noMatch;
    }
    return "";
  }

  function schedulePoll(delay) {
    clearTimeout(view.timer);
    view.timer = null;
    if (view.following && !view.doneReading) {
      view.timer = setTimeout(poll, delay);
    }
  }

  function poll() {
    var generation = view.generation;
    fetchLines({ after: view.last }).then(function (data) {
      if (generation !== view.generation) {
        return;
      }
      appendLines(data.lines);
      view.last = data.last;
      showReport(data.report);
      // A finished run whose lines are all read needs no more polling.
      view.doneReading = data.report.finished && !data.more_after;
      showStatus(describeRange());
      schedulePoll(data.more_after ? 0 : pollMs);
    }).catch(failed);
  }

  function failed(error) {
    showStatus(error.message);
    if (!error.fatal) {
      schedulePoll(pollMs * 5);
    }
  }

  function start() {
    view.generation += 1;
    var generation = view.generation;
    clearTimeout(view.timer);
    linesBox.textContent = "";
    earlierButton.hidden = true;
    view.doneReading = false;
    fetchLines({ before: "end" }).then(function (data) {
      if (generation !== view.generation) {
        return;
      }
      appendLines(data.lines);
      view.first = data.first;
      view.last = data.last;
      earlierButton.hidden = !data.more_before;
      showReport(data.report);
      view.doneReading = data.report.finished && !data.more_after;
      showStatus(describeRange());
      schedulePoll(data.more_after ? 0 : pollMs);
    }).catch(failed);
  }

  function loadEarlier() {
    var generation = view.generation;
    earlierButton.disabled = true;
    fetchLines({ before: view.first }).then(function (data) {
      earlierButton.disabled = false;
      if (generation !== view.generation) {
        return;
      }
      prependLines(data.lines);
      view.first = data.first;
      earlierButton.hidden = !data.more_before;
      showStatus(describeRange());
    }).catch(function (error) {
      earlierButton.disabled = false;
      showStatus(error.message);
    });
  }

  function setFollowing(following) {
    view.following = following;
    followButton.textContent = following ? text.pause : text.follow;
    followButton.setAttribute("aria-pressed", following ? "true" : "false");
    if (following) {
      logBox.scrollTop = logBox.scrollHeight;
      schedulePoll(0);
    } else {
      clearTimeout(view.timer);
    }
  }

  root.querySelectorAll("[data-level]").forEach(function (button) {
    button.addEventListener("click", function () {
      view.level = button.dataset.level;
      root.querySelectorAll("[data-level]").forEach(function (other) {
        var selected = other === button;
        other.classList.toggle("eztm-selected", selected);
        other.setAttribute("aria-pressed", selected ? "true" : "false");
      });
      start();
    });
  });

  searchForm.addEventListener("submit", function (event) {
    event.preventDefault();
    view.search = searchForm.elements.q.value.trim();
    start();
  });

  followButton.addEventListener("click", function () {
    setFollowing(!view.following);
  });

  earlierButton.addEventListener("click", loadEarlier);

  start();
})();
