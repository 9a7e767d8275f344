"""The floor of recording predictions: read the ingested Parquet file, predict() it with the same
model, COPY the rows (id, prediction, probability, version) into a bare table of the same
PostgreSQL with psycopg. What a user would write who only wants the numbers stored.

Run as its own process by bench_predictions.py (its peak RSS is its own):

    python bench/predict_floor.py PARQUET MODEL_DIR POSTGRES_URL --version N --id-column C
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("parquet", type=Path)
    parser.add_argument(
        "model_dir", type=Path, help="the version's folder: model.joblib, metadata.json"
    )
    parser.add_argument("url", help="postgresql://... (psycopg's own form)")
    parser.add_argument("--version", type=int, required=True)
    parser.add_argument("--id-column", required=True)
    args = parser.parse_args()

    t0 = time.perf_counter()
    import joblib
    import pandas as pd
    import psycopg

    from pipeline.model.estimator import predict
    from pipeline.model.features import FeatureSpec

    spec = FeatureSpec.from_json(
        json.loads((args.model_dir / "metadata.json").read_text())["features"]
    )
    model = joblib.load(args.model_dir / "model.joblib")
    frame = pd.read_parquet(args.parquet, columns=[args.id_column, *spec.columns])
    t_read = time.perf_counter()
    predictions, probabilities = predict(model, spec, frame)
    t_predict = time.perf_counter()
    ids = frame[args.id_column].tolist()
    with psycopg.connect(args.url) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS floor_predictions")
        cur.execute(
            "CREATE TABLE floor_predictions (row_id text, prediction float8, probability float8, "
            "model_version integer)"
        )
        with cur.copy("COPY floor_predictions FROM STDIN") as copy:
            for row in zip(ids, predictions.tolist(), probabilities.tolist(), strict=True):
                copy.write_row((*row, args.version))
    t_copy = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": len(ids),
                "read_seconds": round(t_read - t0, 3),
                "predict_seconds": round(t_predict - t_read, 3),
                "copy_seconds": round(t_copy - t_predict, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
