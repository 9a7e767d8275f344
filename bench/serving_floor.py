"""The serving floor of bench_serving.py: bare Flask and joblib, storing nothing.

What a user would write to serve the same model without riskwatch: load the artifact once with
`joblib.load`, and per request turn the JSON records into a DataFrame of the model's feature
columns and answer its predictions and probabilities. No validation, no sign-in, no database.
Served by the same gunicorn worker class and threads as riskwatch (`gunicorn serving_floor:app
-k gthread --threads 8 -w 2`); FLOOR_MODEL is the model.joblib, FLOOR_FEATURES its columns
(comma-separated).
"""

from __future__ import annotations

import os

import joblib
import pandas as pd
from flask import Flask, jsonify, request

model = joblib.load(os.environ["FLOOR_MODEL"])
columns = os.environ["FLOOR_FEATURES"].split(",")
app = Flask(__name__)


@app.post("/prediction")
def prediction():  # type: ignore[no-untyped-def]
    doc = request.get_json()
    records = doc["records"] if isinstance(doc, dict) else doc
    frame = pd.DataFrame.from_records(records, columns=columns)
    proba = model.predict_proba(frame)[:, 1]
    return jsonify(predictions=model.predict(frame).tolist(), probabilities=proba.tolist())


@app.get("/health")
def health():  # type: ignore[no-untyped-def]
    return {"status": "ok"}
