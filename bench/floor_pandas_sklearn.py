"""The floor of a tick: what a user would write instead of riskwatch, run as its own process.

`pandas.read_csv` of the file, then the scikit-learn pipeline a user would write for the model
riskwatch fits: scikit-learn's own ColumnTransformer (median imputer + StandardScaler,
most-frequent imputer + OneHotEncoder; `pipeline.model.design.reference_transformer`, which
riskwatch's
`Preprocessor` is tested against) before the estimator the settings name, fitted once on the
same training rows riskwatch uses (all but the newest `split.holdout_fraction`). Prints one JSON
object with its phase times and the data frame's in-memory size; bench_tick.py times the whole
process from outside.

    python bench/floor_pandas_sklearn.py FILE.csv
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(path: str) -> None:
    t0 = time.perf_counter()
    import pandas as pd
    from sklearn.pipeline import Pipeline

    import pipeline
    from pipeline.model.design import reference_transformer
    from pipeline.model.estimator import build_estimator, takes_sparse
    from pipeline.model.features import infer_features
    from pipeline.settings import load_settings

    t_import = time.perf_counter()
    df = pd.read_csv(path)
    t_read = time.perf_counter()

    settings = load_settings()
    features = infer_features(df, settings)
    n_hold = max(1, round(len(df) * settings["split.holdout_fraction"]))
    train = df.iloc[: len(df) - n_hold]
    estimator = build_estimator(settings)
    prepare = reference_transformer(features.numeric, features.categorical, takes_sparse(estimator))
    model = Pipeline([("prepare", prepare), ("estimator", estimator)])
    model.fit(train[features.columns], train[settings["data.target"]])
    t_fit = time.perf_counter()

    frame_bytes = int(df.memory_usage(deep=True).sum())  # after the clock: not part of the floor
    print(
        json.dumps(
            {
                "import_s": t_import - t0,
                "read_csv_s": t_read - t_import,
                "fit_s": t_fit - t_read,
                "rows": len(df),
                "train_rows": len(train),
                "columns": len(df.columns),
                "numeric": list(features.numeric),
                "categorical": list(features.categorical),
                "dtypes": {c: str(t) for c, t in df.dtypes.items()},
                "frame_bytes": frame_bytes,
                "engine": str(Path(pipeline.__file__).parent),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
