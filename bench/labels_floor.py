"""The floor of taking late labels: read the labels CSV with pandas, read every scheduled
prediction's (row key, id) from the same PostgreSQL, join them on the key with pandas, and COPY
(prediction id, label) into a bare table with psycopg. What a user would write who only wants
each label beside its prediction: no checks of the rows, no duplicates nor conflicts, no
periods, no realised performance, no joined rows for training.

Run as its own process by bench_labels.py (its peak RSS is its own):

    python bench/labels_floor.py LABELS_CSV POSTGRES_URL --id-column C --target T
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("labels", type=Path)
    parser.add_argument("url", help="postgresql://... (psycopg's own form)")
    parser.add_argument("--id-column", required=True)
    parser.add_argument("--target", required=True)
    args = parser.parse_args()

    t0 = time.perf_counter()
    import pandas as pd
    import psycopg

    labels = pd.read_csv(args.labels, dtype={args.id_column: str})
    # The predictions' key of one id column: its value as a JSON list.
    labels["row_key"] = '["' + labels[args.id_column] + '"]'
    t1 = time.perf_counter()
    with psycopg.connect(args.url) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT row_key, id FROM predictions WHERE source = 'scheduled'")
            preds = pd.DataFrame(cur.fetchall(), columns=["row_key", "id"])
        t2 = time.perf_counter()
        joined = labels.merge(preds, on="row_key", how="inner")
        t3 = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS floor_labels")
            cur.execute("CREATE TABLE floor_labels (prediction_id bigint, label text)")
            with cur.copy("COPY floor_labels (prediction_id, label) FROM STDIN") as copy:
                for pid, label in zip(
                    joined["id"].tolist(), joined[args.target].tolist(), strict=True
                ):
                    copy.write_row((pid, str(label)))
        conn.commit()
    t4 = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": len(joined),
                "read_seconds": t1 - t0,
                "predictions_seconds": t2 - t1,
                "merge_seconds": t3 - t2,
                "copy_seconds": t4 - t3,
            }
        )
    )


if __name__ == "__main__":
    main()
