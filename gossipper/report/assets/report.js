/* gossipper report: draws the charts of the page from the JSON in #report-data with uPlot.
   Tables are rendered by Python; this script only adds the charts. No network access. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function width(el) {
    return Math.max(320, Math.min(1100, el.clientWidth || 900));
  }

  function empty(el, text) {
    var p = document.createElement("p");
    p.className = "nodata";
    p.textContent = text;
    el.appendChild(p);
  }

  /* tables: [[xs, ys], ...] with labels[i] naming table i; one line per table. */
  function lines(el, title, tables, labels, yLabel, opts) {
    if (!tables.length) { empty(el, "No data for this chart: " + title + "."); return; }
    var joined = uPlot.join(tables);
    var series = [{ label: "t (s)" }];
    labels.forEach(function (label, i) {
      series.push({ label: label, stroke: palette[i % palette.length], width: 2,
                    spanGaps: true, points: { show: tables[i][0].length < 60 } });
    });
    var holder = document.createElement("div");
    el.appendChild(holder);
    new uPlot({
      title: title, width: width(el), height: 260, series: series,
      scales: { x: { time: false } },
      axes: [{ label: (opts && opts.xLabel) || "time since start (s)" }, { label: yLabel }]
    }, joined, holder);
  }

  function stats(run) { return run.stat || []; }

  function timeChart(id, title, pick, yLabel) {
    var el = document.getElementById(id);
    var tables = [], labels = [];
    data.runs.forEach(function (run) {
      stats(run).forEach(function (series) {
        pick(series).forEach(function (line) {
          tables.push([series.t_s, line.values]);
          labels.push(run.label + (stats(run).length > 1 ? " " + series.path : "") +
                      (line.name ? " " + line.name : ""));
        });
      });
    });
    lines(el, title, tables, labels, yLabel);
  }

  timeChart("chart-rate", "Calls per second (stat CSV periods)", function (s) {
    return [{ name: "", values: s.call_rate_cps }];
  }, "calls/s");
  timeChart("chart-open", "Open calls", function (s) {
    return [{ name: "", values: s.current_calls }];
  }, "calls");
  timeChart("chart-failures", "Failed calls and retransmissions per period", function (s) {
    var out = [{ name: "failed", values: s.failed }];
    Object.keys(s.failures).forEach(function (reason) {
      out.push({ name: reason, values: s.failures[reason] });
    });
    out.push({ name: "retransmissions", values: s.retransmissions });
    return out;
  }, "per period");
  timeChart("chart-rtmean", "Mean response time per period (stat CSV)", function (s) {
    return Object.keys(s.response_time_ms).map(function (rtd) {
      return { name: "RTD " + rtd, values: s.response_time_ms[rtd] };
    });
  }, "ms");

  (function percentiles() {
    var el = document.getElementById("chart-percentiles");
    var tables = [], labels = [];
    data.runs.forEach(function (run) {
      Object.keys(run.percentiles || {}).forEach(function (rtd) {
        var p = run.percentiles[rtd];
        ["p50_ms", "p90_ms", "p99_ms"].forEach(function (key) {
          tables.push([p.t_s, p[key]]);
          labels.push(run.label + " RTD " + rtd + " " + key.replace("_ms", ""));
        });
      });
    });
    lines(el, "Response-time percentiles over time (RTT file)", tables, labels, "ms");
  })();

  (function distributions() {
    var el = document.getElementById("chart-distribution");
    var names = Object.keys(data.distributions);
    if (!names.length) { empty(el, "No response time was measured."); return; }
    names.forEach(function (name) {
      var d = data.distributions[name];
      var series = [{ label: "ms" }], rows = [d.centers_ms];
      d.runs.forEach(function (counts, i) {
        series.push({ label: data.runs[i].label, stroke: palette[i % palette.length],
                      fill: palette[i % palette.length] + "55",
                      paths: uPlot.paths.bars({ size: [0.9, 40] }), points: { show: false } });
        rows.push(counts);
      });
      var holder = document.createElement("div");
      el.appendChild(holder);
      new uPlot({
        title: d.title, width: width(el), height: 240, series: series,
        scales: { x: { time: false, distr: d.log ? 3 : 1 } },
        axes: [{ label: "ms (bucket centre)" }, { label: "values" }]
      }, rows, holder);
    });
  })();

  /* Media quality over time (the -trace_media files, streams grouped by when their call
     ended): MOS on the left axis, loss % and jitter on the right one; only in pages of runs
     with media. */
  (function mediaOverTime() {
    var el = document.getElementById("chart-media");
    if (!el) return;
    var tables = [], labels = [], scales = [];
    data.runs.forEach(function (run) {
      var parts = run.media_over_time || [];
      parts.forEach(function (part) {
        if (!part.t_s.length) return;
        var name = run.label + (parts.length > 1 ? " " + part.path : "");
        [["MOS mean", part.mos_mean, "mos"], ["loss %", part.loss_pct, "y"],
         ["jitter mean (ms)", part.jitter_ms_mean, "y"]].forEach(function (line) {
          tables.push([part.t_s, line[1]]);
          labels.push(name + " " + line[0]);
          scales.push(line[2]);
        });
      });
    });
    var title = "Media quality by when the calls ended (-trace_media)";
    if (!tables.length) { empty(el, "No data for this chart: " + title + "."); return; }
    var series = [{ label: "t (s)" }];
    labels.forEach(function (label, i) {
      series.push({ label: label, stroke: palette[i % palette.length], width: 2,
                    scale: scales[i], spanGaps: true,
                    points: { show: tables[i][0].length < 60 } });
    });
    var holder = document.createElement("div");
    el.appendChild(holder);
    new uPlot({
      title: title, width: width(el), height: 260, series: series,
      scales: { x: { time: false }, mos: { range: [1, 5] }, y: { range: function (u, min, max) {
        return [0, Math.max(1, max * 1.1)];
      } } },
      axes: [{ label: "time since start (s)" }, { scale: "mos", label: "MOS" },
             { scale: "y", side: 1, label: "loss % · jitter ms", grid: { show: false } }]
    }, uPlot.join(tables), holder);
  })();

  /* Streams by MOS estimate (the summaries' distributions, 0.01 steps): only in pages of runs
     with media, where the media section holds the chart. */
  (function mosDistribution() {
    var el = document.getElementById("chart-mos");
    if (!el) return;
    var seen = {}, perRun = [];
    data.runs.forEach(function (run) {
      var counts = {}, media = run.summary.media;
      ((media && media.mos && media.mos.distribution) || []).forEach(function (pair) {
        counts[pair[0]] = pair[1];
        seen[pair[0]] = true;
      });
      perRun.push(counts);
    });
    var centis = Object.keys(seen).map(Number).sort(function (a, b) { return a - b; });
    if (!centis.length) { empty(el, "No MOS estimate: no stream received anything."); return; }
    var series = [{ label: "MOS" }], rows = [centis.map(function (c) { return c / 100; })];
    perRun.forEach(function (counts, i) {
      series.push({ label: data.runs[i].label, stroke: palette[i % palette.length],
                    fill: palette[i % palette.length] + "55",
                    paths: uPlot.paths.bars({ size: [0.9, 40] }), points: { show: false } });
      rows.push(centis.map(function (c) { return counts[c] || 0; }));
    });
    // A little room either side, so that a single value is a bar and not the whole width.
    var low = Math.max(1, centis[0] / 100 - 0.1);
    var high = Math.min(5, centis[centis.length - 1] / 100 + 0.1);
    var holder = document.createElement("div");
    el.appendChild(holder);
    new uPlot({
      title: "Streams by MOS estimate", width: width(el), height: 240, series: series,
      scales: { x: { time: false, range: [low, high] }, y: { range: function (u, min, max) {
        return [0, Math.max(1, max)];
      } } },
      // Whole streams on the y axis.
      axes: [{ label: "MOS (E-model estimate)" },
             { label: "streams", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000,
                                         10000, 20000, 50000, 100000] }]
    }, rows, holder);
  })();
})();
