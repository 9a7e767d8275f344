"""Settings rows: drift detection, diagnostics and the API."""

from __future__ import annotations

from pipeline.settings.setting import Setting

WATCH: tuple[Setting, ...] = (
    Setting("drift.enabled", True, "bool", "Compare each run's new rows with the reference."),
    Setting(
        "drift.alpha",
        0.05,
        "float",
        "False-discovery rate of the Benjamini-Hochberg correction across the run's columns.",
        minimum=1e-9,
        maximum=0.5,
    ),
    Setting(
        "drift.min_wasserstein",
        0.15,
        "float",
        "Smallest Wasserstein distance, in reference standard deviations, that counts as drift "
        "for a numeric column (a mean shift of d std has distance d).",
        minimum=0,
    ),
    Setting(
        "drift.min_jensen_shannon",
        0.1,
        "float",
        "Smallest Jensen-Shannon distance (base 2) that counts as drift for a categorical column.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "drift.dataset_share",
        0.5,
        "float",
        "The data set drifts when at least this share of the tested features drifts.",
        minimum=0.01,
        maximum=1,
    ),
    Setting(
        "drift.min_rows",
        30,
        "int",
        "Fewer values than this on either side: the column gets status too_few_rows; with "
        "no feature testable, the data set is 'not tested' (never 'no drift').",
        minimum=1,
    ),
    Setting(
        "drift.weights",
        "equal",
        "choice",
        "How features weigh in the drifted share: equal, or importance (the model's permutation "
        "importance on its holdout, computed when it is trained).",
        choices=("equal", "importance"),
    ),
    Setting(
        "drift.persistence",
        [1, 1],
        "pair",
        "[M, N]: the data set counts as drifted only when it drifted in M of the last N runs "
        "(damps one-off alarms); [1, 1] reacts at once.",
    ),
    Setting(
        "diagnostics.outdated_packages",
        True,
        "bool",
        "Record outdated packages with a run: pip's answer, cached in "
        "<paths.reports>/outdated_packages.json; a run never waits for pip.",
    ),
    Setting(
        "diagnostics.outdated_cache_hours",
        24.0,
        "float",
        "How long pip's answer is used; a run that finds it older records 'unknown' and starts "
        "one refresh in the background, for the next run.",
        minimum=0.0,
    ),
    Setting(
        "diagnostics.outdated_timeout_seconds",
        5.0,
        "float",
        "Longest the background pip query may take; its answer is 'unknown' after that.",
        minimum=0.1,
    ),
    Setting(
        "api.max_records",
        10000,
        "int",
        "Most records one POST /prediction may carry.",
        minimum=1,
    ),
    Setting(
        "api.call_timeout_seconds",
        30.0,
        "float",
        "How long `riskwatch apicalls` waits for each answer of the app.",
        minimum=0.1,
    ),
    Setting(
        "api.max_request_bytes",
        10_000_000,
        "int",
        "Largest request body the app accepts (413 above it, chunked or not).",
        minimum=1024,
    ),
    Setting(
        "api.body_timeout_seconds",
        10.0,
        "float",
        "Longest a client may take to send a request body, counted from its headers (408 "
        "after it, under gunicorn): a slow or lying client holds a server thread no longer.",
        minimum=0.1,
    ),
    Setting(
        "api.response_timeout_seconds",
        30.0,
        "float",
        "Longest writing one answer may take under gunicorn, from its first byte: a client that "
        "does not read it (a PDF) is cut off and its server thread freed.",
        minimum=0.1,
    ),
    Setting(
        "api.max_json_depth",
        32,
        "int",
        "Deepest nesting of arrays and objects a JSON request body may have (400 beyond).",
        minimum=2,
        maximum=500,
    ),
)
