"""Settings rows: the data quality gate and its alerts."""

from __future__ import annotations

from pipeline.settings.setting import Setting

# What may be sent to alerts.webhook_url (setting alerts.events), with what each means; the
# first three are the alerts riskwatch sent before it had events (issue 13, point 10).
ALERT_EVENTS = {
    "data_quality": "a file's problems reach alerts.min_criticality",
    "constant_predictions": "a period's predictions are all one class",
    "positive_share": "a period's positive share moved beyond its tolerance",
    "model_degraded": "the metric on labelled new rows fell below its baseline",
    "estimated_drop": "the metric estimated without labels fell below its baseline",
    "dataset_drift": "the new rows' data-set drift is confirmed, as drift.persistence asks",
    "retrained": "a challenger was trained",
    "promoted": "a new model version went to production",
    "kept": "a challenger was trained but production stayed",
    "run_failed": "a run stopped with an error",
    "inbox_missing": "paths.source is missing, so a run cannot look for files",
}
# Sent by default: what needs a person. `retrained` is always followed by `promoted` or `kept`,
# and `kept` changes nothing in production.
DEFAULT_ALERT_EVENTS = (
    "data_quality",
    "constant_predictions",
    "positive_share",
    "model_degraded",
    "estimated_drop",
    "dataset_drift",
    "promoted",
    "run_failed",
    "inbox_missing",
)


QUALITY: tuple[Setting, ...] = (
    Setting(
        "quality.criticality",
        {},
        "dict",
        "Criticality (low, medium, high) per error type, overriding the defaults, e.g. "
        '{ extra_column = "medium" }.',
    ),
    Setting(
        "quality.range_margin",
        0.5,
        "float",
        "Contract inference widens each numeric range by this share of it on both sides.",
        minimum=0,
    ),
    Setting(
        "quality.missing_margin",
        0.05,
        "float",
        "Contract inference allows this much more missing share than the training data had; "
        "with quality.missing_significance it also sets how many rows make a column "
        "non-nullable, integer or signed (135 with the defaults; see the gate's section).",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "quality.missing_significance",
        0.001,
        "float",
        "A file is flagged for missing values in a nullable column only when its missing share is "
        "above the contract's at this significance (so a few rows never trip it).",
        minimum=1e-12,
        maximum=0.5,
    ),
    Setting(
        "quality.max_invalid_share",
        0.05,
        "float",
        "A file whose share of quarantined rows is above this gets an invalid_share issue, "
        "criticality high by default (so it alerts); 1: never.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "quality.timestamp_max_future_days",
        1.0,
        "float",
        "An event time (data.timestamp_column) more than this many days after its file was "
        "checked is out_of_range and its row quarantined (a request's: a 400): an event is "
        "not recorded before it happens, beyond clock skew.",
        minimum=0,
    ),
    Setting(
        "quality.duplicates",
        "file",
        "choice",
        "Where duplicate_row and duplicate_id look for the earlier row: in the same file only, "
        'or also in every file ingested before ("history", through an index of row and id '
        "hashes in the database, built from the ingested files on first use).",
        choices=("file", "history"),
    ),
    Setting(
        "alerts.webhook_url",
        "",
        "secret",
        "Incoming-webhook URL (Slack or Microsoft Teams) for the alerts alerts.events chooses "
        "(data quality, prediction health, a run's events); empty: none.",
        env="RISKWATCH_WEBHOOK_URL",
    ),
    Setting(
        "alerts.report_base_url",
        "",
        "secret",
        "Public URL of the riskwatch app; alerts and the run's PDF then link to "
        "<url>/quality/<id>.html. Empty: alerts name the report's file path, the PDF links the "
        "app's path /quality/<id>.html.",
        env="RISKWATCH_PUBLIC_URL",
    ),
    Setting(
        "alerts.min_criticality",
        "high",
        "choice",
        "A file whose problems reach this criticality raises an alert.",
        choices=("low", "medium", "high"),  # pipeline.vocabulary's order; a test holds them equal
    ),
    Setting(
        "alerts.timeout_seconds",
        5.0,
        "float",
        "Per-attempt timeout of a webhook call.",
        minimum=0.1,
    ),
    Setting(
        "alerts.events",
        list(DEFAULT_ALERT_EVENTS),
        "list",
        "Which events go to alerts.webhook_url: "
        + "; ".join(f"{name} ({what})" for name, what in ALERT_EVENTS.items())
        + ". Every event is logged and in the run's summary whatever this says.",
    ),
    Setting("alerts.retries", 3, "int", "Retries of a failed webhook call.", minimum=0),
    Setting(
        "alerts.deadline_seconds",
        15.0,
        "float",
        "Most time all attempts of one alert may take: a dead webhook never stalls a run.",
        minimum=0.1,
    ),
)
