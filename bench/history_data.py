"""Write the history-duplicates benchmark's data, and run its floor; each in its own process.

    python bench/history_data.py history OUTDIR --files F --rows N
    python bench/history_data.py new FILE.csv --rows N --from HISTORY.csv --first-id I --copies K
    python bench/history_data.py floor DATADIR FILE.csv

`history`: F CSV files of N rows each, ids C000000000 upwards. `new`: N fresh rows (ids from I),
of which K are exact copies of rows of HISTORY.csv and K others reuse an id of it with other
values. `floor`: what a user would write without an index: read every ingested Parquet file of
DATADIR, `pd.concat` them with the new file, then `duplicated()` over all columns and over the
id; prints the counts found in the new file and the seconds each part took, as JSON.

Run as children: the timing parent must never hold the data (its pages would count in a child's
peak RSS).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

NUMERIC = 5
CATEGORIES = {"segment": 8, "region": 4}
LAYOUT = (
    "9 columns: id 'corporation' (text), 5 numeric features f1..f5 (float, 4 decimals, 1% "
    "missing in f1), 2 categorical features segment (8 levels) and region (4), the 0/1 target "
    "'exited'"
)
CONTRACT = """[contract]
target = "exited"
id_columns = ["corporation"]
label_values = [0, 1]
unique_ids = true

[columns.corporation]
kind = "id"

[columns.exited]
kind = "label"
"""
CONTRACT += "".join(f'\n[columns.f{k + 1}]\nkind = "numeric"\nnullable = true\n' for k in range(5))
CONTRACT += "".join(
    f'\n[columns.{name}]\nkind = "categorical"\nnullable = false\n'
    f"categories = {[f'{name[0]}{i}' for i in range(levels)]}\n".replace("'", '"')
    for name, levels in CATEGORIES.items()
)


def _rows(rows: int, seed: int, first_id: int):  # -> pyarrow.Table
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.char.zfill(np.arange(first_id, first_id + rows).astype(str), 9))
    cols: dict[str, object] = {"corporation": pa.array(ids)}
    for k in range(NUMERIC):
        x = np.round(rng.normal(0, 1, rows) * (k + 1), 4)
        if k == 0:
            x[rng.random(rows) < 0.01] = np.nan
        cols[f"f{k + 1}"] = pa.array(x, from_pandas=True)
    for name, levels in CATEGORIES.items():
        labels = np.array([f"{name[0]}{i}" for i in range(levels)])
        cols[name] = pa.array(labels[rng.integers(0, levels, rows)])
    cols["exited"] = pa.array(rng.integers(0, 2, rows))
    return pa.table(cols)


def write_history(out: Path, files: int, rows: int) -> None:
    import pyarrow.csv as pacsv

    out.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        pacsv.write_csv(_rows(rows, 1000 + i, i * rows), out / f"history_{i + 1:02d}.csv")


def write_new(path: Path, rows: int, history: Path, first_id: int, copies: int) -> None:
    """Fresh rows, the first `copies` replaced by rows of `history`, the next `copies` given
    ids of other rows of `history` (so they are reused ids, not copies)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    old = pacsv.read_csv(history, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    fresh = _rows(rows, 7, first_id)
    pick = np.random.default_rng(3).choice(old.num_rows, 2 * copies, replace=False)
    copied = old.take(pa.array(pick[:copies]))
    reused = fresh.slice(copies, copies).set_column(
        0, "corporation", old.column("corporation").take(pa.array(pick[copies:]))
    )
    table = pa.concat_tables([copied.cast(fresh.schema), reused, fresh.slice(2 * copies)])
    pacsv.write_csv(table, path)


def floor(data_dir: Path, new_file: Path) -> dict[str, object]:
    import pandas as pd

    t0 = time.perf_counter()
    history = pd.concat(
        [pd.read_parquet(p) for p in sorted(data_dir.glob("*.parquet"))], ignore_index=True
    )
    text = {"corporation": "str", "segment": "str", "region": "str"}
    new = pd.read_csv(new_file, dtype=text)
    t1 = time.perf_counter()
    both = pd.concat([history, new], ignore_index=True)
    rows = both.duplicated(keep="first").to_numpy()[len(history) :]
    ids = both.duplicated(subset=["corporation"], keep="first").to_numpy()[len(history) :]
    t2 = time.perf_counter()
    return {
        "history_rows": len(history),
        "duplicate_row": int(rows.sum()),
        "duplicate_id": int((ids & ~rows).sum()),
        "read_seconds": t1 - t0,
        "check_seconds": t2 - t1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("history", "new", "floor", "contract"))
    parser.add_argument("path", type=Path)
    parser.add_argument("extra", type=Path, nargs="?")
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--from", dest="source", type=Path)
    parser.add_argument("--first-id", type=int, default=0)
    parser.add_argument("--copies", type=int, default=1000)
    args = parser.parse_args()
    if args.what == "history":
        write_history(args.path, args.files, args.rows)
    elif args.what == "new":
        write_new(args.path, args.rows, args.source, args.first_id, args.copies)
    elif args.what == "contract":
        args.path.write_text(CONTRACT)
    else:
        print(json.dumps(floor(args.path, args.extra)))


if __name__ == "__main__":
    main()
