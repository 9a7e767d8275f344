"""The training window (`training.window`): which ingested files a model learns from, read from
disk for those files only, listed exactly in the version's metadata; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.errors import ConfigError
from pipeline.settings import Window, load_settings, parse_window
from pipeline.storage import tables, writes
from pipeline.tools.sampledata import generate_batch
from tests.e2e import drop, invoke, rows, run_json

QUICK = "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"


@pytest.mark.parametrize(
    ("value", "window"),
    [
        ("all", Window("all", None)),
        ("files:3", Window("files", 3)),
        ("rows:100000", Window("rows", 100000)),
        ("days:30", Window("days", 30)),
        ("runs:1", Window("runs", 1)),
        (" Days : 7 ", Window("days", 7)),
    ],
)
def test_window_syntax(value: str, window: Window) -> None:
    assert parse_window(value) == window
    assert parse_window(str(window)) == window


@pytest.mark.parametrize(
    "value", ["", "some", "files", "files:", "files:0", "rows:-5", "days:1.5", "weeks:2", 3]
)
def test_a_bad_window_is_refused_at_start_naming_the_key(tmp_path: Path, value: object) -> None:
    shown = json.dumps(value)
    (tmp_path / "riskwatch.toml").write_text(f"[training]\nwindow = {shown}\n")
    with pytest.raises(ConfigError, match=r"setting 'training\.window': expected "):
        load_settings(tmp_path / "riskwatch.toml", environ={})


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("split.holdout_fraction", 0, True),
        ("split.holdout_fraction", -0.1, False),
        ("policy.cv_folds", 2, True),
        ("policy.cv_folds", 1, False),
    ],
)
def test_holdout_zero_and_cv_folds_are_validated(
    tmp_path: Path, key: str, value: float, ok: bool
) -> None:
    section, name = key.split(".")
    (tmp_path / "riskwatch.toml").write_text(f"[{section}]\n{name} = {value}\n")
    if ok:
        assert load_settings(tmp_path / "riskwatch.toml", environ={})[key] == value
    else:
        with pytest.raises(ConfigError, match=rf"setting '{key}': expected at least"):
            load_settings(tmp_path / "riskwatch.toml", environ={})


def _files(engine: sa.Engine, spec: list[tuple[int, float]]) -> list[int]:
    """Ingested files with (good rows, days before 2026-11-30) each, oldest first; one
    quarantined file too, which no window ever holds. Returns their ids."""
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(id="r" * 32, kind="run", started_at=now, status="x")
        )
        for i, (n, age) in enumerate([*spec, (50, 0)]):
            conn.execute(
                tables.ingested_files.insert().values(
                    run_id="r" * 32,
                    sha256=f"{i:064d}",
                    name=f"f{i}.csv",
                    size_bytes=1,
                    status="ingested" if i < len(spec) else "quarantined",
                    rows=n,
                    labelled_rows=n,
                    data_path=f"data/{i}.parquet",
                    ingested_at=now - timedelta(days=age),
                )
            )
        return list(conn.execute(sa.select(tables.ingested_files.c.id)).scalars())[: len(spec)]


@pytest.mark.parametrize(
    ("kind", "size", "picked"),
    [
        ("all", None, [0, 1, 2, 3]),
        ("files", 2, [1, 3]),  # the newest 2 files with labelled rows: file 2 has none
        ("files", 9, [0, 1, 2, 3]),
        ("rows", 10, [3]),  # the newest file alone holds 10 rows
        ("rows", 11, [1, 2, 3]),  # file 2 holds no good row: it adds nothing to the count
        ("rows", 1000, [0, 1, 2, 3]),
        ("days", 30, [1, 2, 3]),  # up to the newest ingestion (two days ago), not up to now
        ("days", 3, [3]),
    ],
)
def test_window_files_are_the_newest_of_each_kind(
    engine: sa.Engine, kind: str, size: int | None, picked: list[int]
) -> None:
    ids = _files(engine, [(40, 50.0), (20, 31.0), (0, 10.0), (10, 2.0)])
    with engine.connect() as conn:
        got = [r.id for r in writes.window_files(conn, kind, size)]
    expected = [ids[i] for i in picked]
    # A file with no labelled row is in no window (issue 12: unlabelled rows are never trained
    # on); file 2 holds no row at all.
    expected = [i for i in expected if i != ids[2]]
    assert got == expected


# --- end to end: `riskwatch ingest`, `train` and `run` in a project -------------------------


def _project(project: Path, toml: str) -> Path:
    (project / "riskwatch.toml").write_text(QUICK + toml)
    return project


def _drop_files(project: Path, tmp_path: Path, sizes: list[int]) -> None:
    """Files of sample rows, in order (one tick per file would interleave scoring)."""
    start = 0
    frame = generate_batch(1, sum(sizes), seed=3, drift_from=9)
    for i, n in enumerate(sizes):
        path = tmp_path / f"batch_{i}.csv"
        frame.iloc[start : start + n].to_csv(path, index=False)
        start += n
        drop(project, path)


def _ingested(url: str) -> list[dict]:
    return rows(
        url,
        "SELECT name, sha256, rows, data_path FROM ingested_files "
        "WHERE status = 'ingested' ORDER BY id",
    )


def _metadata(project: Path, version: int) -> dict:
    return json.loads((project / "models" / str(version) / "metadata.json").read_text())


def _ok(proc) -> dict:  # type: ignore[no-untyped-def]
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_newest_files_train_on_exactly_those_files_and_never_read_the_others(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    _project(project, '\n[training]\nwindow = "files:2"\n')
    _drop_files(project, tmp_path, [80, 80, 80, 80])
    _ok(invoke(project, "ingest", "--json", database_url=database_url))
    files = _ingested(database_url)
    assert len(files) == 4
    for old in files[:2]:  # outside the window: reading either would fail the training
        (project / "ingesteddata" / old["data_path"]).write_bytes(b"not parquet")

    summary = _ok(invoke(project, "train", "--json", database_url=database_url))

    promotion = summary["promotion"]
    assert promotion["promoted"] and promotion["training_window"] == "files:2"
    newest = [{k: f[k] for k in ("name", "sha256", "rows")} for f in files[2:]]
    meta = _metadata(project, 1)
    assert meta["training_files"] == newest
    assert meta["training_window"] == "files:2"
    assert meta["train_rows"] + meta["holdout_rows"] == sum(f["rows"] for f in newest)
    (row,) = rows(database_url, "SELECT training_window, training_files FROM model_versions")
    assert row["training_window"] == "files:2"
    training_files = row["training_files"]
    if isinstance(training_files, str):  # SQLite hands JSON back as text through sa.text
        training_files = json.loads(training_files)
    assert training_files == newest
    status = invoke(project, "status", database_url=database_url)
    assert "(window files:2)" in status.stdout

    # The same files in the window "all": the unreadable ones are read, and training fails.
    _project(project, "")
    failed = invoke(project, "train", "--json", database_url=database_url)
    assert failed.returncode != 0


def test_newest_rows_cut_the_oldest_file_of_the_window(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    # The first tick trains on the rows it has just loaded: the window is cut from them.
    _project(project, '\n[training]\nwindow = "rows:150"\n')
    _drop_files(project, tmp_path, [100, 100, 100])
    summary = run_json(project, database_url)
    assert summary["production_version"] == 1
    files = _ingested(database_url)
    meta = _metadata(project, 1)
    newest = files[-1]["rows"]
    # Each file keeps (nearly) all of its 100 rows through the gate, so 150 rows are two files.
    assert [f["name"] for f in meta["training_files"]] == [f["name"] for f in files[-2:]]
    assert sum(f["rows"] for f in meta["training_files"]) == 150
    assert meta["training_files"][0]["first_row"] == files[-2]["rows"] - (150 - newest)
    assert meta["train_rows"] + meta["holdout_rows"] == 150

    # `riskwatch train` reads the window from disk: the same rows, the same listing.
    _ok(invoke(project, "train", "--json", database_url=database_url))
    again = _metadata(project, 2)
    assert again["training_files"] == meta["training_files"]
    assert (again["train_rows"], again["holdout_rows"]) == (
        meta["train_rows"],
        meta["holdout_rows"],
    )


def test_newest_days_by_ingestion_time(project: Path, database_url: str, tmp_path: Path) -> None:
    _project(project, '\n[training]\nwindow = "days:30"\n')
    _drop_files(project, tmp_path, [80, 80, 80, 80])
    _ok(invoke(project, "ingest", "--json", database_url=database_url))
    files = _ingested(database_url)
    engine = sa.create_engine(database_url)
    now = datetime.now(UTC)
    t = tables.ingested_files
    try:
        with engine.begin() as conn:
            for f, age in zip(files, [45, 31, 12, 1], strict=True):
                conn.execute(
                    t.update()
                    .where(t.c.sha256 == f["sha256"])
                    .values(ingested_at=now - timedelta(days=age))
                )
    finally:
        engine.dispose()

    summary = _ok(invoke(project, "train", "--json", database_url=database_url))

    assert summary["promotion"]["training_window"] == "days:30"
    meta = _metadata(project, 1)
    assert [f["sha256"] for f in meta["training_files"]] == [f["sha256"] for f in files[1:]]
    assert meta["train_rows"] + meta["holdout_rows"] == sum(f["rows"] for f in files[1:])


def test_a_window_of_quarantined_files_only_says_so(tmp_path: Path) -> None:
    from pipeline.errors import DataError
    from pipeline.run.training_data import training_data
    from pipeline.storage import db

    (tmp_path / "riskwatch.toml").write_text(QUICK + '\n[training]\nwindow = "files:1"\n')
    settings = load_settings(tmp_path / "riskwatch.toml", environ={})
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    run = type("RunStub", (), {"engine": engine, "settings": settings})()
    try:
        with pytest.raises(DataError, match=r"no labelled ingested rows in the .*files:1"):
            training_data(run)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_versions_registered_before_the_window_read_as_holdout_scored_on_all_rows(
    engine: sa.Engine,
) -> None:
    from pipeline.storage import db

    db.downgrade(engine, "0004")
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO model_versions (version, created_at, artifact, sha256, estimator, "
                "params, features, metric, holdout_score, train_rows, holdout_rows, "
                "training_files) VALUES (1, :t, '1/model.joblib', :h, 'x', '{}', '{}', 'f1', "
                "0.7, 80, 20, '[]')"
            ),
            {"t": now.replace(tzinfo=None), "h": "0" * 64},
        )
    db.upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(tables.model_versions)).one()
    assert (row.score_source, row.score_rows, row.training_window) == ("holdout", 20, "all")


def test_a_runs_window_is_the_files_of_the_newest_ingesting_runs(engine: sa.Engine) -> None:
    """runs:N: the files the newest N runs that ingested anything brought, whatever their sizes
    or times; a run that only quarantined files is not one of them."""
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    batches = [("a", ["ingested", "ingested"]), ("b", ["ingested"]), ("c", ["quarantined"])]
    with engine.begin() as conn:
        for run, statuses in batches:
            conn.execute(
                tables.runs.insert().values(id=run * 32, kind="run", started_at=now, status="x")
            )
            for i, status in enumerate(statuses):
                conn.execute(
                    tables.ingested_files.insert().values(
                        run_id=run * 32,
                        sha256=f"{run}{i}".ljust(64, "0"),
                        name=f"{run}{i}-{status}.csv",
                        size_bytes=1,
                        status=status,
                        rows=5,
                        labelled_rows=5,
                        data_path=f"data/{run}.parquet",
                        ingested_at=now,
                    )
                )
        ids = {r.name: r.id for r in conn.execute(sa.select(tables.ingested_files))}
    with engine.connect() as conn:
        latest = [r.run_id for r in writes.window_files(conn, "runs", 1)]
        both = [r.run_id for r in writes.window_files(conn, "runs", 2)]
        many = [r.id for r in writes.window_files(conn, "runs", 9)]
    assert latest == ["b" * 32]
    assert both == ["a" * 32, "a" * 32, "b" * 32]
    assert ids["c0-quarantined.csv"] not in many and len(many) == 3
