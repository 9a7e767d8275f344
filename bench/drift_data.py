"""Write the drift benchmark's data: a reference and a current Parquet file with known drift.

Run as its own process in the project's environment (bench_drift.py does), so the timing
parent never holds the data (see wide_data.py). In OUTDIR it writes `reference.parquet` and
`current.parquet` (N rows each) and prints the truth as JSON: which columns drift, how, and
the rest unchanged. Two shapes:

- `mixed20` (LAYOUT): 20 columns written by pyarrow itself (snappy, no pandas metadata), so each
  tool's `pandas.read_parquet` makes its own default dtypes of them: float64 and int64 for the
  numbers, its pandas' string dtype for the categories;
- `const14` (LAYOUT_CONST14, `drift_data_const14.py`): 14 columns as a user's pandas writes them
  (`DataFrame.to_parquet`, pandas metadata and index kept): float64, float32, int64 and int32
  numbers, a column holding one value, a `category` column and a text one.

    python bench/drift_data.py OUTDIR --rows N [--seed S] [--shape mixed20|const14]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

NUMERIC = 15
# name: number of levels (few to about 30), frequencies falling off as in real category codes
CATEGORIES = {"segment": 3, "region": 6, "industry": 12, "plan": 25, "channel": 30}
NUMERIC_COLUMNS = [f"num_{k + 1:02d}" for k in range(NUMERIC)]
CATEGORICAL_COLUMNS = list(CATEGORIES)
# The current file drifts here, and only here: a mean shift of SHIFT reference standard
# deviations in one column of each numeric kind, and a frequency change in one categorical.
SHIFTED = ("num_01", "num_05", "num_09")  # normal (1% missing), log-normal, count
SHIFT = 0.5
RESHUFFLED = "region"  # uniform over 6 levels; region_00 goes from 1/6 to REGION_00_SHARE
REGION_00_SHARE = 0.35
LAYOUT = (
    "20 columns: 15 numeric num_01..num_15 (normal, log-normal and count by turns; 1% missing "
    "in the five normal ones; counts are int64), 5 categorical segment (3 levels), region (6), "
    "industry (12), plan (25), channel (30)"
)

SHAPES = ("mixed20", "const14")


def kind_of(k: int) -> str:
    return ("normal", "lognormal", "count")[k % 3]


def _probabilities(name: str, levels: int, current: bool):
    import numpy as np

    if name == RESHUFFLED:
        p = np.full(levels, 1 / levels)
        if current:
            p = np.r_[REGION_00_SHARE, np.full(levels - 1, (1 - REGION_00_SHARE) / (levels - 1))]
        return p
    w = 1 / np.arange(1, levels + 1) ** 0.8
    return w / w.sum()


def make_table(rows: int, seed: int, current: bool):
    """One file's columns as a pyarrow Table; `current` draws the drifted version."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {}
    for k, name in enumerate(NUMERIC_COLUMNS):
        kind = kind_of(k)
        shift = SHIFT if (current and name in SHIFTED) else 0.0
        if kind == "normal":
            x = rng.normal(0, 1, rows) + shift  # std 1
        elif kind == "lognormal":
            # log-normal amounts, exp(3 + z): std = e^3 * sqrt((e - 1) e), shifted by SHIFT of it
            std = float(np.exp(3) * np.sqrt((np.e - 1) * np.e))
            x = np.exp(3 + rng.normal(0, 1, rows)) + shift * std
        else:
            x = rng.poisson(4, rows) + round(shift * 2)  # std 2: +1 is a 0.5-std shift
        if kind == "normal":
            x = np.round(x, 4)
            x[rng.random(rows) < 0.01] = np.nan
        elif kind == "lognormal":
            x = np.round(x, 2)
        cols[name] = pa.array(x, from_pandas=True)  # NaN -> null, as riskwatch's ingest writes
    for name, levels in CATEGORIES.items():
        p = _probabilities(name, levels, current)
        codes = rng.choice(levels, size=rows, p=p)
        labels = np.array([f"{name}_{i:02d}" for i in range(levels)])
        cols[name] = pa.array(labels[codes])
    table = pa.table(cols)
    if table.num_columns != 20:
        raise AssertionError(f"expected 20 columns, made {table.num_columns}")
    return table


def truth() -> dict:
    return {
        "numeric": NUMERIC_COLUMNS,
        "categorical": CATEGORICAL_COLUMNS,
        "drifted": [*SHIFTED, RESHUFFLED],
        "how": {
            **{
                c: f"mean shift of {SHIFT} reference std ({kind_of(NUMERIC_COLUMNS.index(c))})"
                for c in SHIFTED
            },
            RESHUFFLED: f"frequency change: region_00 from 1/6 to {REGION_00_SHARE} "
            "(Jensen-Shannon distance 0.18)",
        },
    }


def make(outdir: Path, rows: int, seed: int, shape: str = "mixed20") -> dict:
    import drift_data_const14
    import pyarrow.parquet as pq

    outdir.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, side_seed, current in (("reference", seed, False), ("current", seed + 1, True)):
        path = outdir / f"{name}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        if shape == "const14":
            drift_data_const14.make_frame(rows, side_seed, current).to_parquet(tmp)
        else:
            pq.write_table(make_table(rows, side_seed, current), tmp)
        os.replace(tmp, path)
        sizes[f"{name}_bytes"] = path.stat().st_size
    facts = drift_data_const14.truth() if shape == "const14" else truth()
    return {"rows": rows, "seed": seed, "shape": shape, **sizes, **facts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shape", choices=SHAPES, default="mixed20")
    args = parser.parse_args()
    print(json.dumps(make(args.outdir, args.rows, args.seed, args.shape)))


if __name__ == "__main__":
    main()
