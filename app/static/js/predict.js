/* The predict page: one sample from the form, many from a CSV file read here (csv.js), both
   sent to POST /predict as JSON records; each row's prediction or the API's error for it. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("predict-config").textContent);
  const fields = config.fields; // [{name, number, feature}]
  const byName = new Map(fields.map((f) => [f.name, f]));
  const Csv = window.riskwatchCsv;
  // A number as JavaScript and JSON write it; anything else (NaN, inf, 1e400) stays text,
  // so the API refuses it by its own words instead of the browser sending null.
  const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

  function csrfHeaders() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (meta && meta.content) headers["X-CSRF-Token"] = meta.content;
    return headers;
  }

  async function send(records) {
    const response = await fetch("/predict", {
      method: "POST",
      headers: csrfHeaders(),
      credentials: "same-origin",
      body: JSON.stringify({ records: records }),
    });
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      throw new Error(`the server answered ${response.status} without JSON`);
    }
    if (!response.ok) throw new Error(body && body.error ? body.error : `error ${response.status}`);
    return body;
  }

  function cellValue(field, text) {
    if (text === "") return null;
    if (field.number && NUMBER.test(text.trim()) && Number.isFinite(Number(text))) {
      return Number(text);
    }
    return text;
  }

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function shownProbabilities(p) {
    if (!p) return "";
    return Object.entries(p)
      .map(([k, v]) => `${k}: ${v.toFixed(3)}`)
      .join(", ");
  }

  // --- one sample -------------------------------------------------------------------------
  const form = document.getElementById("predict-form");
  const one = document.getElementById("one-result");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const record = {};
    for (const f of fields) {
      const input = form.elements.namedItem(f.name);
      const value = input.value.trim();
      if (!f.feature && value === "") continue; // an id left empty: no row key
      record[f.name] = f.feature ? cellValue(f, value) : value;
    }
    one.replaceChildren(el("p", "Predicting…"));
    try {
      const body = await send([record]);
      const result = body.results[0];
      if (result.error) {
        one.replaceChildren(el("p", result.error, { class: "problem", role: "alert" }));
        return;
      }
      const out = el("div", null, { class: "result" });
      out.append(el("p", `Prediction (model v${body.model_version}): `));
      out.firstChild.append(el("strong", String(result.prediction), { id: "one-prediction" }));
      if (result.probabilities) {
        const table = el("table", null, { class: "stack", id: "one-probabilities" });
        const head = table.createTHead().insertRow();
        head.append(el("th", "Class"), el("th", "Probability", { class: "num" }));
        const body2 = table.createTBody();
        for (const [k, v] of Object.entries(result.probabilities)) {
          const tr = body2.insertRow();
          tr.append(el("td", k, { "data-label": "Class" }));
          tr.append(el("td", v.toFixed(4), { class: "num", "data-label": "Probability" }));
        }
        out.append(table);
      }
      one.replaceChildren(out);
    } catch (e) {
      one.replaceChildren(el("p", e.message, { class: "problem", role: "alert" }));
    }
  });

  // --- a CSV file ---------------------------------------------------------------------------
  const csvForm = document.getElementById("csv-form");
  const status = document.getElementById("csv-status");
  const results = document.getElementById("csv-results");

  function problem(text) {
    status.replaceChildren(el("p", text, { class: "problem", role: "alert" }));
  }

  function records(parsed) {
    const header = parsed.rows[0].map((h) => h.trim());
    const seen = new Set();
    for (const name of header) {
      if (seen.has(name)) throw new Csv.CsvError(`line 1: the column ${name} is named twice`);
      seen.add(name);
    }
    const out = [];
    for (let r = 1; r < parsed.rows.length; r++) {
      const cells = parsed.rows[r];
      const entry = { line: parsed.lines[r], cells: cells, record: {}, error: null };
      if (cells.length !== header.length) {
        entry.error = `line ${entry.line}: ${cells.length} values for the header's ${header.length} columns`;
      }
      header.forEach(function (name, i) {
        const field = byName.get(name);
        if (field === undefined || i >= cells.length) return; // not the model's: not sent
        if (!field.feature && cells[i] === "") return;
        entry.record[name] = field.feature ? cellValue(field, cells[i]) : cells[i];
      });
      out.push(entry);
    }
    return { header: header, rows: out };
  }

  async function predictAll(entries) {
    const sendable = entries.filter((e) => e.error === null);
    for (let start = 0; start < sendable.length; start += config.max_records) {
      const chunk = sendable.slice(start, start + config.max_records);
      status.replaceChildren(el("p", `Predicting rows ${start + 1} to ${start + chunk.length}…`));
      const body = await send(chunk.map((e) => e.record));
      body.results.forEach(function (result, i) {
        const entry = chunk[i];
        if (result.error) {
          // The API numbers the records of its request; the page names the file's line.
          entry.error = `line ${entry.line}: ${result.error}`;
          entry.column = result.column;
        } else {
          entry.prediction = result.prediction;
          entry.probabilities = result.probabilities;
        }
      });
      entries.version = body.model_version;
    }
  }

  function classesOf(entries) {
    const classes = [];
    for (const e of entries) {
      for (const k of Object.keys(e.probabilities || {})) if (!classes.includes(k)) classes.push(k);
    }
    return classes;
  }

  function render(parsed) {
    const columns = fields.filter((f) => parsed.header.includes(f.name)).map((f) => f.name);
    const classes = classesOf(parsed.rows);
    const table = el("table", null, { class: "stack", id: "csv-table" });
    const head = table.createTHead().insertRow();
    const names = ["Line", "Prediction", ...classes.map((c) => `P(${c})`), "Error", ...columns];
    names.forEach((n) => head.append(el("th", n)));
    const tbody = table.createTBody();
    const lines = [Csv.line(["line", "prediction", ...classes.map((c) => `p_${c}`), "error", ...columns])];
    for (const e of parsed.rows) {
      const tr = tbody.insertRow();
      if (e.error) tr.className = "row-error";
      const probabilities = classes.map((c) =>
        e.probabilities && c in e.probabilities ? e.probabilities[c].toFixed(4) : "");
      const values = [e.line, e.error ? "" : String(e.prediction), ...probabilities, e.error || ""];
      const features = columns.map((c) => {
        const i = parsed.header.indexOf(c);
        return i < e.cells.length ? e.cells[i] : "";
      });
      [...values, ...features].forEach(function (v, i) {
        const td = el("td", v, { "data-label": names[i] });
        if (names[i] === "Error" && v) td.className = "error";
        tr.append(td);
      });
      lines.push(Csv.line([...values, ...features]));
    }
    const wrap = el("div", null, { class: "table-wrap" });
    wrap.append(table);
    const blob = new Blob(lines, { type: "text/csv" });
    const link = el("a", "Download these results as CSV", {
      href: URL.createObjectURL(blob),
      download: "predictions.csv",
      id: "csv-download",
    });
    results.replaceChildren(el("p", null), wrap);
    results.firstChild.append(link);
  }

  csvForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const file = document.getElementById("csv-file").files[0];
    results.replaceChildren();
    if (!file) return problem("Choose a CSV file first.");
    const reader = new FileReader();
    reader.addEventListener("error", () => problem(`The file could not be read: ${reader.error}`));
    reader.addEventListener("load", async function () {
      let parsed;
      try {
        const table = Csv.parse(String(reader.result));
        if (table.rows.length === 0) return problem("The file is empty: no header, no rows.");
        if (table.rows.length === 1) return problem("The file has a header but no rows.");
        parsed = records(table);
      } catch (e) {
        return problem(e instanceof Csv.CsvError ? `The file is not valid CSV: ${e.message}` : String(e));
      }
      try {
        await predictAll(parsed.rows);
      } catch (e) {
        return problem(e.message);
      }
      const bad = parsed.rows.filter((e) => e.error).length;
      const good = parsed.rows.length - bad;
      status.replaceChildren(el("p", `${good} rows predicted, ${bad} refused.`, { id: "csv-summary" }));
      render(parsed);
    });
    reader.readAsText(file);
  });
})();
