"""Settings rows: production traffic (predictions, labels that arrive later, performance per
period, estimation without labels, prediction health)."""

from __future__ import annotations

from pipeline.settings.setting import Setting

MONITOR: tuple[Setting, ...] = (
    Setting(
        "monitoring.period",
        "day",
        "choice",
        "The period realised and estimated performance and prediction health are computed "
        "per: day, week (ISO, from Monday) or month, in UTC; by the rows' event time when "
        "data.timestamp_column is set, else by when they were ingested.",
        choices=("day", "week", "month"),
    ),
    Setting(
        "monitoring.calibration",
        "auto",
        "choice",
        "How a new classifier's probabilities are calibrated on its holdout at training time, "
        "for performance estimation without labels: auto (none, sigmoid or isotonic by their "
        "log loss cross-validated on the holdout in policy.cv_folds folds; see "
        "monitoring.calibration_margin), or one of them.",
        choices=("auto", "none", "sigmoid", "isotonic"),
    ),
    Setting(
        "monitoring.calibration_margin",
        0.002,
        "float",
        "With monitoring.calibration = auto, isotonic calibration (no shape assumed) is kept "
        "unless none or sigmoid has a cross-validated log loss lower by more than this (nats "
        "per row): on small holdouts isotonic overfits by more and loses.",
        minimum=0,
    ),
    Setting(
        "monitoring.calibration_bins",
        10,
        "int",
        "Bins (of equal row counts) of the expected calibration error (ECE) measured on the "
        "holdout.",
        minimum=2,
    ),
    Setting(
        "monitoring.calibration_draws",
        50,
        "int",
        "An estimate's interval carries the calibration's own uncertainty (it was fitted on a "
        "finite holdout): its simulations draw their labels under this many calibrations drawn "
        "from that uncertainty. 0: the labels' randomness only.",
        minimum=0,
    ),
    Setting(
        "monitoring.max_calibration_error",
        0.05,
        "float",
        "Estimates of a model whose calibrated probabilities have a larger ECE on its holdout "
        "(out of fold) are marked unreliable.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "monitoring.min_period_rows",
        100,
        "int",
        "Estimates over fewer rows than this (a run's, or a period's) are marked unreliable.",
        minimum=1,
    ),
    Setting(
        "monitoring.estimate_check_periods",
        3,
        "int",
        "Concept drift, which estimation cannot see: the estimates that follow are marked "
        "unreliable when, among the newest this many periods whose labels arrived, the "
        "realised value fell outside the estimate's interval improbably often at "
        "policy.confidence (at 95%: 1 of 1, 2 of 2 or 3).",
        minimum=1,
    ),
)
