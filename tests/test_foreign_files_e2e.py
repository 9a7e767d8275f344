"""Files a new user's other systems write, through the real CLI: each once stopped every tick
after it with a traceback. A nested column (lists, objects) in the first JSON-lines file broke
the contract's inference; a feature missing in every row broke the drift step's shares from the
second tick on; a multiclass model scored by ROC-AUC, which riskwatch computes on P(positive),
failed in training with a ValueError, now a one-line settings error (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from pipeline.tools.sampledata import write_sample_data
from tests.e2e import invoke, run_json

pytestmark = pytest.mark.slow


def test_a_nested_column_in_the_first_file_is_left_out_of_the_contract(project: Path) -> None:
    write_sample_data(project, batches=1, rows=300, test_rows=100)
    source = project / "sourcedata" / "clients_batch_01.csv"
    frame = pd.read_csv(source)
    frame["tags"] = [["vip"] if i % 2 else {"tier": i} for i in range(len(frame))]
    frame.to_json(source.with_suffix(".jsonl"), orient="records", lines=True)
    source.unlink()
    done = run_json(project)
    assert done["status"] == "succeeded" and done["production_version"] == 1
    assert done["rows_ingested"] == len(frame)
    assert "[columns.tags]" not in (project / "contract.toml").read_text()
    assert done["quality"]["errors_by_type"] == {"extra_column": 1}


def test_a_feature_missing_in_every_row_does_not_stop_the_next_ticks(
    project: Path, database_url: str
) -> None:
    write_sample_data(project, batches=2, rows=300, test_rows=100)
    inbox = project / "sourcedata"
    for path in inbox.glob("*.csv"):
        pd.read_csv(path).assign(empty=np.nan).to_csv(path, index=False)
    later = inbox / "clients_batch_02.csv"
    later.rename(project / "held.csv")
    assert run_json(project, database_url)["production_version"] == 1
    (project / "held.csv").rename(later)
    second = run_json(project, database_url)
    assert second["status"] == "succeeded"
    assert len(PdfReader(second["report"]).pages) > 1
    assert run_json(project, database_url)["status"] == "noop"


def test_a_multiclass_model_scored_by_roc_auc_is_a_settings_error(project: Path) -> None:
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame.rename(columns=lambda c: c.replace("/", "_"))
    wine.insert(0, "rid", [f"W{i}" for i in range(len(wine))])
    wine.to_csv(project / "sourcedata" / "wine.csv", index=False)
    (project / "riskwatch.toml").write_text(
        '[data]\ntarget = "target"\nid_columns = ["rid"]\n[model]\nmetric = "roc_auc"\n'
        "[diagnostics]\noutdated_packages = false\n"
    )
    done = invoke(project, "run", "--json")
    assert done.returncode == 2, done.stderr
    assert "model.metric = 'roc_auc' scores a binary model; this one has 3 classes" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["exit_code"] == 2


def test_columns_of_times_in_parquet_files_are_not_features(project: Path) -> None:
    """A time zone's objects in a fitted model's categories were refused by the artifact's
    unpickler, so every tick trained a version it could not load. A column of times is no
    feature (one category per time): left out of the contract, reported as an extra column."""
    write_sample_data(project, batches=2, rows=300, test_rows=100)
    inbox = project / "sourcedata"
    for path in sorted(inbox.glob("*.csv")):
        frame = pd.read_csv(path)
        frame["seen"] = pd.date_range("2026-01-01", periods=len(frame), freq="h", tz="Europe/Paris")
        frame["naive"] = pd.date_range("2026-01-01", periods=len(frame), freq="h")
        frame.to_parquet(path.with_suffix(".parquet"), index=False)
        path.unlink()
    later = inbox / "clients_batch_02.parquet"
    later.rename(project / "held.parquet")
    first = run_json(project)
    assert first["production_version"] == 1
    contract = (project / "contract.toml").read_text()
    assert "[columns.seen]" not in contract and "[columns.naive]" not in contract
    (project / "held.parquet").rename(later)
    second = run_json(project)  # loads v1 to predict and score: it must load
    assert second["status"] == "succeeded" and second["production_version"] == 1
    assert second["score"]["model_version"] == 1
