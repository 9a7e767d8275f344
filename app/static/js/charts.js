/* The dashboards' charts (issue 13): every <canvas data-chart="ID"> is drawn with Chart.js from
   the JSON in <script type="application/json" id="ID">, built by app/charts.py. A point's level
   (green, orange, red, grey) colours it; a threshold is a flat dashed line; clicking a point
   opens what it came from (the document's `links`). The numbers are also in the page's
   tables, so nothing here is the only way to read them. */
(function () {
  "use strict";
  var LEVELS = { green: "#2e7d32", orange: "#e07b00", red: "#c62828", grey: "#8a8f98" };
  var PALETTE = ["#1f5fbf", "#7b3fa0", "#00838f", "#ad1457", "#5d4037", "#558b2f", "#f9a825",
                 "#37474f"];

  function colourOf(dataset, index) {
    if (dataset.threshold) { return LEVELS[dataset.threshold]; }
    if (dataset.marker) { return "#111111"; }
    if (dataset.palette !== undefined) { return PALETTE[dataset.palette % PALETTE.length]; }
    return PALETTE[index % PALETTE.length];
  }

  function dataset(d, index, kind) {
    var colour = colourOf(d, index);
    var points = d.levels ? d.levels.map(function (l) { return LEVELS[l] || LEVELS.grey; })
                          : colour;
    var out = {
      label: d.label,
      data: d.data,
      type: d.type || kind,
      borderColor: d.levels && (d.type || kind) === "bar" ? points : colour,
      backgroundColor: points,
      pointBackgroundColor: points,
      pointBorderColor: points,
      borderWidth: d.thin ? 1 : 2,
      pointRadius: d.threshold ? 0 : (d.marker ? 9 : 4),
      spanGaps: true,
      fill: false
    };
    if (d.dashed || d.threshold) { out.borderDash = [6, 4]; }
    if (d.marker) { out.pointStyle = "triangle"; out.showLine = false; }
    if (d.stack) { out.stack = d.stack; }
    return out;
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
    new Chart(canvas, {
      type: doc.kind,
      data: { labels: doc.labels,
              datasets: doc.datasets.map(function (d, i) { return dataset(d, i, doc.kind); }) },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { stacked: !!y.stacked, ticks: { autoSkip: true, maxRotation: 60 } },
                  y: scaleY },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
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
