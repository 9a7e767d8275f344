"""The quality gate through the real CLI: hostile files, injected errors, alerts, own cadence."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import sqlalchemy as sa

from pipeline.tools.sampledata import write_sample_data
from tests.conftest import QUICK_SETTINGS, create_pg, drop_pg, ensure_postgres
from tests.e2e import count, drop, invoke, rows, run_json, sha

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=2, rows=500, test_rows=200)
    return out


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def first_tick(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sample: Path
) -> Iterator[tuple[Path, str | None]]:
    """A project whose first tick inferred the contract and trained version 1, once per backend.

    A template: each test takes its own copy (`trained`), folder and database.
    """
    project = tmp_path_factory.mktemp("first-tick")
    (project / "sourcedata").mkdir()
    (project / "riskwatch.toml").write_text(QUICK_SETTINGS)
    admin = template = None
    if request.param == "sqlite":
        url = f"sqlite:///{project / 'riskwatch.db'}"
    else:
        admin = ensure_postgres()
        template = f"riskwatch_tpl_{uuid.uuid4().hex[:10]}"
        url = create_pg(admin, template)
    assert invoke(project, "db", "upgrade", database_url=url).returncode == 0
    (project / "testdata").mkdir()
    shutil.copy(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    first = run_json(project, url)
    assert first["production_version"] == 1
    assert (project / "contract.toml").is_file()
    yield project, template
    if admin and template:
        drop_pg(admin, template)


@pytest.fixture
def trained(
    first_tick: tuple[Path, str | None], tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[Path, str]:
    """A copy of the first-tick project (its folder, and its database) for one test to change."""
    template_dir, template_db = first_tick
    project = tmp_path / "project"
    shutil.copytree(template_dir, project)
    if template_db is None:
        return project, f"sqlite:///{project / 'riskwatch.db'}"
    url = request.getfixturevalue("pg_database")
    create_pg(ensure_postgres(), url.rsplit("/", 1)[1], template=template_db)
    return project, url


def _hostile(inbox: Path, sample: Path) -> dict[str, bytes]:
    good = (sample / "sourcedata" / "clients_batch_02.csv").read_bytes()
    header, *lines = good.decode().splitlines()
    wide_header = header + "," + ",".join(f"x{i}" for i in range(10_000))
    wide_row = lines[0] + "," + ",".join("0" for _ in range(10_000))
    files = {
        "zero.csv": b"",
        "binary.csv": bytes(range(256)) * 100,
        "latin1.csv": (header + "\n" + lines[0].replace("C", "\xc7", 1) + "\n").encode("latin-1"),
        "semicolons.csv": "\n".join(x.replace(",", ";") for x in [header, *lines[:5]]).encode(),
        "one_line.csv": b"y" * 10_000_000,
        "wide.csv": f"{wide_header}\n{wide_row}\n".encode(),
    }
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    return files


def test_hostile_files_get_a_reason_and_the_run_survives(trained, sample: Path):
    project, url = trained
    files = _hostile(project / "sourcedata", sample)
    t = run_json(project, url)
    assert t["status"] == "succeeded"
    quality = {f["name"]: f for f in t["quality"]["files"]}
    assert set(quality) == set(files)
    reasons = {q["name"]: q["reason"] for q in t["quarantined"]}
    assert "empty" in reasons["zero.csv"]
    assert "binary" in reasons["binary.csv"]
    assert "not UTF-8" in reasons["latin1.csv"]
    assert "required column 'corporation' is missing" in reasons["semicolons.csv"]
    assert "header but no rows" in reasons["one_line.csv"]
    # The wide file has every contract column: its row is kept, the 10,000 extras reported.
    assert quality["wide.csv"]["errors_by_type"] == {"extra_column": 10_000}
    assert quality["wide.csv"]["rows_valid"] == 1
    for f in quality.values():  # nothing is lost
        assert f["rows_valid"] + f["rows_invalid"] == f["rows_read"]
    for name, data in files.items():  # the inbox is never changed
        assert (project / "sourcedata" / name).read_bytes() == data
    assert count(url, "quality_files", f"WHERE run_id = '{t['run_id']}'") == len(files)


def test_injected_errors_are_found_exactly_and_counted_in_sql(trained, sample: Path):
    project, url = trained
    out = project / "staging.csv"
    done = invoke(
        project,
        "corrupt",
        str(sample / "sourcedata" / "clients_batch_02.csv"),
        str(out),
        "--seed",
        "3",
        "--json",
        database_url=url,
    )
    assert done.returncode == 0, done.stderr
    injected = json.loads(done.stdout)["injected"]
    assert len(injected) >= 6
    drop(project, out, "corrupted.csv")
    source_sha = sha(project / "sourcedata" / "corrupted.csv")

    t = run_json(project, url)

    [f] = t["quality"]["files"]
    # More than quality.max_invalid_share (5%) of the rows bad is one more, derived, issue.
    lossy = f["rows_invalid"] / f["rows_read"] > 0.05
    expected = {**injected, "invalid_share": 1} if lossy else injected
    assert f["errors_by_type"] == dict(sorted(expected.items()))
    assert f["rows_read"] == f["rows_valid"] + f["rows_invalid"]
    assert t["quality"]["rows_quarantined"] == f["rows_invalid"] > 0
    assert sha(project / "sourcedata" / "corrupted.csv") == source_sha
    by_type = rows(
        url, "SELECT error_type, SUM(count) AS n FROM quality_issues GROUP BY error_type"
    )
    assert {r["error_type"]: r["n"] for r in by_type} == expected
    # A query by time, as a person would write one: every file checked since this run began
    # (the run's own start time, not the wall clock, so there is no window to miss).
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        since = conn.execute(
            sa.text("SELECT started_at FROM runs WHERE id = :run"), {"run": t["run_id"]}
        ).scalar()
        share = conn.execute(
            sa.text(
                "SELECT 1.0 * SUM(rows_invalid) / SUM(rows_read) FROM quality_files "
                "WHERE checked_at >= :since"
            ),
            {"since": since},
        ).scalar()
        checked = conn.execute(
            sa.text("SELECT count(*) FROM quality_files WHERE checked_at >= :since"),
            {"since": since},
        ).scalar()
    engine.dispose()
    assert checked == 1  # the first run's file was checked before this run began
    assert 0 < float(share) < 1
    quarantine = project / "ingesteddata" / "quarantine"
    assert list(quarantine.glob(f"{source_sha[:16]}-rows.parquet"))


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    hang: ClassVar[bool] = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.hang:
            time.sleep(30)
            return
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "hang": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/secret-token", handler
    server.shutdown()
    server.server_close()


def _missing_column_file(project: Path, sample: Path) -> None:
    text = (sample / "sourcedata" / "clients_batch_02.csv").read_text().splitlines()
    cut = text[0].split(",").index("region")
    keep = [",".join(c for i, c in enumerate(line.split(",")) if i != cut) for line in text]
    (project / "sourcedata" / "no_region.csv").write_text("\n".join(keep) + "\n")


def test_alert_reaches_the_webhook(trained, sample: Path, webhook):
    project, url = trained
    hook_url, handler = webhook
    _missing_column_file(project, sample)
    t = run_json(project, url, env={"RISKWATCH_WEBHOOK_URL": hook_url})
    assert t["files_quarantined"] == 1
    [msg] = handler.received
    assert msg["riskwatch"]["file"] == "no_region.csv"
    assert msg["riskwatch"]["criticality"] == "high"
    assert msg["riskwatch"]["errors_by_type"] == {"missing_column": 1}
    assert msg["riskwatch"]["run_id"] == t["run_id"]
    assert "no_region.csv" in msg["text"]
    [alert] = rows(url, "SELECT delivered, attempts, target FROM alerts")
    assert alert["delivered"] and alert["attempts"] == 1
    assert "secret-token" not in alert["target"]


def test_a_dead_webhook_never_stalls_the_run(trained, sample: Path, webhook):
    project, url = trained
    hook_url, handler = webhook
    handler.hang = True
    with (project / "riskwatch.toml").open("a") as fh:
        fh.write("\n[alerts]\ntimeout_seconds = 0.5\ndeadline_seconds = 2.0\n")
    _missing_column_file(project, sample)
    t0 = time.monotonic()
    t = run_json(project, url, env={"RISKWATCH_WEBHOOK_URL": hook_url})
    assert t["status"] == "succeeded"
    [alert] = rows(url, "SELECT delivered, error FROM alerts")
    assert not alert["delivered"] and alert["error"]
    assert time.monotonic() - t0 < 60  # bounds a hang; the deadline is 2 s


def test_ingest_on_its_own_cadence_then_the_run_processes_it(trained, sample: Path):
    project, url = trained
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    done = invoke(project, "ingest", "--json", database_url=url)
    assert done.returncode == 0, done.stderr
    ingested = json.loads(done.stdout)
    assert ingested["quality"]["rows_read"] == 500
    assert count(url, "ingested_files", "WHERE processed_run_id IS NULL") == 1
    assert invoke(project, "ingest", "--json", database_url=url).returncode == 0  # idempotent
    t = run_json(project, url)
    assert t["status"] == "succeeded" and t["new_files"] == 0
    assert t["score"]["n_rows"] == ingested["quality"]["rows_valid"]
    assert count(url, "ingested_files", "WHERE processed_run_id IS NULL") == 0


def test_contract_infer_and_check(trained, sample: Path):
    project, url = trained
    again = invoke(project, "contract", "infer", database_url=url)
    assert again.returncode == 1 and "--force" in again.stderr
    forced = invoke(project, "contract", "infer", "--force", database_url=url)
    assert forced.returncode == 0 and "contract version" in forced.stdout
    clean = invoke(
        project, "contract", "check", str(sample / "testdata" / "testdata.csv"), "--json"
    )
    report = json.loads(clean.stdout)
    assert report["files"][0]["rows_read"] == 200
    _missing_column_file(project, sample)
    bad = invoke(project, "contract", "check", str(project / "sourcedata" / "no_region.csv"))
    assert bad.returncode == 1 and "missing_column: 1" in bad.stdout
    assert count(url, "ingested_files") == 1  # checking ingests nothing


def _lossy_file(project: Path, sample: Path, every: int) -> int:
    """Batch 2 with text in `number_of_employees` on every `every`-th row; the rows spoiled."""
    lines = (sample / "sourcedata" / "clients_batch_02.csv").read_text().splitlines()
    cut = lines[0].split(",").index("number_of_employees")
    spoiled = 0
    for i in range(1, len(lines)):
        if i % every == 0:
            cells = lines[i].split(",")
            cells[cut] = "many"
            lines[i] = ",".join(cells)
            spoiled += 1
    (project / "sourcedata" / "lossy.csv").write_text("\n".join(lines) + "\n")
    return spoiled


def _pdf_first_page(path: str) -> str:
    import pypdf

    return pypdf.PdfReader(path).pages[0].extract_text()


def test_quarantined_rows_are_counted_everywhere_and_a_lossy_file_alerts(
    trained, sample: Path, webhook
):
    """Issue 9, point 2: loss is visible in rows, and a file losing too many rows alerts."""
    from app import create_app
    from pipeline.settings import load_settings

    project, url = trained
    hook_url, handler = webhook
    spoiled = _lossy_file(project, sample, every=5)  # 100 of 500 rows: 20% > 5%
    t = run_json(project, url, env={"RISKWATCH_WEBHOOK_URL": hook_url})

    assert (t["files_quarantined"], t["rows_quarantined"]) == (0, spoiled)
    assert t["rows_ingested"] == 500 - spoiled
    [f] = t["quality"]["files"]
    assert f["errors_by_type"] == {"wrong_type": spoiled, "invalid_share": 1}
    assert f["criticality"] == "high"  # wrong_type alone is medium: the share raised it
    [msg] = handler.received
    assert msg["riskwatch"]["criticality"] == "high"
    assert msg["riskwatch"]["rows_invalid"] == spoiled
    assert msg["riskwatch"]["errors_by_type"]["invalid_share"] == 1
    [issue] = rows(url, "SELECT message FROM quality_issues WHERE error_type = 'invalid_share'")
    assert f"{spoiled} of 500 rows (20.0%) quarantined" in issue["message"]

    status = json.loads(invoke(project, "status", "--json", database_url=url).stdout)
    per_file = {x["name"]: x["rows_quarantined"] for x in status["ingested_files"]}
    assert per_file["lossy.csv"] == spoiled
    assert status["rows_quarantined"] == sum(per_file.values()) == spoiled
    text = invoke(project, "status", database_url=url).stdout
    assert f"{500 - spoiled} rows, {spoiled} quarantined" in text
    assert f"quarantined rows: {spoiled} of " in text

    [newest, _] = json.loads(invoke(project, "runs", "--json", database_url=url).stdout)
    assert (newest["id"], newest["rows_quarantined"]) == (t["run_id"], spoiled)
    runs_text = invoke(project, "runs", database_url=url).stdout.splitlines()[0]
    assert f"quarantined: files=0 rows={spoiled}" in runs_text

    settings = load_settings(project / "riskwatch.toml", environ={"DATABASE_URL": url})
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    try:
        client = app.test_client()
        api_run = client.get("/runs").get_json()["runs"][0]
        page = client.get("/runs", headers={"Accept": "text/html"}).get_data(as_text=True)
    finally:
        app.extensions["riskwatch"].engine.dispose()
    assert (api_run["rows_quarantined"], api_run["files_quarantined"]) == (spoiled, 0)
    assert re.search(rf">{spoiled} of [0-9,]+ rows invalid \(", page), "the runs page's quality"

    first_page = _pdf_first_page(t["report"])
    assert re.search(rf"Rows quarantined\s*{spoiled}\b", first_page), first_page


def test_a_file_losing_few_rows_keeps_its_criticality(trained, sample: Path, webhook):
    project, url = trained
    hook_url, handler = webhook
    spoiled = _lossy_file(project, sample, every=50)  # 10 of 500 rows: 2% <= 5%
    done = invoke(project, "run", database_url=url, env={"RISKWATCH_WEBHOOK_URL": hook_url})
    assert done.returncode == 0, done.stderr
    assert "quarantined files: 0, quarantined rows: 10" in done.stdout
    assert spoiled == 10
    [f] = rows(
        url, "SELECT rows_invalid, criticality FROM quality_files WHERE file_name = 'lossy.csv'"
    )
    assert (f["rows_invalid"], f["criticality"]) == (10, "medium")
    assert count(url, "quality_issues", "WHERE error_type = 'invalid_share'") == 0
    assert handler.received == []
