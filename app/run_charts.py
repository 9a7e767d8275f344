"""The run page's charts (issue 13 point 12): the PDF's charts, from the same series.

`run_series` reads the run as the PDF does (`pipeline.report.load.read_run`, its paths shown as
the PDF shows them) and asks `pipeline.report.chart_data.run_charts` for every chart: the PDF
draws those series with reportlab, this module turns each into a Chart.js document for
app/static/js/charts.js (the `app.charts.chart` shape, with the options the run's charts need:
horizontal bars, fixed ticks, a time axis, a colour per bar) and the rows of its table of
numbers. No SQL here: the reads are the report's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.charts import chart
from pipeline.formatting import fmt_metric
from pipeline.report import chart_data, load
from pipeline.settings import Settings

Series = dict[str, Any]
LABEL_ROWS = 4  # deployment labels take turns on this many lines, as in the PDF


def run_series(conn: sa.Connection, run_id: str, settings: Settings) -> dict[str, Any]:
    """Every chart's series of the run, as the PDF draws them (`chart_data.run_charts`)."""
    data = load.read_run(conn, run_id, settings["model.metric"])
    return chart_data.run_charts(load.without_server_paths(data, settings.base_dir))


def _axis(axis: dict[str, Any], title: str) -> dict[str, Any]:
    """The series' value axis: its range, its ticks and their labels as the PDF writes them."""
    return {"min": axis["min"], "max": axis["max"], "ticks": axis["ticks"], "title": title,
            "names": axis["labels"]}  # fmt: skip


def bars(series: Series) -> dict[str, Any]:
    """Horizontal bars, top to bottom, in the series' colours, on its axis."""
    n = len(series["labels"])
    data = [{"label": series["title"], "data": series["values"], "colours": series["colours"],
             "tags": series["notes"]}]  # fmt: skip
    doc = chart("bar", series["labels"], data, [None] * n, **_axis(series["x"], series["title"]))
    doc["horizontal"], doc["legend"] = True, False  # one series: the axis names it
    return doc


def bar_rows(series: Series) -> list[list[str]]:
    return [[label, note] for label, note in zip(series["labels"], series["notes"], strict=True)]


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def history(series: Series) -> dict[str, Any]:
    """The production metric (a line), the recorded scores at registration (diamonds) and the
    deployments (dashed vertical lines across the value axis) on the series' time axis."""
    names, colours = series["names"], series["colours"]
    y0, y1 = series["y"]["min"], series["y"]["max"]
    lines: list[dict[str, Any]] = []
    tags: list[str] = []
    below: list[int] = []
    for i, d in enumerate(series["deployments"]):  # a gap (no value) between two lines
        lines += [{"x": d["t"], "y": y0}, {"x": d["t"], "y": y1}, {"x": d["t"], "y": None}]
        tags += ["", d["label"], ""]  # written at the top, on one of three lines as in the PDF
        below += [0, 9 + 12 * (i % LABEL_ROWS), 0]
    versions = [f"v{p['version']}" for p in series["holdout"]]
    styles: dict[str, dict[str, Any]] = {
        "production": {},
        "holdout": {"style": "rectRot", "showLine": False, "tags": versions},
        "deployments": {"dashed": True, "gaps": True, "radius": 0, "thin": True, "tags": tags,
                        "tagDy": below},
    }  # fmt: skip
    datasets = []
    for key, style in styles.items():
        marks = series[key]
        if not marks:
            continue
        points = lines if key == "deployments" else [{"x": p["t"], "y": p["value"]} for p in marks]
        datasets.append({"label": names[key], "data": points, "colour": colours[key],
                         "type": "line", **style})  # fmt: skip
    doc = chart("line", [], datasets, [], **_axis(series["y"], series["metric"]))
    doc["x"] = {"min": series["x"]["min"], "max": series["x"]["max"],
                "ticks": series["x"]["ticks"], "title": series["x"]["title"]}  # fmt: skip
    return doc


def history_rows(series: Series) -> list[list[str]]:
    """Every mark of the history, oldest first: when, what, which version, the value."""
    marks = [(p["t"], "production model on new data", p["version"], fmt_metric(p["value"]))
             for p in series["production"]]  # fmt: skip
    marks += [(p["t"], "recorded score at registration", p["version"], fmt_metric(p["value"]))
              for p in series["holdout"]]  # fmt: skip
    marks += [(d["t"], "deployed", d["version"], "") for d in series["deployments"]]
    marks.sort(key=lambda m: m[0])
    return [[_when(t), what, f"v{version}", value] for t, what, version, value in marks]


def estimates(series: Series) -> dict[str, Any]:
    """Per period: the estimate's interval (a floating bar), the estimate (a dot, grey when
    unreliable) and the realised value (a diamond)."""
    intervals = [
        None if lo is None or hi is None else [lo, hi]
        for lo, hi in zip(series["low"], series["high"], strict=True)
    ]
    (name, reliable), (unreliable, _), (realised, _) = series["legend"]
    datasets = [
        {"label": name, "data": intervals, "colours": series["colours"], "type": "bar",
         "slim": True, "legend_colour": reliable},
        {"label": f"estimate ({unreliable}: grey)", "data": series["value"],
         "colours": series["colours"], "type": "line", "showLine": False,
         "legend_colour": reliable},
        {"label": realised, "data": series["realised"], "colour": series["realised_colour"],
         "type": "line", "showLine": False, "style": "rectRot"},
    ]  # fmt: skip
    n = len(series["labels"])
    return chart("bar", series["labels"], datasets, [None] * n,
                 **_axis(series["y"], series["metric"]))  # fmt: skip


def estimate_rows(series: Series) -> list[list[str]]:
    out = []
    for i, label in enumerate(series["labels"]):
        lo, hi, value, real = (series[k][i] for k in ("low", "high", "value", "realised"))
        out.append([
            label,
            fmt_metric(value) if value is not None else "–",
            "–" if lo is None or hi is None else f"{fmt_metric(lo)} to {fmt_metric(hi)}",
            fmt_metric(real) if real is not None else "–",
            "yes" if series["reliable"][i] else "no",
        ])  # fmt: skip
    return out


def distribution(series: Series) -> dict[str, Any]:
    """Reference and new shares side by side, in the PDF's colours."""
    datasets = [{"label": s["label"], "data": s["values"], "colour": s["colour"]}
                for s in series["series"]]  # fmt: skip
    n = len(series["labels"])
    return chart("bar", series["labels"], datasets, [None] * n,
                 **_axis(series["y"], series["axis"]))  # fmt: skip


def distribution_rows(series: Series) -> list[list[str]]:
    ref, new = (s["values"] for s in series["series"])
    return [[label, f"{r:.1%}", f"{c:.1%}"]
            for label, r, c in zip(series["labels"], ref, new, strict=True)]  # fmt: skip


def _figure(key: str, title: str, doc: dict[str, Any], header: list[str],
            rows: list[list[str]], height: float | None = None) -> dict[str, Any]:  # fmt: skip
    return {"id": f"chart-{key}", "title": title, "doc": doc, "header": header, "rows": rows,
            "height": height}  # fmt: skip


def _bars_figure(
    key: str, series: Series, header: list[str], title: str | None = None
) -> dict[str, Any]:
    height = max(8.0, 1.5 * len(series["labels"]) + 4)  # rem: a bar's row each
    title = title or series["title"]
    return _figure(key, title, bars(series), header, bar_rows(series), height)


def figures(charts: dict[str, Any]) -> dict[str, Any]:
    """The page's figures by section: each chart's id (chart-NAME: the page's headings have the
    names), title, Chart.js document and table;
    the confusion matrix as its series (a heat map the page draws as a table)."""
    out: dict[str, Any] = {"confusion": charts["confusion"]}
    h = charts["history"]
    out["history"] = None if h is None else _figure(
        "history", f"{h['metric']} over time", history(h),
        ["When (UTC)", "What", "Version", h["metric"]], history_rows(h))  # fmt: skip
    e = charts["estimates"]
    out["estimates"] = None if e is None else _figure(
        "estimates", f"{e['metric']} estimated and realised per {e['x_title']}", estimates(e),
        ["Period", "Estimated", "Interval", "Realised", "Reliable"], estimate_rows(e))  # fmt: skip
    out["drift"] = [
        _figure(f"drift-{i}", f"Reference vs new: {s['title']}", distribution(s),
                ["Bin or category", "Reference", "New"], distribution_rows(s))
        for i, s in enumerate(charts["drift"])
    ]  # fmt: skip
    q = charts["quality"]
    out["quality"] = (
        None
        if q is None
        else _bars_figure("quality", q, ["Error type", "Rows"], "Offending rows by error type")
    )
    out["predictions"] = [
        _bars_figure(f"predictions-{i}", s, ["Bin or class", "Predictions"])
        for i, s in enumerate(charts["predictions"])
    ]
    s = charts["steps"]
    out["steps"] = (
        None if s is None else _bars_figure("steps", s, ["Step", "Seconds"], "Seconds per step")
    )
    return out
