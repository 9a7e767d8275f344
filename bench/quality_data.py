"""Write the quality benchmark's data: a clean file, its contract, and a copy with problems.

Run as its own process in the project's environment (bench_quality.py does), so the timing
parent never holds the data (see wide_data.py). In OUTDIR it writes:

- `clean.csv`: the 20-column layout of wide_data.py, N rows;
- `contract.toml`: riskwatch's contract, inferred (`pipeline.ingest.contract.infer`) from clean.csv;
- `dirty.csv`: a copy of clean.csv in which 0.1% of the rows each carry one problem (PROBLEMS),
  on disjoint rows, every other byte as it was;
- `injected.json`: what was injected where, and how many rows: what every tool should find.

    python bench/quality_data.py OUTDIR --rows N [--seed S]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from wide_data import CATEGORIES, NUMERIC, write_csv

ID = "corporation"
TARGET = "exited"
FEATURES = [f"num_{k + 1:02d}" for k in range(NUMERIC)] + list(CATEGORIES)
TEXT_COLUMNS = (ID, *CATEGORIES)  # read as text, the way riskwatch's reader is told to
SHARE = 0.001  # of the rows, per problem

# problem: (column, the value written into the CSV field, what the contract says it breaks).
# The columns are chosen from the layout: num_02 and num_05 never miss a value in clean data
# (so the contract makes them required), num_05 and num_08 are log-normal amounts (never
# negative, so the contract's minimum is 0), region has 6 levels region_00..region_05.
PROBLEMS = {
    "out_of_range": ("num_05", "-250.0", "a negative amount; the contract's minimum is 0"),
    "unknown_category": ("region", "region_06", "a region the contract does not list"),
    "wrong_type": ("num_08", "#VALUE!", "spreadsheet error text in a numeric column"),
    "missing_value": ("num_02", "", "an empty field in a required numeric column"),
    "duplicate_id": (ID, "(an earlier row's id)", "the id of another row, other fields intact"),
    "invalid_label": (TARGET, "2", "a class the contract's label values do not include"),
}


def read(path: Path):
    """The one way every tool in the benchmark reads a file (as pipeline.ingest.readers)."""
    import pandas as pd

    dtype = dict.fromkeys(TEXT_COLUMNS, "str")
    return pd.read_csv(path, dtype=dtype, encoding="utf-8", index_col=False)


def make(outdir: Path, rows: int, seed: int) -> dict:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from pipeline.ingest.contract import enforced, infer, save

    outdir.mkdir(parents=True, exist_ok=True)
    clean = outdir / "clean.csv"
    write_csv(clean, rows, seed)

    # Enforced: every tool compared quarantines what breaks a range or a category list.
    contract = enforced(
        infer(
            read(clean),
            target=TARGET,
            id_columns=[ID],
            features=FEATURES,
            categorical=list(CATEGORIES),
            task="classification",
        ),
        None,
    )
    save(contract, outdir / "contract.toml")

    # Every field as the text it is in the file, so the copy differs only where a problem is.
    text = pd.read_csv(clean, dtype=str, keep_default_na=False, index_col=False)
    per = max(1, round(rows * SHARE))
    rng = np.random.default_rng(seed + 1)
    picked = rng.permutation(rows)[: per * (len(PROBLEMS) + 1)]
    injected: dict[str, dict] = {}
    for i, (problem, (column, value, why)) in enumerate(PROBLEMS.items()):
        where = np.sort(picked[i * per : (i + 1) * per])
        if problem == "duplicate_id":
            # Pair each row with a clean row and give the later of the two the earlier's id:
            # `per` rows reuse an id, whichever of the pair is flagged.
            others = np.sort(picked[len(PROBLEMS) * per :])
            first, later = np.minimum(where, others), np.maximum(where, others)
            ids = text[column].to_numpy(copy=True)
            ids[later] = ids[first]
            text[column] = ids
        else:
            values = text[column].to_numpy(copy=True)
            values[where] = value
            text[column] = values
        injected[problem] = {"column": column, "value": value, "why": why, "rows": int(per)}
    dirty = outdir / "dirty.csv"
    tmp = dirty.with_name(dirty.name + ".tmp")
    table = pa.Table.from_pandas(text, preserve_index=False)
    pacsv.write_csv(table, tmp, pacsv.WriteOptions(quoting_style="none"))
    os.replace(tmp, dirty)
    doc = {
        "rows": rows,
        "rows_with_a_problem": per * len(PROBLEMS),
        "problems": injected,
        "clean_bytes": clean.stat().st_size,
        "dirty_bytes": dirty.stat().st_size,
        "contract_version": contract.version,
    }
    (outdir / "injected.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(make(args.outdir, args.rows, args.seed)))


if __name__ == "__main__":
    main()
