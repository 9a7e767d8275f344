"""The PDF section on the run's predictions (issue 12, point 6): per period its prediction
health was computed for, the count and the class shares (or mean and spread), a chart of the
P(positive) distribution in its fixed bins (or the predictions per class), and the alerts.

Read from the run's recorded summary (`runs.summary`, `prediction_health`), as every section
reads what the database holds; a run that predicted nothing says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.formatting import fmt_num, fmt_share
from pipeline.report import chart_data
from pipeline.report.chart_data import Series
from pipeline.report.charts import bar_chart, short
from pipeline.report.pdf_doc import Doc

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

MAX_PERIODS = chart_data.MAX_PERIODS  # the newest periods charted; the API has them all


def section_predictions(doc: Doc, run: dict[str, Any], charts: list[Series]) -> list[Flowable]:
    """7c. Predictions: the health of the periods the run's predictions fall in, a chart each
    (`chart_data.prediction_periods`)."""
    story: list[Flowable] = [doc.heading("7c. Predictions")]
    summary = run.get("summary") if isinstance(run.get("summary"), dict) else {}
    health = (summary or {}).get("prediction_health")
    if not health or not health.get("periods"):
        return [*story, doc.placeholder("Prediction health (the run predicted no rows)")]
    periods = health["periods"][-MAX_PERIODS:]
    header = ["Period", "Version", "Predictions", "Class shares / mean ± sd", "Positive share"]
    rows = [
        [
            p["period_start"][:10],
            f"v{p['model_version']}",
            fmt_num(p["count"]),
            _shares(p),
            "–" if p.get("positive_share") is None else fmt_share(p["positive_share"]),
        ]
        for p in periods
    ]
    story.append(doc.table(header, rows, [0.16, 0.1, 0.16, 0.38, 0.2], right=(2, 4)))
    for series in charts:
        chart = doc.chart(bar_chart(series, doc.sans))
        story.append(doc.KeepTogether([doc.Spacer(1, 6), chart]))
    alerts = health.get("alerts") or []
    what = (
        f"{len(alerts)} new alert(s): " + "; ".join(a["message"] for a in alerts)
        if alerts
        else "No new prediction-health alert."
    )
    story.append(doc.para(what, doc.note))
    return story


def _shares(p: dict[str, Any]) -> str:
    if p.get("class_shares"):
        return ", ".join(f"{short(c, 12)}: {fmt_share(v)}" for c, v in p["class_shares"].items())
    if p.get("mean") is not None:
        sd = "–" if p.get("std") is None else f"{p['std']:.4g}"
        return f"{p['mean']:.4g} ± {sd}"
    return "–"
