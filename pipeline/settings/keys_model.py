"""Settings rows: the model, the training window, the holdout split and the retraining policy."""

from __future__ import annotations

from pipeline.settings.setting import CLASSIFICATION_METRICS, REGRESSION_METRICS, Setting

MODEL: tuple[Setting, ...] = (
    Setting(
        "model.task",
        "classification",
        "choice",
        "classification or regression.",
        choices=("classification", "regression"),
    ),
    Setting(
        "model.estimator",
        "sklearn.linear_model.LogisticRegression",
        "str",
        "Import path of any scikit-learn estimator class; fed as model.preprocessing says.",
    ),
    Setting("model.params", {}, "dict", "Keyword arguments for the estimator."),
    Setting(
        "model.preprocessing",
        "standard",
        "choice",
        "standard: numeric features median-imputed and standardised, categorical ones "
        "mode-imputed and one-hot encoded; none: the numeric features exactly as they are in "
        "the file (no categorical feature; a row missing a feature value is quarantined at "
        "the gate, a prediction request with one refused).",
        choices=("standard", "none"),
    ),
    Setting(
        "model.pipeline",
        "",
        "text",
        "package.module:function returning an unfitted scikit-learn estimator or Pipeline, "
        "called with no arguments and fitted on the feature columns as a pandas DataFrame; "
        "it replaces model.estimator, model.params and model.preprocessing (setting those too "
        "is an error). Its module must be importable wherever riskwatch trains, scores or "
        "serves. Empty: not used.",
    ),
    Setting(
        "model.metric",
        "f1",
        "choice",
        "f1, accuracy, roc_auc (a binary model's only), precision, recall (classification; "
        "macro for 3 classes or more); mae, rmse, r2 (regression).",
        choices=CLASSIFICATION_METRICS + REGRESSION_METRICS,
    ),
    Setting("model.random_seed", 42, "int", "Seed for the estimator, splits and bootstrap."),
    Setting(
        "training.window",
        "all",
        "str",
        'The rows a model is trained on: "all" (every ingested row), "files:N" (the newest N '
        'ingested files), "rows:N" (the newest N rows), "days:N" (the files ingested in the '
        'N days up to the newest ingestion) or "runs:N" (the files the newest N runs that '
        'ingested any brought; "runs:1" is the latest batch). Only the window\'s files are read.',
    ),
    Setting(
        "split.holdout_fraction",
        0.2,
        "float",
        "Share of the training window held out to compare champion and challenger. 0: no "
        "holdout; a retrained model is deployed without comparison, and its recorded metric is "
        "its score on paths.test_data (k-fold cross-validation when there is no test file).",
        minimum=0,
        maximum=0.9,
    ),
    Setting(
        "split.holdout",
        "newest",
        "choice",
        "newest: the holdout is the newest rows (what production faces next); random: a "
        "seeded random sample.",
        choices=("newest", "random"),
    ),
    Setting(
        "policy.tolerance",
        0.02,
        "float",
        "A drop of the production metric counts only beyond this (absolute, metric units).",
        minimum=0,
    ),
    Setting(
        "policy.require_interval",
        True,
        "bool",
        "A drop counts only when it is clear of noise: the interval of the difference between "
        "the new score and the recorded one (both bootstrapped) excludes zero.",
    ),
    Setting(
        "policy.confidence",
        0.95,
        "float",
        "Confidence level of the bootstrap interval.",
        minimum=0.5,
        maximum=1,
        exclusive_max=True,
    ),
    Setting(
        "policy.bootstrap_samples",
        1000,
        "int",
        "Bootstrap resamples for the interval.",
        minimum=50,
    ),
    Setting(
        "policy.bootstrap_max_rows",
        100000,
        "int",
        "Above this many rows, metrics that need every row are bootstrapped m-out-of-n and "
        "the interval rescaled by sqrt(m/n); count-based metrics are always exact.",
        minimum=1000,
    ),
    Setting(
        "policy.min_rows",
        30,
        "int",
        "Fewer new labelled rows than this: no retrain decision is taken on them. A holdout "
        "smaller than this is too small to give a version's recorded metric (see "
        "policy.cv_folds).",
        minimum=1,
    ),
    Setting(
        "policy.cv_folds",
        5,
        "int",
        "When the holdout has fewer rows than policy.min_rows, a version's recorded metric "
        "comes from k-fold cross-validation on the training window (k folds, stratified for "
        "classification, seeded by model.random_seed): its pooled out-of-fold predictions "
        "and their bootstrap interval.",
        minimum=2,
    ),
    Setting(
        "policy.promote_margin",
        0.0,
        "float",
        "The challenger is promoted when it is at most this much worse than the champion on "
        "the same holdout (0: not worse).",
        minimum=0,
    ),
    Setting(
        "policy.trigger",
        "metric",
        "choice",
        "What triggers a retrain: metric (a clear drop of the metric), drift (data drift), "
        "either, or both; estimated: a clear drop of the metric estimated without labels "
        "(classification; the same tolerance and interval rules as metric, an unreliable "
        "estimate counting as no drop).",
        choices=("metric", "drift", "either", "both", "estimated"),
    ),
)
