"""The report's section on performance without labels: the run's estimates with their
intervals and verdicts, and the estimated-vs-realised chart over periods (the production
model's metric estimated per period with its interval; the realised value where the labels of
the period arrived). Drawn with reportlab shapes (`pipeline.report.plot`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.formatting import fmt_metric, fmt_num
from pipeline.report.chart_data import Series
from pipeline.report.charts import GRID, INK, MUTED

if TYPE_CHECKING:
    from reportlab.graphics.shapes import Drawing
    from reportlab.platypus import Flowable

    from pipeline.report.pdf_doc import Doc


def estimate_chart(series: dict[str, Any], font: str = "Helvetica") -> Drawing:
    """Per period, oldest first (`chart_data.estimates`): the estimate (a dot, grey when
    unreliable) and its interval (a bar), and the realised value (a diamond) where the
    period's labels arrived."""
    from reportlab.graphics.shapes import Circle
    from reportlab.lib.colors import HexColor

    from pipeline.report import plot

    y_ticks, y0, y1 = series["y"]["ticks"], series["y"]["min"], series["y"]["max"]
    width, height = 504.0, 200.0
    left = 14 + max(plot.width(plot.tick_text(v), font, 7) for v in y_ticks) + 8
    bottom, top = 34.0, height - 26
    plot_w, plot_h = width - left - 10, top - bottom
    d = plot.drawing(width, height)
    n = len(series["labels"])
    step = plot_w / max(1, n)

    def y_of(v: float) -> float:  # a value past the axis (ticks.LIMIT) at its edge
        return bottom + plot_h * (min(max(v, y0), y1) - y0) / (y1 - y0)

    for v in y_ticks:
        d.add(plot.line(left, y_of(v), left + plot_w, y_of(v), GRID))
        d.add(plot.text(left - 4, y_of(v) - 2.4, plot.tick_text(v), font, 7, INK, "end"))
    d.add(plot.rect(left, bottom, plot_w, plot_h, None, stroke=MUTED))
    for i in range(n):
        x = left + step * (i + 0.5)
        if i % series["every"] == 0:
            d.add(plot.text(x, bottom - 10, series["labels"][i], font, 7, INK, "middle"))
        colour, low, high = series["colours"][i], series["low"][i], series["high"][i]
        if low is not None and high is not None:
            d.add(plot.line(x, y_of(low), x, y_of(high), colour, 1.4))
        if series["value"][i] is not None:
            d.add(Circle(x, y_of(series["value"][i]), 2.4, fillColor=HexColor(colour),
                         strokeColor=None))  # fmt: skip
        if series["realised"][i] is not None:
            d.add(plot.diamond(x + 4, y_of(series["realised"][i]), 3.0, series["realised_colour"]))
    d.add(plot.text(8, bottom + plot_h / 2, series["metric"], font, 8, INK, "middle", angle=90))
    d.add(plot.text(left + plot_w / 2, 6, series["x_title"], font, 7.5, INK, "middle"))
    plot.legend(d, left + plot_w, height - 12, [tuple(e) for e in series["legend"]], font)
    return d


def _interval(r: dict[str, Any]) -> str:
    if r["value"] is None:
        return "—"
    if r["ci_low"] is None or r["ci_high"] is None:
        return fmt_metric(r["value"])
    return f"{fmt_metric(r['value'])} [{fmt_metric(r['ci_low'])}, {fmt_metric(r['ci_high'])}]"


def section_estimates(doc: Doc, data: dict[str, Any], series: Series | None) -> list[Flowable]:
    """6b. Performance without labels: the run's estimates, and estimated vs realised."""
    found = data.get("estimates") or {"run": [], "periods": []}
    own = [r for r in found["run"] if r["period"] == "run"]
    heading = doc.heading("6b. Performance without labels (estimated)")
    if not own:  # a first model, a regressor, a run before estimation: nothing to show
        return []
    if all(r["value"] is None for r in own):
        return [heading, doc.para(own[0]["reason"] or "not estimated", doc.body)]
    rows = [
        [
            r["metric"],
            _interval(r),
            "—" if r.get("realised_value") is None else fmt_metric(r["realised_value"]),
            fmt_num(r["n_rows"]),
            "yes" if r["reliable"] else "no",
        ]
        for r in own
    ]
    table = doc.table(
        ["Metric", "Estimate [interval]", "Realised", "Rows", "Reliable"],
        rows,
        [0.17, 0.37, 0.16, 0.15, 0.15],
        right=(1, 2, 3),
    )
    story: list[Flowable] = [heading, table]
    reasons = sorted({r["reason"] for r in own if r["reason"]})
    story += [doc.para(f"Unreliable: {why}", doc.note) for why in reasons]
    metric = data["metric"]
    if series is not None:
        chart = doc.chart(estimate_chart(series, doc.sans))
        note = doc.para(
            f"{metric} of the production model per period, estimated from its calibrated "
            "confidence before any label (dots, with the interval the realised value should "
            "fall in; grey: unreliable), and realised once the labels of the period arrived "
            "(diamonds).",
            doc.note,
        )
        story.append(doc.KeepTogether([chart, note]))
    return story
