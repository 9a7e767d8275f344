"""Settings rows: the web app's dashboards (issue 13), the thresholds that colour their charts."""

from __future__ import annotations

from pipeline.settings.setting import Setting

DASHBOARD: tuple[Setting, ...] = (
    Setting(
        "dashboard.range",
        "week",
        "choice",
        "The time range the overview, data-quality and drift pages show when the link names "
        "none: the last day, week or month.",
        choices=("day", "week", "month"),
    ),
    Setting(
        "dashboard.metric_drop_orange",
        0.02,
        "float",
        "A period's realised or estimated metric worse than the production model's holdout "
        "score by at least this much is orange on the overview (in the metric's own units).",
        minimum=0,
    ),
    Setting(
        "dashboard.metric_drop_red",
        0.05,
        "float",
        "A period's realised or estimated metric worse than the production model's holdout "
        "score by at least this much is red on the overview.",
        minimum=0,
    ),
    Setting(
        "dashboard.drifted_share_orange",
        0.25,
        "float",
        "A run whose drifted share of features reaches this is orange on the charts.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "dashboard.drifted_share_red",
        0.5,
        "float",
        "A run whose drifted share of features reaches this is red on the charts.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "dashboard.invalid_share_orange",
        0.01,
        "float",
        "A checked file whose share of invalid rows reaches this is orange on the charts (a "
        "file rejected whole is red).",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "dashboard.invalid_share_red",
        0.05,
        "float",
        "A checked file whose share of invalid rows reaches this is red on the charts.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "dashboard.effect_ratio_orange",
        0.5,
        "float",
        "A column's drift effect size (Wasserstein distance in reference standard deviations, "
        "or Jensen-Shannon distance) is orange from this share of its drift threshold "
        "(drift.min_wasserstein, drift.min_jensen_shannon) and red at the threshold itself.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "dashboard.positive_share_orange",
        0.05,
        "float",
        "A period whose share of positive predictions differs from its baseline by at least "
        "this is orange on the charts; red from monitoring.positive_share_tolerance.",
        minimum=0,
        maximum=1,
    ),
)
