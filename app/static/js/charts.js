/* The dashboards' and the run page's charts (issue 13): every <canvas data-chart="ID"> is drawn
   with Chart.js from the JSON in <script type="application/json" id="ID">, built by
   app/charts.py (the run page's by app/run_charts.py, from the PDF's series). A point's level
   (green, orange, red, grey) or its own colour (`colours`) colours it; a threshold is a flat
   dashed line; clicking a point opens what it came from (the document's `links`). A document
   may ask for horizontal bars, fixed ticks (`y.ticks`) and a time axis (`x`: seconds, its
   ticks and their labels). The numbers are also in the page's tables, so nothing here is the
   only way to read them. */
(function () {
  "use strict";
  var LEVELS = { green: "#2e7d32", orange: "#e07b00", red: "#c62828", grey: "#8a8f98" };
  var PALETTE = ["#1f5fbf", "#7b3fa0", "#00838f", "#ad1457", "#5d4037", "#558b2f", "#f9a825",
                 "#37474f"];

  function colourOf(dataset, index) {
    if (dataset.colour) { return dataset.colour; }
    if (dataset.threshold) { return LEVELS[dataset.threshold]; }
    if (dataset.marker) { return "#111111"; }
    if (dataset.palette !== undefined) { return PALETTE[dataset.palette % PALETTE.length]; }
    return PALETTE[index % PALETTE.length];
  }

  function dataset(d, index, kind) {
    var colour = colourOf(d, index);
    var points = d.colours ? d.colours
                 : d.levels ? d.levels.map(function (l) { return LEVELS[l] || LEVELS.grey; })
                 : colour;
    var out = {
      label: d.label,
      data: d.data,
      type: d.type || kind,
      borderColor: (d.levels || d.colours) && (d.type || kind) === "bar" ? points : colour,
      backgroundColor: points,
      pointBackgroundColor: points,
      pointBorderColor: points,
      borderWidth: d.thin ? 1 : 2,
      pointRadius: d.radius !== undefined ? d.radius : (d.threshold ? 0 : (d.marker ? 9 : 4)),
      spanGaps: !d.gaps,
      fill: false
    };
    if (d.style) { out.pointStyle = d.style; }
    if (d.showLine === false) { out.showLine = false; }
    if (d.slim) { out.barThickness = 4; }
    if (d.tags) { out.tags = d.tags; out.tagDy = d.tagDy; }
    if (d.dashed || d.threshold) { out.borderDash = [6, 4]; }
    if (d.marker) { out.pointStyle = "triangle"; out.showLine = false; }
    if (d.stack) { out.stack = d.stack; }
    // The legend's swatch: the dataset's own colour (`legend_colour`), not its first point's.
    if (Array.isArray(points)) { out.legendColour = d.legend_colour || colour; }
    return out;
  }

  function legendLabels(chart) {
    var items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
    items.forEach(function (item) {
      var d = chart.data.datasets[item.datasetIndex];
      if (d && d.legendColour) { item.fillStyle = d.legendColour; item.strokeStyle = d.legendColour; }
    });
    return items;
  }

  // Text beside a point or at a bar's end (a dataset's `tags`, one per point; `tagDy` moves it
  // down, a number or one per point), as the PDF writes it: seconds, counts, versions.
  var TAGS = {
    id: "riskwatchTags",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var across = chart.options.indexAxis === "y";
      chart.data.datasets.forEach(function (d, i) {
        var meta = chart.getDatasetMeta(i);
        if (!d.tags || meta.hidden) { return; }
        ctx.save();
        ctx.font = "11px sans-serif";
        ctx.fillStyle = "#1f2933";
        ctx.textBaseline = "middle";
        meta.data.forEach(function (el, k) {
          var tag = d.tags[k];
          if (!tag || el.skip) { return; }
          var dy = Array.isArray(d.tagDy) ? d.tagDy[k] : (d.tagDy || (across ? 0 : -9));
          ctx.fillText(tag, el.x + 4, el.y + dy);
        });
        ctx.restore();
      });
    }
  };

  function fixed(values) {
    // Ticks where the document puts them (the PDF's), not where Chart.js would.
    return function (axis) { axis.ticks = values.map(function (v) { return { value: v }; }); };
  }

  function timeAxis(x) {
    var names = {};
    x.ticks.forEach(function (t) { names[t[0]] = t[1]; });
    return { type: "linear", min: x.min, max: x.max,
             afterBuildTicks: fixed(x.ticks.map(function (t) { return t[0]; })),
             ticks: { callback: function (v) { return names[v] || ""; }, maxRotation: 0,
                      autoSkip: true },
             title: { display: !!x.title, text: x.title || "" } };
  }

  function utc(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof Chart === "undefined") { return; }
    var doc = JSON.parse(source.textContent);
    var y = doc.y || {};
    var scaleY = { beginAtZero: y.min === 0, stacked: !!y.stacked,
                   title: { display: !!y.title, text: y.title || "" } };
    if (y.min !== undefined) { scaleY.min = y.min; }
    if (y.max !== undefined) { scaleY.max = y.max; }
    if (y.ticks) { scaleY.afterBuildTicks = fixed(y.ticks); }
    if (y.ticks && y.names) {
      var names = {};
      y.ticks.forEach(function (t, i) { names[t] = y.names[i]; });
      scaleY.ticks = { callback: function (v) { return names[v] !== undefined ? names[v] : ""; } };
    }
    var scaleX = doc.x ? timeAxis(doc.x)
                       : { stacked: !!y.stacked, ticks: { autoSkip: true, maxRotation: 60 } };
    var scales = doc.horizontal ? { x: scaleY, y: scaleX } : { x: scaleX, y: scaleY };
    var tooltip = doc.x ? { callbacks: { title: function (items) {
      return items.length ? utc(items[0].parsed.x) : ""; } } } : {};
    new Chart(canvas, {
      type: doc.kind,
      plugins: [TAGS],
      data: { labels: doc.labels,
              datasets: doc.datasets.map(function (d, i) { return dataset(d, i, doc.kind); }) },
      options: {
        indexAxis: doc.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: { legend: { display: doc.legend !== false, position: "bottom",
                             labels: { boxWidth: 12, generateLabels: legendLabels } },
                   tooltip: tooltip },
        onHover: function (event, elements) {
          var link = elements.length ? doc.links[elements[0].index] : null;
          event.native.target.style.cursor = link ? "pointer" : "default";
        },
        onClick: function (event, elements) {
          if (!elements.length) { return; }
          var link = doc.links[elements[0].index];
          if (link) { window.location.assign(link); }
        }
      }
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
    var range = document.getElementById("range");
    if (range) {
      // The dates matter for a custom range only: changing them picks it.
      ["from", "to"].forEach(function (id) {
        var input = document.getElementById(id);
        if (input) {
          input.addEventListener("change", function () { range.value = "custom"; });
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
