"""The README's "retrain on any drop" recipe on 10-row batches: each setting it names is needed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.tools.sampledata import write_sample_data
from tests.e2e import drop, run_json

# What the README's recipe says to set (section "How one run works", "Retrain policy").
RECIPE = {"tolerance": "0", "require_interval": "false", "min_rows": "1"}


def _project(tmp_path: Path, policy: dict[str, str]) -> Path:
    project = tmp_path / "project"
    (project / "sourcedata").mkdir(parents=True)
    lines = "\n".join(f"{k} = {v}" for k, v in policy.items())
    (project / "riskwatch.toml").write_text(
        f"[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n{lines}\n"
    )
    return project


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=2, rows=600, test_rows=200)
    return out


def _ten_rows_the_model_gets_wrong(sample: Path, target: Path) -> Path:
    """Ten labelled rows of batch 2 with their labels flipped: any model's F1 drops on them."""
    rows = pd.read_csv(sample / "sourcedata" / "clients_batch_02.csv").head(10)
    rows["exited"] = 1 - rows["exited"]
    rows.to_csv(target, index=False)
    return target


@pytest.mark.parametrize(
    ("policy", "retrains"),
    [
        (RECIPE, True),
        # Without min_rows a 10-row batch is never judged, whatever the tolerance says.
        ({k: v for k, v in RECIPE.items() if k != "min_rows"}, False),
    ],
    ids=["the-recipe", "the-recipe-without-min_rows"],
)
def test_retrain_on_any_drop_with_ten_row_batches(
    tmp_path: Path, sample: Path, policy: dict[str, str], retrains: bool
) -> None:
    project = _project(tmp_path, policy)
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    first = run_json(project)
    assert first["production_version"] == 1

    drop(project, _ten_rows_the_model_gets_wrong(sample, tmp_path / "clients_ten.csv"))
    tick = run_json(project)

    assert tick["rows_ingested"] == 10
    assert tick["score"]["n_rows"] == 10
    assert tick["score"]["value"] < tick["score"]["production_metric"]
    assert tick["decision"]["retrain"] is retrains, tick["decision"]["reason"]
    if not retrains:
        assert "policy.min_rows" in tick["decision"]["reason"]
