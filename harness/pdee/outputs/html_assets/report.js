/* pdee's HTML report: draws the data of #pdee-page and #pdee-run-N (pdee/outputs/html.py).
   Every text that comes from a run goes on the page as text (textContent), never as markup;
   an execution's details are parsed and drawn only when it is opened. */
(function () {
  "use strict";

  var page = JSON.parse(document.getElementById("pdee-page").textContent);
  var F = {};
  page.brief_fields.forEach(function (name, i) { F[name] = i; });
  var PAGE_SIZE = 100;
  var GL_ABOVE = 2000; // points above which a chart draws with WebGL, where there is WebGL
  var PASSED = { ok: true, exit: true };
  var DROPPED = "dropped"; // the timeline's row for executions a full queue dropped
  var RETIRED = {
    idle: "expired (idle timeout)",
    chaos: "destroyed at random",
    oom: "out of memory",
    timeout: "its execution timed out",
    broken: "its container ended under it",
    "cold-mode": "cold mode: one execution each",
    end: "the run ended"
  };
  var RETIRED_COLOR = {
    idle: "#7f7f7f", chaos: "#ff7f0e", oom: "#d62728", timeout: "#d62728",
    broken: "#9467bd", "cold-mode": "#bcbd22", end: "#c7c7c7"
  };
  var webgl = null; // whether WebGL works here: asked only when a chart is big enough

  function hasWebgl() {
    if (webgl === null) {
      try {
        var canvas = document.createElement("canvas");
        webgl = !!(window.WebGLRenderingContext && canvas.getContext("webgl"));
      } catch (e) {
        webgl = false;
      }
    }
    return webgl;
  }
  var current = null; // the run shown: {number, run, lines, byIndex}
  var linesCache = {};

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        if (key === "text") node.textContent = props[key];
        else if (key === "className") node.className = props[key];
        else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), props[key]);
        else node.setAttribute(key, props[key]);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function size(bytes) {
    if (bytes === null || bytes === undefined) return "";
    var units = ["B", "KB", "MB", "GB", "TB"];
    var value = bytes, unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit ? value.toFixed(1) : String(value)) + " " + units[unit];
  }

  function num(value, digits) {
    return value === null || value === undefined ? "" : Number(value).toFixed(digits);
  }

  function json(value) {
    return JSON.stringify(value, null, 2);
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  // An execution (part) failed when it did not pass and no retry followed: with auto-retry
  // it is judged by its last attempt (Execution.failed, as the terminal and JUnit judge it).
  function failed(b) {
    return !PASSED[b[F.status]] && !b[F.retried];
  }

  function outcome(b) {
    return b[F.retried] ? "retried" : PASSED[b[F.status]] ? "passed" : "failed";
  }

  function attemptText(b) {
    return String(b[F.attempt]) + (b[F.retried] ? " → retried" : "");
  }

  // -- the executions of a run, parsed when first needed --

  function lines(number) {
    if (!linesCache[number]) {
      var text = document.getElementById("pdee-run-" + number).textContent;
      linesCache[number] = text.split("\n").filter(function (line) { return line.length; });
    }
    return linesCache[number];
  }

  function execution(number, position) {
    return JSON.parse(lines(number)[position]);
  }

  // -- the page --

  function header(app) {
    var head = el("header", null, [
      el("h1", { text: page.title }),
      el("p", { className: "muted", text: "pdee " + page.pdee_version + " · HTML report" })
    ]);
    if (page.safe !== undefined && page.kind === "project") {
      head.appendChild(el("p", {
        id: "safe",
        className: page.safe ? "banner pass" : "banner fail",
        text: page.safe ? "safe to deploy" : "NOT safe to deploy"
      }));
    }
    app.appendChild(head);
  }

  function checks(app) {
    page.checks.forEach(function (check) {
      var section = el("section", { className: "check" });
      if (check.title) section.appendChild(el("h2", { text: check.title }));
      if (check.skipped) {
        section.appendChild(el("p", { className: "muted", text: "not checked: " + check.skipped }));
        app.appendChild(section);
        return;
      }
      section.appendChild(el("p", {
        className: check.safe ? "banner pass" : "banner fail",
        text: (check.safe ? "safe to deploy" : "NOT safe to deploy") +
          " (" + check.duration_s + " s)"
      }));
      var body = el("tbody");
      check.verdicts.forEach(function (verdict) {
        var link = null;
        if (verdict.execution !== null && verdict.run_number !== null) {
          link = el("button", {
            className: "link",
            text: "#" + verdict.execution + " (" + verdict.run + " run)",
            onclick: function () { showRun(verdict.run_number, verdict.execution); }
          });
        }
        body.appendChild(el("tr", { className: "verdict " + verdict.outcome }, [
          el("td", { text: verdict.scenario }),
          el("td", { className: "outcome", text: verdict.outcome }),
          el("td", { text: verdict.summary }),
          el("td", { className: "advice", text: verdict.advice || "" }),
          el("td", null, [link])
        ]));
      });
      section.appendChild(el("table", { className: "verdicts" }, [
        el("thead", null, [el("tr", null, ["scenario", "verdict", "what was seen", "advice",
          "execution"].map(function (h) { return el("th", { text: h }); }))]),
        body
      ]));
      app.appendChild(section);
    });
  }

  function runTabs(app) {
    if (page.runs.length < 2) return;
    var nav = el("nav", { id: "runs" });
    page.runs.forEach(function (run, number) {
      nav.appendChild(el("button", {
        className: "tab", "data-run": String(number), text: run.label,
        onclick: function () { showRun(number, null); }
      }));
    });
    app.appendChild(nav);
  }

  function layout(app) {
    var view = el("main", { id: "run" }, [
      el("div", { id: "banners" }),
      el("section", { id: "summary" }),
      el("h2", { text: "EEs over time" }),
      el("p", { className: "muted", text: "One lane per EE, from its start to its end (× and " +
        "why); each execution a mark: ◆ cold, ● warm, red when it failed, orange when it " +
        "failed and a retry followed; an execution dropped from a full queue is a ▼ at its " +
        "arrival on the last row. Click a mark for its details." }),
      el("div", { id: "timeline", className: "chart" }),
      el("h2", { text: "/tmp and memory per execution" }),
      el("div", { className: "charts" }, [
        el("div", { id: "tmp-chart", className: "chart half" }),
        el("div", { id: "memory-chart", className: "chart half" })
      ]),
      el("h2", { text: "Executions" }),
      el("div", { id: "filters" }),
      el("p", { id: "exec-count" }),
      el("table", { id: "executions" }, [el("thead"), el("tbody")]),
      el("div", { id: "exec-pager", className: "pager" }),
      el("section", { id: "details", hidden: "" }),
      el("h2", { text: "EEs" }),
      el("p", { id: "ee-count" }),
      el("table", { id: "ees" }, [el("thead"), el("tbody")]),
      el("div", { id: "ee-pager", className: "pager" }),
      el("section", { id: "stores" }),
      el("h2", { text: "Settings" }),
      el("table", { id: "settings" })
    ]);
    app.appendChild(view);
  }

  // -- one run --

  function showRun(number, index) {
    var run = page.runs[number];
    var byIndex = {};
    run.briefs.forEach(function (brief, position) { byIndex[brief[F.index]] = position; });
    current = { number: number, run: run, byIndex: byIndex, filtered: run.briefs, shown: 0 };
    document.querySelectorAll("#runs .tab").forEach(function (tab) {
      tab.classList.toggle("active", tab.getAttribute("data-run") === String(number));
    });
    banners(run);
    summary(run);
    timeline(run);
    usage(run);
    filters(run);
    applyFilter();
    ees(run);
    stores(run);
    settings(run);
    var details = document.getElementById("details");
    details.hidden = true;
    details.textContent = "";
    if (index !== null && index !== undefined && byIndex[index] !== undefined) {
      openExecution(byIndex[index]);
    }
  }

  function banners(run) {
    var box = document.getElementById("banners");
    box.textContent = "";
    var report = run.report;
    if (report.interrupted) {
      box.appendChild(el("p", { className: "banner warn",
        text: "Interrupted: these are the executions that had ended." }));
    }
    if (report.aborted) {
      box.appendChild(el("p", { className: "banner fail", text: "Aborted: " + report.aborted }));
    }
    if (report.pending_parts) {
      box.appendChild(el("p", { className: "banner warn", text: plural(report.pending_parts,
        "paused execution") + " still to come when the run stopped (their later steps " +
        "never ran)." }));
    }
    var settings = report.settings;
    if (settings.python_note) {
      box.appendChild(el("p", { id: "python-note", className: "banner note",
        text: "Note: " + settings.python_note }));
    }
    (settings.notes || []).forEach(function (note) {
      box.appendChild(el("p", { className: "banner note", text: "Note: " + note }));
    });
  }

  function summary(run) {
    var box = document.getElementById("summary");
    box.textContent = "";
    var s = run.report.summary, settings = run.report.settings;
    var counts = s.ok + " ok, " + s.failed + " failed" +
      (s.dropped ? " (" + s.dropped + " dropped from a full queue)" : "");
    if (settings.auto_retry && settings.auto_retry.on) {
      counts += ", " + s.retried_parts + " retried (" + plural(s.retried, "execution") +
        " retried, " + s.failed_after_retries + " failed after retries)";
    }
    var items = [
      ["executions", s.executions + " (" + counts + "; " + s.cold + " cold, " + s.warm +
        " warm)"],
      ["by status", Object.keys(s.by_status).filter(function (k) { return s.by_status[k]; })
        .map(function (k) { return k + " " + s.by_status[k]; }).join(", ")],
      ["EEs", s.ees_started + " started (" + s.ees_recycled + " recycled), " + s.ees_reused +
        " reused, " + s.ees_expired + " expired, " + s.ees_destroyed_at_random +
        " destroyed at random"],
      ["most /tmp", size(s.max_tmp_peak_used_bytes) + " of " + size(settings.tmp_size_bytes) +
        " (at an execution's end: " + size(s.max_tmp_used_bytes) + ")"],
      ["most memory", size(s.max_memory_peak_bytes) + " of " + size(settings.memory_bytes)],
      ["lifecycle", "mode " + settings.mode + ", concurrency " + settings.concurrency +
        (settings.mode === "realistic" ? ", idle timeout " + settings.idle_timeout_s +
          " s, chaos " + settings.chaos : "") + ", timeout " + settings.timeout_s + " s"],
      ["Python", String(settings.python) + " · image " + settings.image],
      ["seed", String(settings.seed)]
    ];
    var list = el("dl");
    items.forEach(function (item) {
      list.appendChild(el("dt", { text: item[0] }));
      list.appendChild(el("dd", { text: item[1] }));
    });
    box.appendChild(list);
    box.appendChild(el("p", null, ["Replay: ", el("code", { id: "replay", text: run.replay })]));
  }

  function mode(count) {
    return count > GL_ABOVE && hasWebgl() ? "scattergl" : "scatter";
  }

  function lanesOf(run) {
    var lanes = {}, names = [];
    run.report.ees.forEach(function (ee) {
      if (lanes[ee.id] === undefined) { lanes[ee.id] = names.length; names.push(ee.id); }
    });
    var dropped = false;
    run.briefs.forEach(function (brief) {
      if (brief[F.status] === DROPPED) { dropped = true; return; }
      var ee = brief[F.ee] || "(no EE)";
      if (lanes[ee] === undefined) { lanes[ee] = names.length; names.push(ee); }
    });
    if (dropped) { lanes[DROPPED] = names.length; names.push(DROPPED); }
    return { lanes: lanes, names: names };
  }

  var PLOT_CONFIG = { displaylogo: false, responsive: true };

  function timeline(run) {
    var found = lanesOf(run), lanes = found.lanes, names = found.names;
    var lifeX = [], lifeY = [], endX = [], endY = [], endText = [], endColor = [];
    var lastEnd = {};
    run.briefs.forEach(function (b) {
      var end = b[F.at_s] + b[F.duration_ms] / 1000;
      if (!(lastEnd[b[F.ee]] >= end)) lastEnd[b[F.ee]] = end;
    });
    run.report.ees.forEach(function (ee) {
      var until = ee.retired_at_s !== null ? ee.retired_at_s : (lastEnd[ee.id] || ee.started_at_s);
      lifeX.push(ee.started_at_s, until, null);
      lifeY.push(lanes[ee.id], lanes[ee.id], null);
      if (ee.retired) {
        endX.push(ee.retired_at_s);
        endY.push(lanes[ee.id]);
        endText.push(ee.id + " ended at " + num(ee.retired_at_s, 1) + " s: " +
          (RETIRED[ee.retired] || ee.retired));
        endColor.push(RETIRED_COLOR[ee.retired] || "#333");
      }
    });
    var groups = {};
    run.briefs.forEach(function (b, position) {
      var key, at, text;
      if (b[F.status] === DROPPED) { // never ran: no EE, no start; a mark at its arrival
        key = DROPPED;
        at = b[F.arrived_at_s];
        text = "#" + b[F.index] + " dropped at " + num(at, 1) + " s: " + (b[F.error] || "");
      } else {
        key = b[F.start] + " " + { passed: "ok", failed: "failed", retried: "retried" }[outcome(b)];
        at = b[F.at_s];
        text = "#" + b[F.index] + " " + b[F.start] + " " + b[F.status] + " on " + b[F.ee] +
          " at " + num(at, 1) + " s, " + num(b[F.duration_ms], 1) + " ms" +
          (b[F.flow] ? "; " + b[F.flow] : "");
      }
      var group = groups[key] || (groups[key] = { x: [], y: [], text: [], data: [] });
      group.x.push(at);
      group.y.push(key === DROPPED ? lanes[DROPPED] : lanes[b[F.ee] || "(no EE)"]);
      group.text.push(text);
      group.data.push(position);
    });
    var total = run.briefs.length + endX.length;
    var traces = [{
      type: mode(total), mode: "lines", name: "EE alive", x: lifeX, y: lifeY,
      line: { color: "#d0d7de", width: 6 }, hoverinfo: "skip"
    }];
    [["cold ok", "diamond", "#2ca02c"], ["warm ok", "circle", "#1f77b4"],
      ["cold failed", "diamond", "#d62728"], ["warm failed", "circle", "#d62728"],
      ["cold retried", "diamond", "#ff7f0e"], ["warm retried", "circle", "#ff7f0e"],
      [DROPPED, "triangle-down", "#d62728"]
    ].forEach(function (spec) {
      var group = groups[spec[0]];
      if (!group) return;
      traces.push({
        type: mode(total), mode: "markers", name: spec[0], x: group.x, y: group.y,
        text: group.text, customdata: group.data, hoverinfo: "text",
        marker: { symbol: spec[1], color: spec[2], size: 9, line: { width: 1, color: "#fff" } }
      });
    });
    if (endX.length) {
      traces.push({
        type: mode(total), mode: "markers", name: "EE ended", x: endX, y: endY,
        text: endText, hoverinfo: "text",
        marker: { symbol: "x", color: endColor, size: 10 }
      });
    }
    var height = Math.min(Math.max(180, 26 * names.length + 90), 640);
    var yaxis = { autorange: "reversed", zeroline: false, title: { text: "EE" } };
    if (names.length <= 40) {
      yaxis.tickvals = names.map(function (_, i) { return i; });
      yaxis.ticktext = names;
    } else {
      yaxis.showticklabels = false;
    }
    var chart = document.getElementById("timeline");
    window.Plotly.react(chart, traces, {
      height: height, margin: { l: 110, r: 20, t: 10, b: 45 },
      xaxis: { title: { text: "time (s" + (run.report.settings.arrivals.kind === "requests" ?
        ", real" : ", virtual") + ")" }, zeroline: false },
      yaxis: yaxis, legend: { orientation: "h", y: -0.25 }, hovermode: "closest"
    }, PLOT_CONFIG);
    if (!chart.pdeeClick) {
      chart.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        if (point && point.customdata !== undefined) openExecution(point.customdata);
      });
      chart.pdeeClick = true;
    }
  }

  function usage(run) {
    var x = [], tmpEnd = [], tmpPeak = [], memory = [], MB = 1024 * 1024;
    run.briefs.forEach(function (b) {
      x.push(b[F.index]);
      tmpEnd.push(b[F.tmp_used] === null ? null : b[F.tmp_used] / MB);
      tmpPeak.push(b[F.tmp_peak] === null ? null : b[F.tmp_peak] / MB);
      memory.push(b[F.memory_peak] === null ? null : b[F.memory_peak] / MB);
    });
    var settings = run.report.settings, kind = mode(x.length * 2);
    function draw(id, title, series, cap, capLabel) {
      var chart = document.getElementById(id);
      window.Plotly.react(chart, series.map(function (s) {
        return { type: kind, mode: x.length > 200 ? "lines" : "lines+markers", name: s[0], x: x,
          y: s[1], line: { color: s[2] }, hovertemplate: "#%{x}: %{y:.1f} MB<extra>" + s[0] +
          "</extra>" };
      }), {
        height: 300, margin: { l: 60, r: 20, t: 30, b: 45 },
        title: { text: title, font: { size: 14 } },
        xaxis: { title: { text: "execution" }, zeroline: false },
        yaxis: { title: { text: "MB" }, rangemode: "tozero", range: [0, cap / MB * 1.08] },
        shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: cap / MB, y1: cap / MB,
          line: { color: "#d62728", dash: "dash", width: 1.5 } }],
        annotations: [{ xref: "paper", x: 1, y: cap / MB, xanchor: "right", yanchor: "bottom",
          text: capLabel, showarrow: false, font: { color: "#d62728", size: 11 } }],
        legend: { orientation: "h", y: -0.3 }
      }, PLOT_CONFIG);
    }
    draw("tmp-chart", "/tmp", [["peak", tmpPeak, "#ff7f0e"], ["at the end", tmpEnd, "#1f77b4"]],
      settings.tmp_size_bytes, "cap " + size(settings.tmp_size_bytes));
    draw("memory-chart", "memory of the step processes", [["peak", memory, "#9467bd"]],
      settings.memory_bytes, "limit " + size(settings.memory_bytes));
  }

  // -- the executions table: filtered, a page at a time --

  function filters(run) {
    var box = document.getElementById("filters");
    box.textContent = "";
    var statuses = {};
    run.briefs.forEach(function (b) { statuses[b[F.status]] = (statuses[b[F.status]] || 0) + 1; });
    var retried = run.briefs.filter(function (b) { return b[F.retried]; }).length;
    var select = el("select", { id: "status-filter", onchange: applyFilter }, [
      el("option", { value: "", text: "every status" }),
      el("option", { value: "failed", text: "failed" }),
      retried ? el("option", { value: "retried", text: "failed, then retried (" + retried +
        ")" }) : null
    ].filter(Boolean).concat(Object.keys(statuses).map(function (status) {
      return el("option", { value: status, text: status + " (" + statuses[status] + ")" });
    })));
    var start = el("select", { id: "start-filter", onchange: applyFilter }, [
      el("option", { value: "", text: "cold and warm" }),
      el("option", { value: "cold", text: "cold" }),
      el("option", { value: "warm", text: "warm" })
    ]);
    var text = el("input", { id: "text-filter", type: "search",
      placeholder: "EE or error contains…", oninput: applyFilter });
    box.appendChild(el("label", null, ["Show ", select, " ", start, " ", text]));
  }

  function applyFilter() {
    var status = document.getElementById("status-filter").value;
    var start = document.getElementById("start-filter").value;
    var text = document.getElementById("text-filter").value.toLowerCase();
    current.filtered = [];
    current.run.briefs.forEach(function (b, position) {
      if (status === "failed" ? !failed(b) : status === "retried" ? !b[F.retried] :
        status && b[F.status] !== status) return;
      if (start && b[F.start] !== start) return;
      if (text && (String(b[F.ee]) + " " + (b[F.error] || "")).toLowerCase().indexOf(text) < 0) {
        return;
      }
      current.filtered.push(position);
    });
    executionsPage(0);
  }

  var COLUMNS = ["#", "EE", "start", "status", "arrived (s)", "started (s)", "ms",
    "/tmp at end", "/tmp peak", "files left", "memory peak", "error, exit or flow"];
  var STATUS_COLUMN = 3;

  function executionsPage(first) {
    var run = current.run, table = document.getElementById("executions");
    // With auto-retry, an "attempt" column after the status, as the terminal's table has.
    var retrying = !!(run.report.settings.auto_retry && run.report.settings.auto_retry.on);
    var columns = COLUMNS.slice();
    if (retrying) columns.splice(STATUS_COLUMN + 1, 0, "attempt");
    var all = run.briefs.length, shown = current.filtered.length;
    var count = document.getElementById("exec-count");
    count.setAttribute("data-total", String(all));
    count.textContent = plural(all, "execution") + (shown === all ? "" : "; " + shown +
      " match") + (shown ? ": " + (first + 1) + "–" + Math.min(first + PAGE_SIZE, shown) +
      " shown" : "") + ". Click one for its steps, logs and /tmp.";
    table.tHead.textContent = "";
    table.tHead.appendChild(el("tr", null, columns.map(function (h) {
      return el("th", { text: h });
    })));
    var body = table.tBodies[0];
    body.textContent = "";
    current.filtered.slice(first, first + PAGE_SIZE).forEach(function (position) {
      var b = run.briefs[position];
      var cells = [
        String(b[F.index]), b[F.ee], b[F.start], b[F.status], num(b[F.arrived_at_s], 1),
        num(b[F.at_s], 1), num(b[F.duration_ms], 1), size(b[F.tmp_used]), size(b[F.tmp_peak]),
        b[F.tmp_files] === null ? "" : String(b[F.tmp_files]), size(b[F.memory_peak]),
        [b[F.error], b[F.flow]].filter(Boolean).join("; ")
      ];
      if (retrying) cells.splice(STATUS_COLUMN + 1, 0, attemptText(b));
      var row = el("tr", {
        className: "execution " + outcome(b),
        "data-index": String(b[F.index]), tabindex: "0",
        onclick: function () { openExecution(position); },
        onkeydown: function (event) { if (event.key === "Enter") openExecution(position); }
      }, cells.map(function (cell, column) {
        return el("td", { className: column === STATUS_COLUMN ? "status " + b[F.status] : "",
          text: cell });
      }));
      body.appendChild(row);
    });
    pager("exec-pager", first, shown, executionsPage);
  }

  function pager(id, first, total, go) {
    var box = document.getElementById(id);
    box.textContent = "";
    if (total <= PAGE_SIZE) return;
    box.appendChild(el("button", { text: "‹ previous",
      onclick: function () { go(Math.max(first - PAGE_SIZE, 0)); } }));
    if (!first) box.lastChild.disabled = true;
    box.appendChild(el("span", { text: " page " + (first / PAGE_SIZE + 1) + " of " +
      Math.ceil(total / PAGE_SIZE) + " " }));
    var next = el("button", { text: "next ›", onclick: function () { go(first + PAGE_SIZE); } });
    next.disabled = first + PAGE_SIZE >= total;
    box.appendChild(next);
  }

  // -- one execution's details, drawn when it is opened --

  function field(list, name, value) {
    if (value === null || value === undefined || value === "") return;
    list.appendChild(el("dt", { text: name }));
    list.appendChild(el("dd", { text: String(value) }));
  }

  function pre(value, className) {
    return el("pre", { className: className || "" }, [typeof value === "string" ? value :
      json(value)]);
  }

  function openExecution(position) {
    var e = execution(current.number, position);
    var box = document.getElementById("details");
    box.textContent = "";
    box.hidden = false;
    box.appendChild(el("button", { className: "close", text: "close ×",
      onclick: function () { box.hidden = true; } }));
    box.appendChild(el("h2", { id: "details-title", text: "Execution #" + e.index + ": " +
      e.status + ", " + e.start + " on " + e.ee }));
    var list = el("dl");
    field(list, "arrived at (s)", num(e.arrived_at_s, 3));
    field(list, "started at (s)", num(e.at_s, 3));
    field(list, "duration (ms)", num(e.duration_ms, 1));
    field(list, "cold start (ms)", e.cold_start_ms === null ? null : num(e.cold_start_ms, 1));
    field(list, "part", e.part > 1 ? e.part + " of #" + e.first_index : null);
    var brief = current.run.briefs[position];
    field(list, "attempt", e.attempt > 1 || e.retry ? attemptText(brief) : null);
    field(list, e.retry || e.attempt > 1 ? "retry" : "flow", brief[F.flow]);
    field(list, "context id", e.context_id);
    field(list, "trace id", e.trace_id);
    field(list, "restarted step processes", (e.restarted_steps || []).join(", "));
    field(list, "exit reason", e.exit_reason);
    box.appendChild(list);
    if (e.error) {
      var where = e.error.step ? " in step " + e.error.step : "";
      if (e.error.file) where += " (" + e.error.file + (e.error.line ? ":" + e.error.line : "") + ")";
      box.appendChild(el("div", { className: "error" }, [
        el("h3", { text: "Error" + where }),
        el("p", { className: "message", text: e.error.type + ": " + e.error.message }),
        e.error.traceback ? pre(e.error.traceback, "traceback") : null
      ]));
    }
    (e.notes || []).forEach(function (note) {
      box.appendChild(el("p", { className: "banner note", text: "Note: " + note }));
    });
    if (e.tmp) {
      var tmp = e.tmp, about = el("dl");
      field(about, "/tmp at the end", size(tmp.used_bytes) + " of " + size(tmp.size_bytes) +
        " (" + plural(tmp.files, "file") + ")");
      field(about, "/tmp peak", size(tmp.peak_used_bytes));
      field(about, "packages in /tmp", tmp.packages_bytes ? size(tmp.packages_bytes) : null);
      if (e.memory) {
        field(about, "memory peak", size(e.memory.peak_bytes) + " of " +
          size(e.memory.limit_bytes));
      }
      box.appendChild(el("h3", { text: "/tmp and memory" }));
      box.appendChild(about);
      if (!tmp.platform_files_intact) {
        box.appendChild(el("p", { className: "banner fail", text: "A step deleted the " +
          "platform's files in /tmp/__pdg__: this EE's next restarted step process fails." }));
      }
      if (tmp.some_files && tmp.some_files.length) {
        box.appendChild(el("h4", { text: "Left in /tmp" + (tmp.files > tmp.some_files.length ?
          " (" + tmp.some_files.length + " of " + tmp.files + ")" : "") }));
        box.appendChild(el("ul", { className: "files" }, tmp.some_files.map(function (path) {
          return el("li", null, [el("code", { text: path })]);
        })));
      }
    }
    Object.keys(e.steps || {}).forEach(function (name) {
      var step = e.steps[name];
      var section = el("section", { className: "step" }, [
        el("h3", { text: "Step " + name + " · " + num(step.duration_ms, 1) + " ms" +
          (step.stand_in ? " · a stand-in (not run)" : "") })
      ]);
      section.appendChild(el("h4", { text: "Return value" }));
      section.appendChild(pre(step.return_value === undefined ? null : step.return_value));
      if (step.exports && Object.keys(step.exports).length) {
        section.appendChild(el("h4", { text: "Exports" }));
        section.appendChild(pre(step.exports));
      }
      section.appendChild(el("h4", { text: "Logs" + (step.logs_truncated ? " (cut short)" : "") }));
      var stderr = {};
      (step.stderr_lines || []).forEach(function (n) { stderr[n] = true; });
      var logs = el("pre", { className: "logs" });
      (step.logs || "").split("\n").forEach(function (line, n, all) {
        if (n === all.length - 1 && line === "") return;
        logs.appendChild(el("span", { className: stderr[n] ? "stderr" : "stdout" }, [line + "\n"]));
      });
      if (!step.logs) logs.appendChild(el("span", { className: "muted", text: "(nothing)" }));
      section.appendChild(logs);
      box.appendChild(section);
    });
    [["pd.respond", e.respond], ["Pause", e.pause],
      ["Emails (never sent)", e.emails && e.emails.length ? e.emails : null],
      ["Data stores", e.stores && Object.keys(e.stores).length ? e.stores : null]
    ].forEach(function (item) {
      if (item[1] === null || item[1] === undefined) return;
      box.appendChild(el("h3", { text: item[0] }));
      box.appendChild(pre(item[1]));
    });
    box.scrollIntoView({ block: "start" });
  }

  // -- the EEs, the data stores, the settings --

  function ees(run) {
    var all = run.report.ees;
    document.getElementById("ee-count").textContent = plural(all.length, "EE");
    var table = document.getElementById("ees");
    table.tHead.textContent = "";
    table.tHead.appendChild(el("tr", null, ["EE", "started (s)", "ended (s)", "why it ended",
      "executions", "warm worker", "recycled"].map(function (h) {
      return el("th", { text: h });
    })));
    function draw(first) {
      var body = table.tBodies[0];
      body.textContent = "";
      all.slice(first, first + PAGE_SIZE).forEach(function (ee) {
        body.appendChild(el("tr", { className: "ee " + (ee.retired || "") }, [
          ee.id, num(ee.started_at_s, 1), ee.retired_at_s === null ? "" : num(ee.retired_at_s, 1),
          ee.retired ? RETIRED[ee.retired] || ee.retired : "", String(ee.executions.length),
          ee.warm_worker ? "yes" : "", ee.recycled ? "yes" : ""
        ].map(function (cell) { return el("td", { text: cell }); })));
      });
      pager("ee-pager", first, all.length, draw);
    }
    draw(0);
  }

  function stores(run) {
    var box = document.getElementById("stores");
    box.textContent = "";
    var names = Object.keys(run.report.data_stores || {});
    if (!names.length) return;
    box.appendChild(el("h2", { text: "Data stores at the end" }));
    names.forEach(function (name) {
      var store = run.report.data_stores[name];
      box.appendChild(el("h3", { text: name + " (" + (store.path || "for this run only") +
        "): " + store.reads + " reads, " + store.writes + " writes" }));
      box.appendChild(pre(store.records));
    });
  }

  function settings(run) {
    var table = document.getElementById("settings");
    table.textContent = "";
    var values = run.report.settings;
    Object.keys(values).forEach(function (key) {
      var value = values[key];
      table.appendChild(el("tr", null, [el("th", { text: key }),
        el("td", null, [typeof value === "string" ? value : pre(value, "inline")])]));
    });
  }

  var app = document.getElementById("app");
  header(app);
  checks(app);
  if (page.runs.length) {
    runTabs(app);
    layout(app);
    showRun(0, null);
  }
})();
