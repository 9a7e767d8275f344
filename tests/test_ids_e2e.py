"""Ids as the stores hold them, through the real CLI on SQLite and PostgreSQL.

Ids longer than a key may be (`model.keys.MAX_KEY_BYTES`) in a data file and in a labels file,
through the real CLI on SQLite and PostgreSQL: PostgreSQL's index of the keys holds no longer
one, so such a row used to fail the file's predictions (and the labels' join) on every tick. The
gate now quarantines the data row (`out_of_range` on the id column) and the labels inbox counts
the label as `no_id`; the other rows go on, and so does the next tick.

An id is its text as written: `NA`, `null`, `None` (words pandas reads as missing in other
columns) are ids of their own in a data file and in a labels file; only an empty cell is none."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.predictions import MAX_KEY_BYTES
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import rows, run_json

pytestmark = pytest.mark.slow


def test_a_row_or_a_label_whose_ids_are_too_long_is_refused_and_the_rest_goes_on(
    project: Path, database_url: str
) -> None:
    write_sample_data(project, batches=2, rows=300, test_rows=100)
    later = project / "sourcedata" / "clients_batch_02.csv"
    held = project / "held.csv"
    later.rename(held)
    first = run_json(project, database_url)
    assert first["production_version"] == 1
    frame = pd.read_csv(held).drop(columns="exited")
    room = MAX_KEY_BYTES - len('[""]')
    frame.loc[0, "corporation"] = "L" * (room + 1)
    frame.loc[1, "corporation"] = "E" * room  # the longest key there may be
    frame.to_csv(project / "sourcedata" / "unlabelled.csv", index=False)
    (project / "labels").mkdir()
    (project / "labels" / "late.csv").write_text(
        f"corporation,exited\n{'é' * (room // 2 + 1)},1\n{'E' * room},0\n"
    )
    done = run_json(project, database_url)
    assert done["status"] == "succeeded"
    assert done["rows_quarantined"] == 1 and done["rows_ingested"] == len(frame) - 1
    [issue] = rows(
        database_url,
        "SELECT column_name, count, message FROM quality_issues WHERE message LIKE '%key%'",
    )
    assert issue["column_name"] == "corporation" and issue["count"] == 1
    assert "the ids make a key longer than 2,000 bytes" in issue["message"]
    stored = rows(
        database_url,
        "SELECT count(*) AS n FROM predictions WHERE source = 'scheduled' AND file_id = "
        "(SELECT id FROM ingested_files WHERE name = 'unlabelled.csv')",
    )
    assert stored[0]["n"] == len(frame) - 1
    labels = done["labels"]
    assert labels["files"][0]["invalid_by_type"] == {"no_id": 1}
    assert labels["joined"] == 1  # the longest key there may be finds its prediction
    assert run_json(project, database_url)["status"] == "noop"


WORDS = ["NA", "None", "null", "NaN", "n/a", "nan", "#N/A", "<NA>"]


def test_ids_that_pandas_would_read_as_missing_are_ids(project: Path, database_url: str) -> None:
    write_sample_data(project, batches=2, rows=300, test_rows=100)
    later = project / "sourcedata" / "clients_batch_02.csv"
    held = project / "held.csv"
    later.rename(held)
    run_json(project, database_url)
    frame = pd.read_csv(held).drop(columns="exited")
    frame["corporation"] = frame["corporation"].astype(object)
    frame.loc[: len(WORDS) - 1, "corporation"] = WORDS
    frame.loc[len(WORDS), "corporation"] = ""  # no id: quarantined as before
    frame.to_csv(project / "sourcedata" / "words.csv", index=False)
    (project / "labels").mkdir()
    (project / "labels" / "late.csv").write_text(
        "corporation,exited\n" + "".join(f"{w},1\n" for w in WORDS) + ",0\n"
    )
    done = run_json(project, database_url)
    assert done["rows_quarantined"] == 1
    keys = rows(
        database_url,
        "SELECT row_key FROM predictions WHERE source = 'scheduled' AND file_id = "
        "(SELECT id FROM ingested_files WHERE name = 'words.csv') ORDER BY row_number",
    )
    assert [k["row_key"] for k in keys[: len(WORDS)]] == [f'["{w}"]' for w in WORDS]
    labels = done["labels"]
    assert labels["joined"] == len(WORDS)
    assert labels["files"][0]["invalid_by_type"] == {"no_id": 1}
