"""The drift benchmark's second data shape, `const14`: 14 columns as a user's pandas writes them.

12 numeric columns and 2 categorical ones, written with `DataFrame.to_parquet` (pandas metadata
and the index kept, as a user's own files are): six float64 (normal, 1% missing in two; uniform;
exponential), two float32, two int64 counts, an int32 code, and `const_flag`, the same value in
every row of both files; `tier` is a pandas `category` column (8 levels) and `city` a text column
(200 levels, Zipf-like frequencies). The current file drifts in two columns: `f64_01` (a mean
shift of SHIFT std) and `tier` (one level's share doubled); the other twelve are drawn as in the
reference, from another seed. Run through `drift_data.py --shape const14`.
"""

from __future__ import annotations

SHIFT = 0.5
SHIFTED = "f64_01"
RESHUFFLED = "tier"
TIER_00_SHARE = 0.25  # from 1/8
LAYOUT_CONST14 = (
    "14 columns written by pandas: 12 numeric (6 float64, 2 float32, 2 int64, 1 int32, "
    "const_flag constant), 2 categorical: tier (category dtype, 8 levels), city (text, 200)"
)
NUMERIC_CONST14 = [
    *(f"f64_{k:02d}" for k in range(1, 7)),
    "f32_01",
    "f32_02",
    "cnt_01",
    "cnt_02",
    "code_i32",
    "const_flag",
]
CATEGORICAL_CONST14 = ["tier", "city"]


def make_frame(rows: int, seed: int, current: bool):
    """One file's columns as a pandas DataFrame; `current` draws the drifted version."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for k in range(1, 7):
        x = (rng.normal(0, 1, rows), rng.uniform(0, 10, rows), rng.exponential(2.0, rows))[k % 3]
        if current and f"f64_{k:02d}" == SHIFTED:
            x = x + SHIFT  # normal, std 1
        if k in (1, 4):
            x[rng.random(rows) < 0.01] = np.nan
        cols[f"f64_{k:02d}"] = np.round(x, 3)
    cols["f32_01"] = rng.normal(50, 5, rows).astype(np.float32)
    cols["f32_02"] = rng.gamma(2.0, 1.5, rows).astype(np.float32)
    cols["cnt_01"] = rng.poisson(3, rows).astype(np.int64)
    cols["cnt_02"] = rng.negative_binomial(5, 0.3, rows).astype(np.int64)
    cols["code_i32"] = rng.integers(100, 999, rows, dtype=np.int32)
    cols["const_flag"] = np.ones(rows, dtype=np.int64)
    p = np.full(8, 1 / 8)
    if current:
        p = np.r_[TIER_00_SHARE, np.full(7, (1 - TIER_00_SHARE) / 7)]
    tiers = [f"tier_{i}" for i in range(8)]
    cols["tier"] = pd.Categorical.from_codes(rng.choice(8, size=rows, p=p), categories=tiers)
    w = 1 / np.arange(1, 201) ** 1.1
    cities = np.array([f"city_{i:03d}" for i in range(200)], dtype=object)
    cols["city"] = cities[rng.choice(200, size=rows, p=w / w.sum())]
    frame = pd.DataFrame(cols)
    if frame.shape[1] != 14:
        raise AssertionError(f"expected 14 columns, made {frame.shape[1]}")
    return frame


def truth() -> dict:
    return {
        "numeric": NUMERIC_CONST14,
        "categorical": CATEGORICAL_CONST14,
        "constant": ["const_flag"],
        "drifted": [SHIFTED, RESHUFFLED],
        "how": {
            SHIFTED: f"mean shift of {SHIFT} reference std (normal, 1% missing)",
            RESHUFFLED: f"frequency change: tier_0 from 1/8 to {TIER_00_SHARE}",
        },
    }
