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
        "monitoring.health_min_rows",
        100,
        "int",
        "Fewest predictions a period (monitoring.period, per model version) must hold for its "
        "prediction health to raise an alert (a single class, a moved positive share); a "
        "smaller period is shown, not judged.",
        minimum=1,
    ),
    Setting(
        "monitoring.positive_share_tolerance",
        0.1,
        "float",
        "A binary classifier's share of positive predictions in a period may differ this much "
        "from the version's share on its holdout (without a holdout: over its earlier "
        "predictions) before it is a positive_share alert; the period's interval at "
        "policy.confidence must lie wholly beyond it. 1: never.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "monitoring.calibration",
        "auto",
        "choice",
        "How a new classifier's probabilities are calibrated on its holdout at training time, "
        "for performance estimation without labels: auto (none, sigmoid or isotonic by their "
        "log loss cross-validated on the holdout in policy.cv_folds folds; see "
        "monitoring.calibration_margin), or one of them; a multiclass classifier's, each class "
        "against the rest.",
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
        "monitoring.loss_model",
        "auto",
        "choice",
        "The model of a new regressor's absolute error fitted on its holdout at training time, "
        "for its MAE estimated without labels (direct loss estimation): auto (linear or trees "
        "by their mean squared error cross-validated on the holdout in "
        "policy.cv_folds folds), linear (least squares) or trees (gradient boosting).",
        choices=("auto", "linear", "trees"),
    ),
    Setting(
        "monitoring.max_calibration_error",
        0.05,
        "float",
        "Estimates of a model whose calibrated probabilities have a larger ECE on its holdout "
        "(out of fold; a multiclass model's, the mean over its classes) are marked unreliable.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "predict.batch_rows",
        50_000,
        "int",
        "Rows of an ingested file read, predicted and written at a time by `riskwatch predict` "
        "(and the run's predict step): its memory is one batch, whatever the file's size.",
        minimum=1,
    ),
    Setting(
        "predict.page_limit",
        1000,
        "int",
        "Most predictions one page of GET /past-predictions or `riskwatch predictions` holds "
        "(a larger `limit` is a 400); `riskwatch predictions --csv` streams every page.",
        minimum=1,
    ),
    Setting(
        "predict.download_limit",
        100_000,
        "int",
        "Most predictions the past-predictions page's CSV download (GET /past-predictions.csv) "
        "holds, newest first, streamed a page at a time; `riskwatch predictions --csv` has no "
        "such bound.",
        minimum=1,
    ),
    Setting(
        "labels.observed_at_column",
        "observed_at",
        "str",
        "The column of a labels file holding when the outcome was observed (used when the file "
        "has it): a label resolves the latest prediction of its id at or before that time, "
        "else at or before when the label was received.",
    ),
    Setting(
        "labels.max_wait_days",
        30.0,
        "float",
        "How long a label whose prediction is not there yet (its data file comes later) waits "
        "for it, in days from when the label was received; then it is counted as unmatched. "
        "A prediction made within this time after the label's own time still resolves it.",
        minimum=0,
    ),
    Setting(
        "monitoring.max_interval_width",
        0.3,
        "float",
        "Estimates of a classification metric whose interval is wider than this are marked "
        "unreliable (a calibration fitted on a holdout too small to pin it, a period of few "
        "rows): a value anywhere in it is as likely. 1 turns the check off.",
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
    Setting(
        "monitoring.metrics_cache_seconds",
        10.0,
        "float",
        "GET /metrics reads the database at most once per this many seconds per worker (the "
        "gauges from the runs and the stored predictions); 0: at every scrape.",
        minimum=0.0,
    ),
)
