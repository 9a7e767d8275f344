"""The runs pages a browser gets at /runs and /runs/<id> (issue 13 point 4); JSON otherwise."""

from __future__ import annotations

import re
from html import unescape as html_unescape
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pipeline.report import evidence, verdict
from pipeline.settings import Settings
from tests.conftest import copy_project
from tests.run_page_data import BROWSER, add_drift_and_quality, add_runs, fake_id, real_run
from tests.test_api import make_app
from tests.test_auth import bearer, new_token

# Oldest first: fake_id(1) .. fake_id(8); the real run (built now) is the newest.
STATUSES = [
    ("noop", "run"),
    ("failed", "ingest"),
    ("noop", "run"),
    ("skipped", "predict"),
    ("succeeded", "score"),
    ("noop", "run"),
    ("failed", "run"),
    ("succeeded", "train"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    settings = copy_project(built_project, tmp_path_factory.mktemp("run-pages"))
    add_runs(settings, STATUSES)
    add_drift_and_quality(settings, fake_id(5))
    return settings.with_values(auth__required="true")


@pytest.fixture(scope="module")
def client(project: Settings) -> FlaskClient:
    token = new_token(project, "pages", "read")
    with make_app(project) as app:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = bearer(token)["Authorization"]
        yield client


def _page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url, headers=BROWSER)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    assert "Accept" in response.headers["Vary"]
    return response.get_data(as_text=True)


def _listed(html: str) -> list[str]:
    return re.findall(r'<td data-label="Run"><a class="mono" href="/runs/([0-9a-f]{32})"', html)


def test_the_list_hides_quiet_ticks_and_has_the_columns(
    client: FlaskClient, project: Settings
) -> None:
    run = real_run(project)
    html = _page(client, "/runs")
    assert _listed(html) == [run["id"], *(fake_id(n) for n in (8, 7, 5, 2))]
    for column in ("Score", "Decision", "Drift", "Quality"):
        assert f"<th>{column}</th>" in html
    assert "f1 0.733 [0.631, 0.827] (v1, test)" in html  # the production score on the test file
    assert "retrained, promoted" in html
    assert "0 of 300 rows invalid (0.0%)" in html
    assert f'href="/runs/{run["id"]}/report.pdf"' in html
    assert 'class="stack runs"' in html and 'data-label="Quality"' in html
    assert 'href="/runs"' in html and 'href="/models"' in html  # the nav links


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("quiet=show", [0, 8, 7, 6, 5, 4, 3, 2, 1]),
        ("status=noop", [6, 3, 1]),
        ("status=failed", [7, 2]),
        ("kind=run", [0, 7]),
        ("kind=run&quiet=show", [0, 7, 6, 3, 1]),
        ("status=skipped&kind=predict", [4]),
        ("status=succeeded&kind=rollback", []),
    ],
)
def test_filters(client: FlaskClient, project: Settings, query: str, expected: list[int]) -> None:
    real = real_run(project)["id"]
    html = _page(client, f"/runs?{query}")
    assert _listed(html) == [real if n == 0 else fake_id(n) for n in expected]
    if not expected:
        assert "No runs match." in html


def test_a_page_after_a_run_starts_below_it(client: FlaskClient) -> None:
    html = _page(client, "/runs?quiet=show&limit=20&after=" + fake_id(5))
    assert _listed(html) == [fake_id(n) for n in (4, 3, 2, 1)]
    assert 'rel="next"' not in html
    assert 'href="/runs?quiet=show&amp;limit=20">Newest runs' in html  # same filters


def _next(html: str) -> str:
    found = re.search(r'rel="next" href="([^"]+)"', html)
    assert found is not None, "no link to the next page"
    return found.group(1).replace("&amp;", "&")


def test_pages_follow_each_other_with_their_filters(built_project: Path, tmp_path: Path) -> None:
    settings = copy_project(built_project, tmp_path / "many")
    add_runs(settings, [("succeeded", "score")] * 45)
    token = new_token(settings, "pages", "read")
    with make_app(settings) as app:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = bearer(token)["Authorization"]
        html = _page(client, "/runs?kind=score&limit=20")
        assert _listed(html) == [fake_id(n) for n in range(45, 25, -1)]
        href = _next(html)
        assert "kind=score" in href and "limit=20" in href and f"after={fake_id(26)}" in href
        second = _page(client, href)
        assert _listed(second) == [fake_id(n) for n in range(25, 5, -1)]
        third = _page(client, _next(second))
        assert _listed(third) == [fake_id(n) for n in range(5, 0, -1)]
        assert 'rel="next"' not in third
        assert len(_listed(_page(client, "/runs"))) == 46  # the default page holds 50


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=bogus", "status"),
        ("kind=<script>", "kind"),
        ("quiet=yes", "quiet"),
        ("limit=7", "limit"),
        ("limit=abc", "limit"),
        ("after=nothex", "after"),
        ("after=" + "f" * 32, "after"),  # the form of an id, of no run
    ],
)
def test_a_bad_filter_is_a_400_page_naming_it(
    client: FlaskClient, query: str, parameter: str
) -> None:
    html = _page(client, f"/runs?{query}", 400)
    assert f"The parameter refused: <code>{parameter}</code>" in html
    assert f"&#39;{parameter}&#39; must be" in html
    assert "<script>" not in html


def test_the_run_page_says_everything_recorded(client: FlaskClient, project: Settings) -> None:
    run = real_run(project)
    html = _page(client, f"/runs/{run['id']}")
    sentence = re.search(r'<p class="verdict[^"]*" id="verdict">([^<]+)</p>', html)
    assert sentence is not None
    assert html_unescape(sentence.group(1)) == verdict.verdict(run["summary"], "run")
    assert sentence.group(1).startswith("First model trained and deployed as v1")
    # Decisions with evidence in words: no dict, no dotted key.
    assert "Promote: promote the challenger" in html
    assert (
        'Interval of the challenger&#39;s score</td><td data-label="Value">0.6663 to 0.9335' in html
    )
    assert "{" not in html.split('id="decisions"')[1].split('id="deployments"')[0]
    # Scores with intervals, the deployment, the quality page, the PDF.
    assert "0.631 to 0.827" in html
    assert '<td data-label="Kind">initial</td>' in html
    assert re.search(r'href="/quality/\d+\.html">quality report</a>', html)
    assert f'href="/runs/{run["id"]}/report.pdf">PDF report' in html
    assert "Drift was not computed in this run." in html  # the first run has no reference yet
    # Timings: the total is the sum of the seconds shown.
    steps = html.split('class="stack timings"')[1].split("<tfoot>")[0]
    cells = re.findall(r'<td data-label="Seconds" class="num">([0-9.]+)</td>', steps)
    total = re.search(r'id="steps-total">([0-9.]+)<', html)
    assert cells and total is not None
    assert len(cells) == 8 and round(sum(map(float, cells)), 2) == float(total.group(1))
    wall = re.search(r'Run, start to end</td>.*?class="num">([0-9.]+)<', html, re.S)
    outside = re.search(r'Outside any step</td>.*?class="num">([0-9.]+)<', html, re.S)
    assert wall is not None and outside is not None
    assert round(float(total.group(1)) + float(outside.group(1)), 2) == float(wall.group(1))


def test_drift_and_quality_in_the_list_and_on_the_run_page(client: FlaskClient) -> None:
    drift = "drifted: 1 of 2 tested features drifted (share 0.50): lastmonth_activity"
    listed = _page(client, "/runs")
    assert drift in listed and "50 of 50 rows invalid (100.0%), 1 file rejected" in listed
    html = _page(client, f"/runs/{fake_id(5)}")
    assert drift in html
    assert '<tr class="drifted">\n      <td data-label="Column">lastmonth_activity</td>' in html
    assert '<td data-label="Effect size" class="num">0.420</td>' in html
    assert '<td data-label="File">broken.csv</td>' in html
    assert '<td data-label="Criticality">critical</td>' in html
    assert '<td data-label="Rejected whole">yes</td>' in html


def test_the_run_page_of_a_failed_run(client: FlaskClient) -> None:
    html = _page(client, f"/runs/{fake_id(7)}")
    assert "Run failed: boom: the disk is full; the production model was not changed." in html
    assert "No decision was recorded." in html and "No step was recorded." in html


@pytest.mark.parametrize("run_id", ["feedface", "f" * 32, "F" * 32])
def test_an_unknown_run_is_a_404_page(client: FlaskClient, run_id: str) -> None:
    html = _page(client, f"/runs/{run_id}", 404)
    assert "no run with id" in html


def test_api_clients_get_the_json_as_before(client: FlaskClient, project: Settings) -> None:
    run = real_run(project)
    for accept in ("*/*", "application/json", None):
        headers = {"Accept": accept} if accept else {}
        listed = client.get("/runs?limit=3", headers=headers)
        assert listed.mimetype == "application/json" and "Accept" in listed.headers["Vary"]
        assert [r["id"] for r in listed.get_json()["runs"]] == [run["id"], fake_id(8), fake_id(7)]
        one = client.get(f"/runs/{run['id']}", headers=headers)
        assert one.get_json()["id"] == run["id"] and "decisions" in one.get_json()
        missing = client.get("/runs/" + "f" * 32, headers=headers)
        assert missing.status_code == 404 and missing.get_json()["ok"] is False
    assert client.get("/runs?status=bogus").status_code == 200  # the JSON takes no filter


def test_a_read_token_is_needed(project: Settings) -> None:
    new_token(project, "someone", "read")  # a token exists, so the app can require one
    with make_app(project) as app:
        answer = app.test_client().get("/runs", headers=BROWSER)  # a browser: sent to sign in
        assert answer.status_code == 303
        assert answer.headers["Location"].startswith("/signin?next=")


# --- the words -------------------------------------------------------------------------------


def test_evidence_reads_as_words_never_as_dicts() -> None:
    drift = {
        "status": "drifted",
        "dataset_drift": True,
        "drifted_share": 0.5,
        "features_tested": 4,
        "features_drifted": 2,
        "drifted_features": ["a", "b"],
    }
    items = dict(
        evidence.evidence_items(
            {
                "metric": "f1",
                "new_score": 0.7,
                "ci_low": 0.6,
                "ci_high": 0.8,
                "confidence": 0.95,
                "data_drift": drift,
                "estimate": {"estimated": 0.61, "reliable": False, "excluded": {}},
                "odd_key": [1, "x"],
            }
        )
    )
    assert items["Interval of the score on the new rows"] == "0.6000 to 0.8000"
    assert items["Confidence level"] == "95.0%"
    assert items["Data drift"] == "drifted: 2 of 4 tested features drifted (share 0.50): a, b"
    assert items["Estimate without labels: estimated score"] == "0.6100"
    assert items["Estimate without labels: estimate reliable"] == "no"
    assert items["Estimate without labels: excluded"] == "none"
    assert items["Odd key"] == "1, x"
    assert list(items)[:3] == [
        "Metric",
        "Score on the new labelled rows",
        "Interval of the score on the new rows",
    ]
    assert not any("{" in v or "." in k.split(" (")[0] for k, v in items.items())


def test_the_run_page_says_the_pdfs_verdict() -> None:
    """One source for the sentence: the page shows pipeline.report.verdict's (tested with
    every outcome in tests/test_report_verdict.py)."""
    from app.run_pages import run_verdict

    assert run_verdict({"status": "running", "kind": "run"}, None) == "Run still in progress."
    failed = {"status": "failed", "error": "disk full\nTraceback ...", "kind": "ingest"}
    assert run_verdict(failed, None) == (
        "The ingest run failed: disk full; the production model was not changed."
    )
