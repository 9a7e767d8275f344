"""The predict page (issue 13, point 6): GET /predict, a form made from the production model's
features and its contract (app.predict_form) and a CSV upload read in the browser
(static/js/csv.js, predict.js); POST /predict, what both send: the records of POST /prediction,
answered row by row. Each record is checked as POST /prediction checks it (the same messages);
the valid ones are predicted and stored together, as POST /prediction stores them (source
`webapp` for a request signed in by its session, else what it asks, `api` by default), and the
invalid ones are answered with their error and column, so a file's bad rows do not hide its good
ones.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, render_template

from app import get_connection, production_model, state
from app.api import request_records
from app.predict_form import form_fields
from app.prediction_writes import optional_for, predict_and_store
from pipeline import predictions
from pipeline.errors import DataError, RiskwatchError
from pipeline.storage import page_reads

bp = Blueprint("predict_page", __name__)


@bp.get("/predict")
def predict() -> str | tuple[str, int]:
    """Show the form and the CSV upload for the production model, or why there is none."""
    settings = state().settings
    try:
        loaded = production_model()
        contract = page_reads.contract_text(get_connection(), loaded.version)
    except (RiskwatchError, sa.exc.SQLAlchemyError, OSError) as exc:
        # No model (or no database) yet: the page says so; a stack trace never reaches it.
        return render_template("pages/unavailable.html", problem=exc, what="Predict"), 503
    fields = form_fields(loaded.features, contract, settings["data.id_columns"])
    columns = loaded.features.columns
    return render_template(
        "pages/predict.html",
        fields=fields,
        # What the page's script needs to turn a CSV cell into a record's value.
        fields_json=[
            {"name": f.name, "number": f.kind == "number", "feature": f.name in columns}
            for f in fields
        ],
        version=loaded.version,
        features=loaded.features.columns,
        max_records=settings["api.max_records"],
    )


@bp.post("/predict")
def predict_rows() -> dict[str, Any]:
    """Predict and store the valid records; each record's result or its error, in order."""
    from pipeline.model.features import check_record, records_frame

    records, source = request_records()
    loaded = production_model()
    records = optional_for(loaded, records)  # a column the contract does not require: null
    most = state().settings["api.max_records"]
    if not isinstance(records, list) or not records or len(records) > most:
        records_frame(records, loaded.features, most)  # raises POST /prediction's own 400
    results: list[dict[str, Any]] = [{"row": i} for i in range(len(records))]
    good = []
    settings = state().settings
    ids, stamp = settings["data.id_columns"], settings["data.timestamp_column"]
    latest = predictions.latest_event_time(settings)
    for i, rec in enumerate(records):
        try:
            check_record(i, rec, loaded.features)
            predictions.check_keys(i, rec, ids, stamp, latest)
        except DataError as exc:
            results[i].update(error=str(exc), column=exc.column)
        else:
            good.append(i)
    if good:
        kept = [records[i] for i in good]
        frame = records_frame(kept, loaded.features, most)
        predicted, _, rows = predict_and_store(loaded, kept, frame, source)
        for i, value, row in zip(good, predicted.tolist(), rows, strict=True):
            results[i].update(prediction=value, probabilities=row["probabilities"])
    return {"model_version": loaded.version, "stored": len(good), "results": results}
