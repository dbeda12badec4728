/* gossipper web UI: a client of the HTTP/WebSocket API (docs/api.md), no framework, no build.
   Pages (hash routes): #/login, #/ (the runs), #/run/NAME (live charts, scenario table,
   controls). The token lives in sessionStorage; every datum comes through the token-checked
   API. Values are put in the page as text (never as HTML). */
(function () {
  "use strict";

  var API = "/api/v1";
  var HISTORY = 600; // points kept per chart: ten minutes at one snapshot a second
  var ROLES = ["viewer", "operator", "admin"];
  // The media chart's series and the decimals shown (the API gives MOS and jitter to 3).
  var MEDIA_LABELS = { mos: "MOS mean", loss: "loss %", jitter: "jitter mean (ms)" };
  var MEDIA_DIGITS = { mos: 2, loss: 2, jitter: 3 };
  var palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  var main = document.getElementById("main");
  var live = null;      // the open WebSocket of the page, closed when the page changes
  var page = null;      // the page object that receives snapshots
  var managesRuns = false;
  var pendingError = ""; // shown once the next page is up (a logout's reason)

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function fmt(value, digits) {
    if (value === null || value === undefined) return "–";
    if (typeof value !== "number") return String(value);
    return digits === undefined ? value.toLocaleString("en") : value.toFixed(digits);
  }

  function session() {
    return {
      token: sessionStorage.getItem("gossipper.token"),
      user: sessionStorage.getItem("gossipper.user"),
      role: sessionStorage.getItem("gossipper.role") || "viewer"
    };
  }

  function may(role) {
    return ROLES.indexOf(session().role) >= ROLES.indexOf(role);
  }

  function showError(text) {
    var box = document.getElementById("error");
    box.textContent = text;
    box.hidden = !text;
    if (text) document.getElementById("notice").hidden = true;
  }

  function showNotice(text) {
    var box = document.getElementById("notice");
    box.textContent = text;
    box.hidden = !text;
    if (text) document.getElementById("error").hidden = true;
  }

  function logout(reason) {
    sessionStorage.removeItem("gossipper.token");
    sessionStorage.removeItem("gossipper.user");
    sessionStorage.removeItem("gossipper.role");
    pendingError = reason || "";
    if (location.hash !== "#/login") location.hash = "#/login";
    else route();
  }

  /* A call of the API; resolves with the JSON answer, rejects with an Error whose message is
     the API's "code: message". A 401 (token expired or revoked) goes back to the login. */
  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    var token = session().token;
    if (token) headers.Authorization = "Bearer " + token;
    var options = { method: method, headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(API + path, options).then(function (response) {
      return response.text().then(function (text) {
        var doc = null;
        try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
        if (response.ok) return doc;
        var error = doc && doc.error ? doc.error : { code: "http_" + response.status,
                                                     message: response.statusText };
        var failure = new Error(error.code + ": " + error.message);
        failure.status = response.status;
        failure.code = error.code;
        if (response.status === 401 && path !== "/login") {
          logout("Your session ended (" + error.message + "); log in again.");
        }
        throw failure;
      });
    });
  }

  var liveGeneration = 0; // bumped when a page closes its feed: stale retries stop

  function closeLive() {
    liveGeneration += 1;
    if (live) {
      live.onclose = null;
      live.close();
      live = null;
    }
  }

  /* The live feed: calls onSnapshot with each snapshot; reconnects after a drop (a run that
     ended and a server restart look the same from here), checking the token first. */
  function openLive(runName, onSnapshot) {
    closeLive();
    var generation = liveGeneration;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + API + "/live?token=" +
      encodeURIComponent(session().token || "") +
      (runName ? "&run=" + encodeURIComponent(runName) : "");
    var socket = new WebSocket(url);
    live = socket;
    socket.onopen = function () { setLiveState("live"); };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "snapshot") onSnapshot(message);
    };
    socket.onclose = function () {
      if (live !== socket) return;
      live = null;
      setLiveState("disconnected; retrying");
      setTimeout(function () {
        if (generation !== liveGeneration) return;
        // A refused handshake has no readable status: ask the API why (a 401 logs out).
        api("GET", "/status").then(function () {
          if (generation === liveGeneration) openLive(runName, onSnapshot);
        }, function (error) {
          if (generation === liveGeneration) showError(error.message);
        });
      }, 2000);
    };
  }

  function setLiveState(text) {
    var node = document.getElementById("live-state");
    if (node) node.textContent = text;
  }

  // ------------------------------------------------------------------ charts

  /* A live line chart. ``options`` (optional): ``scales`` (series label -> uPlot scale name,
     default "y"), ``digits`` (series label -> decimals shown in the legend), ``uScales`` and
     ``axes`` (uPlot's, replacing the single y axis labelled yLabel). */
  function Chart(holder, title, labels, yLabel, options) {
    this.holder = holder;
    this.title = title;
    this.yLabel = yLabel;
    this.options = options || {};
    this.labels = [];
    this.data = [[]];
    this.plot = null;
    this.setLabels(labels);
  }

  Chart.prototype.width = function () {
    return Math.max(300, (this.holder.clientWidth || 460) - 10);
  };

  Chart.prototype.setLabels = function (labels) {
    if (this.plot && labels.join("\n") === this.labels.join("\n")) return;
    var old = this.labels, oldData = this.data, options = this.options;
    this.labels = labels.slice();
    var data = [oldData[0]];
    labels.forEach(function (label) {
      var at = old.indexOf(label);
      data.push(at >= 0 ? oldData[at + 1] : oldData[0].map(function () { return null; }));
    });
    this.data = data;
    if (this.plot) this.plot.destroy();
    var series = [{}];
    labels.forEach(function (label, i) {
      var digits = (options.digits || {})[label];
      series.push({ label: label, stroke: palette[i % palette.length], width: 2,
                    scale: (options.scales || {})[label] || "y",
                    value: digits === undefined ? undefined : function (u, v) {
                      return fmt(v, digits);
                    },
                    spanGaps: true, points: { show: false } });
    });
    var scales = { x: { time: true } };
    Object.keys(options.uScales || {}).forEach(function (k) { scales[k] = options.uScales[k]; });
    this.plot = new uPlot({
      title: this.title, width: this.width(), height: 220, series: series,
      scales: scales, axes: options.axes || [{}, { label: this.yLabel }]
    }, this.data, this.holder);
  };

  Chart.prototype.push = function (tsSeconds, values) {
    this.data[0].push(tsSeconds);
    for (var i = 0; i < this.labels.length; i++) {
      var v = values[i];
      this.data[i + 1].push(v === undefined ? null : v);
    }
    if (this.data[0].length > HISTORY) this.data.forEach(function (s) { s.shift(); });
    this.plot.setData(this.data);
    // The legend shows the latest values unless the pointer is over the chart (then it shows
    // the values under the pointer, as uPlot does).
    if (!(this.plot.cursor.left >= 0)) this.plot.setLegend({ idx: this.data[0].length - 1 });
  };

  Chart.prototype.resize = function () {
    if (this.plot) this.plot.setSize({ width: this.width(), height: 220 });
  };

  // ------------------------------------------------------------------ pages

  function loginPage() {
    closeLive();
    var user = el("input", { id: "login-user", name: "user", autocomplete: "username",
                             required: true, autofocus: true });
    var password = el("input", { id: "login-password", name: "password", type: "password",
                                 autocomplete: "current-password", required: true });
    var form = el("form", { "class": "login", id: "login-form" }, [
      el("h1", { text: "Log in" }),
      el("label", {}, ["User ", user]),
      el("label", {}, ["Password ", password]),
      el("button", { type: "submit", id: "login-submit", "class": "primary", text: "Log in" })
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      api("POST", "/login", { user: user.value, password: password.value }).then(function (doc) {
        sessionStorage.setItem("gossipper.token", doc.token);
        sessionStorage.setItem("gossipper.user", user.value);
        sessionStorage.setItem("gossipper.role", doc.role);
        showError("");
        location.hash = "#/";
      }, function (error) { showError(error.message); });
    });
    return { node: form };
  }

  function stateBadge(state) {
    return el("span", { "class": "state state-" + state, "data-state": state, text: state });
  }

  function runsPage() {
    var tbody = el("tbody", { id: "runs-body" });
    var table = el("table", { id: "runs-table" }, [
      el("thead", {}, [el("tr", {}, ["Run", "State", "Rate", "Open calls", "Calls",
                                       "Successful", "Failed"].map(function (h, i) {
        return el("th", { "class": i > 1 ? "num" : null, text: h });
      }))]),
      tbody
    ]);
    var children = [el("h1", { text: "Runs" }),
                    el("p", { "class": "muted" }, ["Feed: ", el("span", { id: "live-state",
                                                                          text: "connecting" })]),
                    table];
    if (managesRuns && may("admin")) children.push(newRunForm());
    var node = el("section", { id: "runs-page" }, children);

    function render(snapshot) {
      tbody.textContent = "";
      snapshot.runs.forEach(function (run) {
        var s = run.statistics || {}, calls = s.calls || {}, c = run.control || {};
        tbody.appendChild(el("tr", { "data-run": run.name }, [
          el("td", {}, [el("a", { href: "#/run/" + encodeURIComponent(run.name),
                                  text: run.name })]),
          el("td", {}, [stateBadge(run.state)]),
          el("td", { "class": "num", text: fmt(c.rate) }),
          el("td", { "class": "num", text: fmt(c.open_calls) }),
          el("td", { "class": "num", text: fmt(calls.total) }),
          el("td", { "class": "num", text: fmt(calls.successful) }),
          el("td", { "class": "num", text: fmt(calls.failed) })
        ]));
      });
      if (!snapshot.runs.length) {
        tbody.appendChild(el("tr", {}, [el("td", { colspan: 7, "class": "muted",
                                                   text: "No run yet." })]));
      }
    }
    openLive(null, render);
    return { node: node };
  }

  function newRunForm() {
    var name = el("input", { id: "new-run-name", required: true, pattern: "[A-Za-z0-9._-]+" });
    var spec = el("textarea", { id: "new-run-spec", spellcheck: "false" });
    spec.value = JSON.stringify({ sn: "uac", remote: "127.0.0.1:5070", rate: 10 }, null, 2);
    var start = el("input", { id: "new-run-start", type: "checkbox", checked: true });
    var form = el("form", { id: "new-run" }, [
      el("h2", { text: "New run" }),
      el("p", { "class": "muted", text: "The run's configuration as JSON (docs/server.md)." }),
      el("p", {}, [el("label", {}, ["Name ", name])]),
      spec,
      el("p", {}, [el("label", {}, [start, " start it now"]), " ",
                   el("button", { type: "submit", "class": "primary", text: "Create" })])
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var parsed;
      try { parsed = JSON.parse(spec.value); } catch (e) {
        showError("The configuration is not JSON: " + e.message);
        return;
      }
      api("POST", "/runs", { name: name.value, spec: parsed, start: start.checked })
        .then(function () { showNotice("Run " + name.value + " created."); },
              function (error) { showError(error.message); });
    });
    return form;
  }

  function card(id, label) {
    return el("div", { "class": "card" }, [
      el("div", { "class": "label", text: label }),
      el("div", { "class": "value", id: id, text: "–" })
    ]);
  }

  function controlsFor(runName, getControl) {
    if (!may("operator")) return null; // a viewer sees no controls (the API refuses them too)
    function command(name, body, done) {
      api("POST", "/runs/" + encodeURIComponent(runName) + "/" + name, body).then(function (a) {
        showNotice(done + " (" + a.run + ": " + a.state + ")");
      }, function (error) { showError(error.message); });
    }
    var rate = el("input", { id: "rate-input", type: "number", min: 0, step: "any" });
    var users = el("input", { id: "users-input", type: "number", min: 0, step: 1 });
    var usersBox = el("label", { id: "users-control", hidden: true },
                      ["Users ", users, el("button", { type: "button", id: "users-set",
                        text: "Set", onclick: function () {
                          command("users", { value: Number(users.value) },
                                  "Users set to " + users.value);
                        } })]);
    var box = el("div", { "class": "controls", id: "controls" }, [
      el("label", {}, ["Rate ", rate, el("span", { id: "rate-unit", "class": "muted" }),
                       el("button", { type: "button", id: "rate-set", text: "Set",
                         onclick: function () {
                           command("rate", { value: Number(rate.value) },
                                   "Rate set to " + rate.value);
                         } })]),
      usersBox,
      el("button", { type: "button", id: "pause", text: "Pause", onclick: function () {
        command("pause", {}, "Paused");
      } }),
      el("button", { type: "button", id: "resume", text: "Resume", onclick: function () {
        command("resume", {}, "Resumed");
      } }),
      el("button", { type: "button", id: "stop", "class": "danger", text: "Stop",
        onclick: function () {
          if (confirm("Stop " + runName + "? No new calls; it ends when its calls end.")) {
            command("stop", {}, "Stopping");
          }
        } }),
      el("button", { type: "button", id: "start", hidden: true, text: "Start",
        onclick: function () { command("start", {}, "Started"); } })
    ]);
    var filled = false;
    return {
      node: box,
      update: function (run) {
        var c = getControl();
        if (c) {
          // Fill the inputs once; after that they are the user's.
          if (!filled) {
            rate.value = c.rate;
            if (c.users !== null) users.value = c.users;
            filled = true;
          }
          document.getElementById("rate-unit").textContent =
            " calls / " + fmt(c.rate_period_s) + " s ";
          usersBox.hidden = c.users === null;
        }
        var startable = managesRuns && (run.state === "created" || run.state === "finished" ||
                                        run.state === "failed");
        document.getElementById("start").hidden = !startable;
      }
    };
  }

  function scenarioTable(elements, isServer) {
    var rows = elements.map(function (e) {
      var what;
      if (e.kind === "send" || e.kind === "recv") {
        var out = e.kind === "send";
        // As SIPp's screen: the arrow points the way the message goes.
        var right = out !== isServer;
        what = [el("span", { "class": "arrow", text: right ? "———> " : "<——— " }),
                e.label + (e.optional ? " (opt)" : "")];
      } else if (e.kind === "pause") {
        what = ["Pause [" + e.text + "]"];
      } else if (e.kind === "nop") {
        what = [e.text || "[ NOP ]"];
      } else {
        what = [e.kind === "sendCmd" ? "[ Sent Command ]" : "[ Received Command ]"];
      }
      function cell(name, value) {
        return el("td", { "class": "num", "data-element": e.index, "data-column": name,
                          text: value === null ? "" : fmt(value) });
      }
      var isMessage = e.kind === "send" || e.kind === "recv";
      return el("tr", {}, [
        el("td", { "class": "num", text: String(e.index) }),
        el("td", {}, what),
        el("td", { text: e.rtd || "" }),
        cell("messages", e.messages),
        cell("retrans", isMessage ? e.retrans : null),
        cell("timeouts", e.timeouts),
        cell("unexpected", e.kind === "send" || e.kind === "nop" || e.kind === "sendCmd" ||
                           e.kind === "recvCmd" ? null : e.unexpected),
        cell("lost", e.lost ? e.lost : null)
      ]);
    });
    return el("table", { "class": "scenario", id: "scenario-table" }, [
      el("thead", {}, [el("tr", {}, ["#", "Element", "RTD", "Messages", "Retrans", "Timeout",
                                     "Unexpected", "Lost"].map(function (h, i) {
        return el("th", { "class": i > 2 || i === 0 ? "num" : null, text: h });
      }))]),
      el("tbody", {}, rows)
    ]);
  }

  function runPage(runName) {
    var control = null;
    var controls = controlsFor(runName, function () { return control; });
    var chartsBox = el("div", { "class": "charts" });
    function holder(id) {
      var h = el("div", { "class": "chart", id: id });
      chartsBox.appendChild(h);
      return h;
    }
    // Media quality: only while the statistics have a media section (a run with media, once
    // its first stream has ended); every figure covers the streams whose call has ended.
    var mediaBox = el("section", { id: "media-box", hidden: true }, [
      el("h2", { text: "Media quality" }),
      el("p", { "class": "muted", text: "Over the RTP streams whose call has ended." }),
      el("div", { "class": "cards" }, [
        card("media-streams", "RTP streams"), card("media-sent", "Packets sent"),
        card("media-received", "Packets received"), card("media-lost", "Packets lost"),
        card("media-loss", "Loss %"), card("media-jitter", "Jitter mean (ms)"),
        card("media-mos", "MOS mean")
      ]),
      el("div", { "class": "charts" }, [el("div", { "class": "chart", id: "chart-media" })])
    ]);
    var mediaChart = null;
    var tableBox = el("div", { id: "scenario-box" }, [
      el("p", { "class": "muted", text: "Waiting for the first snapshot." })]);
    var node = el("section", { id: "run-page", "data-run": runName }, [
      el("h1", {}, ["Run ", el("span", { id: "run-name", text: runName }), " ",
                    el("span", { id: "run-state" })]),
      el("p", { "class": "muted" }, ["Feed: ", el("span", { id: "live-state",
                                                            text: "connecting" }),
                                     el("span", { id: "run-error" })]),
      el("div", { "class": "cards" }, [
        card("count-total", "Calls created"), card("count-successful", "Successful"),
        card("count-failed", "Failed"), card("count-open", "Open calls"),
        card("count-target", "Target rate (calls/s)"), card("count-rate", "Calls/s now"),
        card("count-retrans", "Retransmissions")
      ]),
      controls ? el("h2", { text: "Controls" }) : null,
      controls ? controls.node : null,
      el("h2", { text: "Live" }),
      chartsBox,
      mediaBox,
      el("h2", { text: "Scenario" }),
      tableBox
    ]);
    var charts = null;
    var previous = null;

    function ensureCharts() {
      if (charts) return;
      charts = {
        rate: new Chart(holder("chart-rate"), "Calls per second", ["created", "target"],
                        "calls/s"),
        open: new Chart(holder("chart-open"), "Open calls", ["open calls"], "calls"),
        rtd: new Chart(holder("chart-rtd"), "Response time (cumulative)", [], "ms"),
        failures: new Chart(holder("chart-failures"), "Failed calls by reason (cumulative)",
                            ["failed"], "calls"),
        retrans: new Chart(holder("chart-retrans"), "Retransmissions per second",
                           ["retransmissions"], "per s")
      };
      window.addEventListener("resize", function () {
        Object.keys(charts).forEach(function (k) { charts[k].resize(); });
      });
    }

    function renderMedia(media, t) {
      mediaBox.hidden = !media;
      if (!media) return;
      var packets = media.packets || {};
      document.getElementById("media-streams").textContent = fmt(media.streams);
      document.getElementById("media-sent").textContent = fmt(packets.sent);
      document.getElementById("media-received").textContent = fmt(packets.received);
      document.getElementById("media-lost").textContent = fmt(packets.lost);
      document.getElementById("media-loss").textContent = fmt(media.loss_pct, MEDIA_DIGITS.loss);
      document.getElementById("media-jitter").textContent =
        fmt(media.jitter_ms.mean, MEDIA_DIGITS.jitter);
      document.getElementById("media-mos").textContent = fmt(media.mos.mean, MEDIA_DIGITS.mos);
      if (!mediaChart) {
        // Created once the box is shown: the chart takes the width of its holder.
        var digits = {};
        digits[MEDIA_LABELS.mos] = MEDIA_DIGITS.mos;
        digits[MEDIA_LABELS.loss] = MEDIA_DIGITS.loss;
        digits[MEDIA_LABELS.jitter] = MEDIA_DIGITS.jitter;
        var scales = {};
        scales[MEDIA_LABELS.mos] = "mos";
        mediaChart = new Chart(document.getElementById("chart-media"), "Media quality",
          [MEDIA_LABELS.mos, MEDIA_LABELS.loss, MEDIA_LABELS.jitter], "", {
            scales: scales, digits: digits,
            // MOS is 1..5 on the left axis; loss % and jitter ms share the right one.
            uScales: { mos: { range: [1, 5] } },
            axes: [{}, { scale: "mos", label: "MOS" },
                   { scale: "y", side: 1, label: "loss % · jitter ms", grid: { show: false } }]
          });
        charts.media = mediaChart;
      }
      mediaChart.push(t, [media.mos.mean, media.loss_pct, media.jitter_ms.mean]);
    }

    function render(snapshot) {
      var run = null;
      snapshot.runs.forEach(function (r) { if (r.name === runName) run = r; });
      if (!run) { showError("not_found: no run named " + runName); return; }
      control = run.control;
      var stateNode = document.getElementById("run-state");
      stateNode.textContent = "";
      stateNode.appendChild(stateBadge(run.state));
      document.getElementById("run-error").textContent = run.error ? " — " + run.error : "";
      if (controls) controls.update(run);
      var s = run.statistics;
      if (!s) return;
      ensureCharts();
      var calls = s.calls, t = snapshot.ts_ms / 1000;
      var retrans = s.messages.retransmissions;
      var cps = null, rps = null;
      if (previous && t > previous.t) {
        cps = Math.max(0, (calls.total - previous.total) / (t - previous.t));
        rps = Math.max(0, (retrans - previous.retrans) / (t - previous.t));
      }
      previous = { t: t, total: calls.total, retrans: retrans };
      var target = control ? control.rate / (control.rate_period_s || 1) : s.rate.target_cps;
      var open = control ? control.open_calls : calls.current;
      document.getElementById("count-total").textContent = fmt(calls.total);
      document.getElementById("count-successful").textContent = fmt(calls.successful);
      document.getElementById("count-failed").textContent = fmt(calls.failed);
      document.getElementById("count-open").textContent = fmt(open);
      document.getElementById("count-target").textContent = fmt(target);
      document.getElementById("count-rate").textContent = cps === null ? "–" : fmt(cps, 1);
      document.getElementById("count-retrans").textContent = fmt(retrans);

      charts.rate.push(t, [cps, target]);
      charts.open.push(t, [open]);
      var rtdLabels = [], rtdValues = [];
      Object.keys(s.latency.rtd).forEach(function (name) {
        var r = s.latency.rtd[name];
        ["p50", "p90", "p99"].forEach(function (p) {
          rtdLabels.push("RTD " + name + " " + p);
          rtdValues.push(r[p + "_ms"]);
        });
      });
      charts.rtd.setLabels(rtdLabels);
      charts.rtd.push(t, rtdValues);
      // One line per reason that has failed calls, and the total.
      var reasons = Object.keys(s.failures).filter(function (k) { return s.failures[k] > 0; });
      charts.failures.setLabels(["failed"].concat(reasons));
      charts.failures.push(t, [calls.failed].concat(reasons.map(function (k) {
        return s.failures[k];
      })));
      charts.retrans.push(t, [rps]);
      renderMedia(s.media, t);

      if (run.elements) {
        var isServer = control ? control.is_server : false;
        tableBox.textContent = "";
        tableBox.appendChild(scenarioTable(run.elements, isServer));
      }
    }
    openLive(runName, render);
    return { node: node };
  }

  // ------------------------------------------------------------------ routing

  function route() {
    var s = session();
    var hash = location.hash || "#/";
    var who = document.getElementById("who");
    var logoutButton = document.getElementById("logout");
    var nav = document.getElementById("nav");
    nav.textContent = "";
    if (!s.token && hash !== "#/login") { location.hash = "#/login"; return; }
    if (s.token) {
      who.textContent = s.user + " (" + s.role + ")";
      logoutButton.hidden = false;
      nav.appendChild(el("a", { href: "#/", text: "Runs" }));
    } else {
      who.textContent = "";
      logoutButton.hidden = true;
    }
    main.textContent = "";
    var match = /^#\/run\/(.+)$/.exec(hash);
    if (hash === "#/login") page = loginPage();
    else if (match) page = runPage(decodeURIComponent(match[1]));
    else page = runsPage();
    main.appendChild(page.node);
    if (pendingError) {
      showError(pendingError);
      pendingError = "";
    }
    document.title = "gossipper" + (match ? " — " + decodeURIComponent(match[1]) : "");
  }

  document.getElementById("logout").addEventListener("click", function () { logout(""); });
  window.addEventListener("hashchange", function () {
    showError("");
    showNotice("");
    if (session().token && location.hash !== "#/login") {
      api("GET", "/status").then(function (status) { managesRuns = status.manages_runs; route(); },
                                 function (error) { showError(error.message); });
    } else {
      route();
    }
  });
  if (session().token) {
    api("GET", "/status").then(function (status) {
      managesRuns = status.manages_runs;
      route();
    }, function (error) { showError(error.message); route(); });
  } else {
    route();
  }
}());
