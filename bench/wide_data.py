"""Write the tick benchmark's data: a labelled, 20-column CSV of any number of rows.

Run as its own process (bench_tick.py does): a child's peak RSS as the kernel reports it
includes the pages its parent had when it forked, so the timing parent must never hold the
data itself.

    python bench/wide_data.py FILE.csv --rows N --seed S [--first-id I]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

NUMERIC = 15
CATEGORIES = {"industry": 12, "region": 6, "plan": 25}  # name: number of levels
LAYOUT = (
    "20 columns: id 'corporation' (text), 15 numeric features num_01..num_15 "
    "(float, 1% missing in five of them), 3 categorical features industry (12 levels), "
    "region (6), plan (25), and the 0/1 target 'exited'; 18 features in all"
)


def write_csv(path: Path, rows: int, seed: int, first_id: int = 0) -> None:
    """Write a labelled 20-column CSV whose target depends on numeric and categorical features.

    The relation between features and target is the same for every file (drawn from a fixed
    seed); `seed` only draws the rows, so a second file is fresh data from the same world.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    world = np.random.default_rng(20240601)
    weights = world.normal(0, 0.6, NUMERIC)
    effects = {name: world.normal(0, 0.5, levels) for name, levels in CATEGORIES.items()}
    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {}
    ids = np.char.add("C", np.char.zfill(np.arange(first_id, first_id + rows).astype(str), 8))
    cols["corporation"] = pa.array(ids)
    logit = np.full(rows, -1.6)
    for k in range(NUMERIC):
        kind = k % 3
        if kind == 0:
            x = z = rng.normal(0, 1, rows)
        elif kind == 1:
            z = rng.normal(0, 1, rows)
            x = np.exp(3 + z)  # lognormal: skewed, as amounts are
        else:
            x = rng.poisson(4, rows).astype(float)  # counts
            z = (x - 4) / 2
        logit += weights[k] * z
        x = np.round(x, 4)
        if k % 3 == 0:
            x[rng.random(rows) < 0.01] = np.nan
        cols[f"num_{k + 1:02d}"] = pa.array(x, from_pandas=True)  # NaN -> empty field
    for name, levels in CATEGORIES.items():
        codes = rng.integers(0, levels, rows)
        logit += effects[name][codes]
        labels = np.array([f"{name}_{i:02d}" for i in range(levels)])
        cols[name] = pa.array(labels[codes])
    cols["exited"] = pa.array((rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64))
    table = pa.table(cols)
    if table.num_columns != 20:
        raise AssertionError(f"expected 20 columns, made {table.num_columns}")
    tmp = path.with_name(path.name + ".tmp")  # riskwatch never takes a *.tmp file
    pacsv.write_csv(table, tmp, pacsv.WriteOptions(quoting_style="none"))
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--first-id", type=int, default=0)
    args = parser.parse_args()
    write_csv(args.path, args.rows, args.seed, args.first_id)


if __name__ == "__main__":
    main()
