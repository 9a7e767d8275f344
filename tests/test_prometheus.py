"""GET /metrics (issue 13, point 10): the Prometheus text format, parsed with prometheus_client's
own parser; requests by route rule and status class; the database's gauges, cached; and under
gunicorn with two workers, the counts of both added up."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from pipeline.settings import Settings
from pipeline.storage import db, writes
from tests.conftest import copy_project
from tests.test_api import empty_project, make_app
from tests.test_auth import new_token
from tests.test_procfile import _opener, serving
from tests.test_signin import csrf_of, sign_in

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, sorted labels) -> value, read by prometheus_client."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return out


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return parse(response.get_data(as_text=True))


def requests_of(samples: Samples, endpoint: str, status: str, method: str = "GET") -> float:
    key = (("endpoint", endpoint), ("method", method), ("status", status))
    return samples.get(("riskwatch_http_requests_total", key), 0.0)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    return copy_project(built_project, tmp_path_factory.mktemp("metrics"))


@pytest.fixture
def client(project: Settings) -> Iterator[FlaskClient]:
    with make_app(project) as app:
        yield app.test_client()


def test_requests_are_counted_by_rule_and_status_class(client: FlaskClient) -> None:
    for _ in range(3):
        assert client.get("/runs").status_code == 200
    for run_id in ("a" * 32, "b" * 32):  # two ids, one series: the rule, not the path
        assert client.get(f"/runs/{run_id}").status_code == 404
    assert client.get("/no/such/route").status_code == 404
    assert client.post("/prediction", data="nope", content_type="text/plain").status_code == 415
    samples = scrape(client)
    assert requests_of(samples, "/runs", "2xx") == 3
    assert requests_of(samples, "/runs/<run_id>", "4xx") == 2
    assert requests_of(samples, "unmatched", "4xx") == 1
    assert requests_of(samples, "/prediction", "4xx", "POST") == 1
    assert not any("aaaa" in str(labels) for _, labels in samples)
    duration = "riskwatch_http_request_duration_seconds_count"
    assert samples[duration, (("endpoint", "/runs"), ("method", "GET"))] == 3
    # The scrape itself is counted once it is answered: the next scrape shows it.
    assert requests_of(scrape(client), "/metrics", "2xx") == 1


def test_the_database_gauges(client: FlaskClient, project: Settings) -> None:
    samples = scrape(client)
    assert samples["riskwatch_database_up", ()] == 1
    assert samples["riskwatch_production_model_version", ()] == 1
    status = {s: samples["riskwatch_last_run_status", (("status", s),)] for s in ("succeeded",
              "failed", "noop", "running")}  # fmt: skip
    assert status == {"succeeded": 1, "failed": 0, "noop": 0, "running": 0}
    assert samples["riskwatch_last_run_age_seconds", ()] >= 0
    assert samples["riskwatch_invalid_row_share", ()] == 0.0  # the sample batch is clean
    stored = {
        dict(labels)["class"]: value
        for (name, labels), value in samples.items()
        if name == "riskwatch_scheduled_predictions_stored"
    }
    engine = db.make_engine(project.database_url)
    try:
        with engine.connect() as conn:
            counted = dict(
                conn.exec_driver_sql(
                    "SELECT label, count(*) FROM predictions WHERE source = 'scheduled' "
                    "GROUP BY label"
                ).all()
            )
    finally:
        engine.dispose()
    assert stored == counted and sum(counted.values()) > 0


def test_the_predictions_the_app_makes_are_counted_by_source_and_class(
    client: FlaskClient, project: Settings
) -> None:
    from tests.test_api import RECORD

    def counted(samples: Samples) -> dict[tuple[str, str], float]:
        return {
            (dict(labels)["source"], dict(labels)["class"]): value
            for (name, labels), value in samples.items()
            if name == "riskwatch_predictions_total"
        }

    answers = []
    # A browser signed in at /signin is the webapp; the API client, api.
    browser = client.application.test_client()
    secret = new_token(project, "metrics-webapp", "predict")
    assert sign_in(browser, token=secret).status_code == 303
    signed = {"X-CSRF-Token": csrf_of(browser)}
    for source, sender, headers, n in (("api", client, {}, 3), ("webapp", browser, signed, 2)):
        response = sender.post("/prediction", json=[RECORD] * n, headers=headers)
        assert response.status_code == 200
        answers.append((source, response.get_json()["predictions"]))
    refused = client.post("/prediction", json=[{"industry": "finance"}])  # stores nothing
    assert refused.status_code == 400
    expected: dict[tuple[str, str], float] = {}
    for source, predicted in answers:
        for label in predicted:
            expected[source, str(label)] = expected.get((source, str(label)), 0) + 1
    assert counted(scrape(client)) == expected


def test_the_gauges_are_read_at_most_once_per_cache_period(tmp_path: Path) -> None:
    settings = empty_project(tmp_path, migrate=True)
    engine = db.make_engine(settings.database_url)
    cached = settings.with_values(monitoring__metrics_cache_seconds=3600.0)
    running = {"running": 1.0}
    try:
        for ttl, after in ((cached, {"running": 0.0}), (settings.with_values(
                monitoring__metrics_cache_seconds=0.0), running)):  # fmt: skip
            with make_app(ttl) as app:
                client = app.test_client()
                before = scrape(client)
                assert before["riskwatch_last_run_status", (("status", "running"),)] == 0
                assert ("riskwatch_production_model_version", ()) not in before  # no model
                run_id = writes.start_run(engine, "run")
                got = scrape(client)["riskwatch_last_run_status", (("status", "running"),)]
                assert {"running": got} == after
                writes.finish_run(engine, run_id, status="failed", error="x", summary={}, log="")
    finally:
        engine.dispose()


def test_a_database_that_is_not_ready_still_answers_the_request_counts(tmp_path: Path) -> None:
    settings = empty_project(tmp_path, migrate=False)
    with make_app(settings) as app:
        client = app.test_client()
        client.get("/runs")
        samples = scrape(client)
    assert samples["riskwatch_database_up", ()] == 0
    assert requests_of(samples, "/runs", "5xx") == 1
    assert ("riskwatch_production_model_version", ()) not in samples


def _per_worker(folder: Path, endpoint: str) -> dict[int, float]:
    """pid -> the /health requests that worker counted, from its own file of the folder."""
    out: dict[int, float] = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)  # prometheus_client's mmap_key
            if name.endswith("_total") and labels.get("endpoint") == endpoint:
                out[pid] = out.get(pid, 0.0) + value
    return out


@pytest.mark.slow
def test_two_gunicorn_workers_are_added_up(project: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"")  # an earlier server's file: removed at start
    env = {"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with serving(project, tmp_path, env) as (port, _server, _log):
        base = f"http://127.0.0.1:{port}"

        def get(path: str) -> bytes:
            # A new connection each time (urllib closes it): the kernel hands connections to
            # either worker, so both serve some of them.
            with _opener.open(urllib.request.Request(base + path), timeout=10) as answer:
                return answer.read()

        def health_total() -> float:
            return requests_of(parse(get("/metrics").decode()), "/health", "2xx")

        before = health_total()
        sent = 0
        # Eight at a time: a worker busy with some leaves the next connections to the other.
        with ThreadPoolExecutor(8) as pool:
            while len([n for n in _per_worker(folder, "/health").values() if n]) < 2:
                assert sent < 2000, "one worker served every request"
                list(pool.map(get, ["/health"] * 40))
                sent += 40
        # Warm-up requests are not counted: each worker's own count is only what it served.
        assert health_total() == before + sent
        per_worker = _per_worker(folder, "/health")
        assert len(per_worker) == 2 and all(per_worker.values())
        assert sum(per_worker.values()) == before + sent
        assert not (folder / "counter_1.db").exists()
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") is None  # the tests' own process: untouched
