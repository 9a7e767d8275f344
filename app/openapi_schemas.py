"""The component schemas of the OpenAPI document (app.openapi assembles the document)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _latest_rows(description: str, **fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": [*fields, "run_id", "rows"],
        "properties": {
            **fields,
            "run_id": {"type": ["string", "null"], "description": "The run that wrote the rows."},
            "rows": {"type": "array", "items": {"type": "object"}},
        },
    }


def _named_diagnostic(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "oneOf": [
            {"type": "null"},
            {
                "type": "object",
                "required": ["run_id", "value"],
                "properties": {"run_id": {"type": "string"}, "value": {}},
            },
        ],
    }


# What a prediction request may ask to be recorded as. The document's clients (a bearer token,
# or no one where auth allows) are "api"; "webapp" is what a browser signed in by its session
# cookie is recorded as, whatever it asks (app.api.request_records).
SOURCE = {
    "type": "string",
    "enum": ["api"],
    "default": "api",
    "description": "The source the predictions are stored under: 'api'. A request signed in "
    "by a browser session at /signin (the pages') is stored as 'webapp' whatever it asks; "
    "'webapp' from any other request (a bearer token, or no sign-in) is a 400 naming "
    "`source`, never stored as the pages'.",
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "The one shape of every error the app returns.",
        "required": ["ok", "error", "status"],
        "additionalProperties": False,
        "properties": {
            "ok": {"const": False},
            "error": {"type": "string", "description": "What went wrong, for a person."},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "column": {
                "type": "string",
                "description": "The feature column a prediction record got wrong.",
            },
            "parameter": {"type": "string", "description": "The query parameter refused."},
        },
    },
    "Record": {
        "type": "object",
        "description": "One row of features, by column name. Numeric features take a number or "
        "null; categorical features a string, number, boolean or null. Missing values (null) "
        "are imputed; a missing key is an error. Keys that are not features are ignored.",
        "additionalProperties": {"type": ["number", "string", "boolean", "null"]},
    },
    "PredictionRequest": {
        "oneOf": [
            {"type": "array", "items": ref("Record"), "minItems": 1},
            {
                "type": "object",
                "required": ["records"],
                "properties": {
                    "records": {"type": "array", "items": ref("Record"), "minItems": 1},
                    "source": SOURCE,
                },
            },
        ],
    },
    "PredictionResponse": {
        "type": "object",
        "required": ["predictions", "probabilities", "model_version"],
        "properties": {
            "predictions": {"type": "array", "items": {}},
            "probabilities": {
                "type": ["array", "null"],
                "items": {"type": "number"},
                "description": "P(class 1) for binary classifiers, else null.",
            },
            "model_version": {"type": "integer"},
        },
    },
    "PredictionSummary": {
        "type": "object",
        "description": "Prediction health per period (monitoring.period, UTC) and model "
        "version: by each prediction's event time when data.timestamp_column is set (else, and "
        "for a prediction without one, when it was made).",
        "required": ["period", "time", "periods", "alerts"],
        "properties": {
            "period": {"enum": ["day", "week", "month"]},
            "time": {"enum": ["event_time", "created_at"]},
            "start": {"type": ["string", "null"], "format": "date-time"},
            "end": {"type": ["string", "null"], "format": "date-time"},
            "min_rows": {"type": "integer", "description": "monitoring.health_min_rows"},
            "positive_share_tolerance": {"type": "number"},
            "periods": {"type": "array", "items": ref("PeriodHealth")},
            "alerts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "period_start": {"type": "string", "format": "date-time"},
                        "model_version": {"type": "integer"},
                        "kind": {"enum": ["single_class", "positive_share"]},
                        "message": {"type": "string"},
                        "evidence": {"type": "object"},
                        "run_id": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "delivered": {
                            "type": ["boolean", "null"],
                            "description": "Whether the webhook took it; null: not sent.",
                        },
                    },
                },
            },
        },
    },
    "PeriodHealth": {
        "type": "object",
        "required": ["period_start", "model_version", "count"],
        "properties": {
            "period_start": {"type": "string", "format": "date-time"},
            "model_version": {"type": "integer"},
            "count": {"type": "integer"},
            "class_counts": {
                "type": ["object", "null"],
                "additionalProperties": {"type": "integer"},
                "description": "A classifier's predictions per class (as text).",
            },
            "class_shares": {
                "type": ["object", "null"],
                "additionalProperties": {"type": "number"},
            },
            "positive_label": {"type": ["string", "null"]},
            "positive_share": {"type": ["number", "null"]},
            "mean": {"type": ["number", "null"], "description": "A regressor's mean prediction."},
            "std": {"type": ["number", "null"]},
            "histogram": {
                "type": ["object", "null"],
                "description": "A binary classifier's P(positive) in 10 fixed bins; the last "
                "bin includes 1.",
                "properties": {
                    "edges": {"type": "array", "items": {"type": "number"}},
                    "counts": {"type": "array", "items": {"type": "integer"}},
                },
            },
            "baseline": {
                "type": ["object", "null"],
                "description": "The positive share the period is judged against: the "
                "version's on its holdout, else over its earlier predictions.",
                "properties": {
                    "positive_share": {"type": "number"},
                    "source": {"enum": ["holdout", "earlier predictions"]},
                    "rows": {"type": "integer"},
                },
            },
        },
    },
    "Scoring": {
        "type": "object",
        "required": ["model_version", "metric", "holdout_score", "run_id", "scores"],
        "properties": {
            "model_version": {"type": ["integer", "null"]},
            "metric": {"type": ["string", "null"]},
            "holdout_score": {
                "type": ["number", "null"],
                "description": "The production metric the version is held to.",
            },
            "score_source": {
                "type": ["string", "null"],
                "description": "Where holdout_score comes from: holdout, test (the test file, "
                "for a version trained without a holdout), cv:K (K-fold cross-validation on "
                "the training window, the holdout being too small) or none.",
            },
            "run_id": {"type": ["string", "null"]},
            "scores": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "role": {"type": "string"},
                        "dataset": {"type": "string"},
                        "metric": {"type": "string"},
                        "value": {"type": ["number", "null"]},
                        "ci_low": {"type": ["number", "null"]},
                        "ci_high": {"type": ["number", "null"]},
                        "n_rows": {"type": "integer"},
                    },
                },
            },
        },
    },
    "LatestRows": _latest_rows("Rows of one table from the newest run that wrote any."),
    "SummaryStats": _latest_rows(
        "Rows of one data set's feature_stats, from the run that recorded them.",
        dataset={"enum": ["training", "latest", "test"]},
        model_version={
            "type": ["integer", "null"],
            "description": "training: the production version, null when none is deployed "
            "(rows then empty); latest, test: the production version when the run finished.",
        },
    ),
    "Diagnostics": {
        "type": "object",
        "required": ["steps", "missing_values", "outdated_packages", "library_versions"],
        "properties": {
            "steps": ref("LatestRows"),
            "missing_values": ref("LatestRows"),
            "outdated_packages": _named_diagnostic("`pip list --outdated`, or 'unknown'."),
            "library_versions": _named_diagnostic("Versions of the libraries the run used."),
        },
    },
    "ApiReturns": {
        "type": "object",
        "required": ["api_returns"],
        "properties": {"api_returns": {"type": "array", "items": {"type": "object"}}},
    },
    "RunList": {
        "type": "object",
        "required": ["runs"],
        "properties": {
            "runs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "kind": {"type": "string"},
                        "status": {"type": "string"},
                        "started_at": {"type": "string", "format": "date-time"},
                        "finished_at": {"type": ["string", "null"], "format": "date-time"},
                        "new_files": {"type": "integer"},
                        "rows_ingested": {"type": "integer"},
                        "rows_labelled": {
                            "type": "integer",
                            "description": "New rows the run took that carry a label.",
                        },
                        "rows_unlabelled": {
                            "type": "integer",
                            "description": "New rows without a label: inference data, "
                            "predicted and measured for drift, never trained or scored on.",
                        },
                        "files_quarantined": {"type": "integer"},
                        "rows_quarantined": {
                            "type": "integer",
                            "description": "Rows that went to quarantine: the bad rows of "
                            "ingested files and every row of a file rejected whole.",
                        },
                        "production_version": {"type": ["integer", "null"]},
                        "has_report": {"type": "boolean"},
                        "drift": ref("DriftSummary"),
                    },
                },
            }
        },
    },
    "DriftSummary": {
        "type": ["object", "null"],
        "description": "The run's data-set drift (null when the run computed none). Counts and "
        "share are over the tested features; the prediction and the label are in `outputs`.",
        "required": ["status", "dataset_drift", "reason", "drifted_share"],
        "properties": {
            "status": {"enum": ["drifted", "not_drifted", "not_tested"]},
            "dataset_drift": {
                "type": ["boolean", "null"],
                "description": "null when the data set was not tested (see reason).",
            },
            "reason": {
                "type": ["string", "null"],
                "description": "Why the data set was not tested, with the rows needed.",
            },
            "drifted_share": {"type": ["number", "null"]},
            "features_tested": {"type": ["integer", "null"]},
            "features_drifted": {"type": ["integer", "null"]},
            "drifted_features": {"type": "array", "items": {"type": "string"}},
            "outputs": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Other tested columns (prediction, label): drifted, not_drifted "
                "or their column status.",
            },
            "weights": {"type": ["string", "null"]},
            "min_rows": {"type": ["integer", "null"]},
            "reference_rows": {"type": "integer"},
            "current_rows": {"type": "integer"},
        },
    },
    "Run": {
        "type": "object",
        "description": "A run with its steps, files, scores, decisions, deployments, statistics, "
        "diagnostics, reports and drift summary.",
        "required": ["id", "kind", "status", "started_at"],
        "properties": {"drift": ref("DriftSummary")},
    },
    "Health": {
        "type": "object",
        "required": ["ok", "database", "schema", "production_version"],
        "properties": {
            "ok": {"const": True},
            "database": {"const": "ok"},
            "schema": {"type": "string", "description": "The database's schema revision."},
            "production_version": {"type": ["integer", "null"]},
        },
    },
}


# The largest magnitude a feature's number may have (pipeline.model.record_checks.NUMBER_LIMIT):
# 1e308, not the float maximum, whose shortest decimal form (1.7976931348623157e308) is not its
# exact value, so that this document and the app's check agree on every integer too.
NUMBER_LIMIT = 1e308
_NUMBER = {"type": "number", "minimum": -NUMBER_LIMIT, "maximum": NUMBER_LIMIT}
# Strings the databases store as text: no NUL (a lone surrogate cannot be written in UTF-8).
_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}


def record_schema(
    numeric: Sequence[str],
    categorical: Sequence[str],
    nullable: bool,
    keys: tuple[Sequence[str], str | None] = ((), None),
) -> dict[str, Any]:
    """A production model's Record: every feature required; the ids and event time optional."""
    null = [{"type": "null"}] if nullable else []
    ids, stamp = keys
    props: dict[str, Any] = {
        c: {"anyOf": [_TEXT, _NUMBER, {"type": "boolean"}, {"type": "null"}]} for c in ids
    }
    if stamp:
        props[stamp] = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}
    props.update({c: {"anyOf": [_NUMBER, *null]} for c in numeric})
    props.update({c: {"anyOf": [_TEXT, _NUMBER, {"type": "boolean"}, *null]} for c in categorical})
    kinds = "Numeric features take a number" + (" or null" if nullable else "")
    kinds += "; categorical features a string, number or boolean" + (
        " or null. Missing values (null) are imputed"
        if nullable
        else ". Every value is needed: this model takes its features as they are"
    )
    return {
        **SCHEMAS["Record"],
        "description": "One row of the production model's features, by column name. "
        f"{kinds}. A missing key is an error; keys that are not features are ignored, but "
        "for the ids (data.id_columns: text, a finite number or null) and the event time "
        "(data.timestamp_column: an ISO 8601 time or null), which a label that comes later "
        "finds its prediction by.",
        "required": [*numeric, *categorical],
        "properties": props,
        "additionalProperties": True,  # ignored, whatever they hold
    }


def prediction_request(max_records: int) -> dict[str, Any]:
    """The PredictionRequest schema with the most records one request may carry."""
    array = {"type": "array", "items": ref("Record"), "minItems": 1, "maxItems": max_records}
    return records_body(array)


def records_body(array: dict[str, Any]) -> dict[str, Any]:
    """A body of records: the `array` itself, or an object with it as `records` and a source."""
    return {
        "oneOf": [
            array,
            {
                "type": "object",
                "required": ["records"],
                "properties": {"records": array, "source": SOURCE},
            },
        ]
    }


# The `limit` query parameter of the lists of recorded rows (/runs, /apireturns, /apicalls).
LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "description": "How many rows, newest first (1 to 1000).",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
}
