"""The API fuzzed from its own /openapi.json with schemathesis, on SQLite and on PostgreSQL.

Every operation gets generated requests, valid ones and invalid ones (bad types, missing and
extra fields, odd strings, wrong content types), on a trained project, so /prediction has a
model and the Record schema names its features. Every check schemathesis has must hold: no 5xx,
every answer matches its schema (the one error shape for errors), valid requests are accepted
and invalid ones refused, the pages' as the JSON API's (a page's 400 for what no schema can say
is allowed by its exact words only: `_MEANING`). Examples are bounded so that the suite stays
quick.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
import sqlalchemy as sa
from flask import Flask
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation

from pipeline.settings import Settings
from pipeline.storage import db, tables, tokens
from tests.run_page_data import add_drift_and_quality, add_version_two
from tests.test_api import make_app

# Per operation and generation mode (valid, invalid): about 20 s for both databases on 2 cores.
MAX_EXAMPLES = 25


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzz_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app as it runs on the internet: a token required on every route but the public
    ones, with an admin token for the fuzzer (schemathesis also calls without it, and checks
    the 401s); no rate limit, which would turn the fuzz run into 429s."""
    settings = request.getfixturevalue(f"{request.param}_project").with_values(
        auth__required="true", api__requests_per_minute=0, api__predictions_per_day=0
    )
    engine = db.make_engine(settings.database_url)
    _row, secret = tokens.create(engine, f"fuzz-{uuid.uuid4().hex[:8]}", "admin")
    engine.dispose()
    with make_app(settings) as app:
        app.config["FUZZ_HEADERS"] = {"Authorization": f"Bearer {secret}"}
        yield app


@pytest.fixture
def fuzz_headers(fuzz_app: Flask) -> dict[str, str]:
    """Headers every fuzzed request carries: the admin token."""
    headers: dict[str, str] = fuzz_app.config["FUZZ_HEADERS"]
    return headers


# schemathesis' WSGI transport reads a response without closing it: a served file's handle is
# then closed by the garbage collector (a ResourceWarning), which a real server never leaves.
UNCLOSED_BY_THE_TRANSPORT = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
)


def _breaks_headers(case: Any) -> bool:
    """Whether a case's headers were generated to break the document (they may leave out the
    required Authorization, or spoil it): those are sent as generated, and must get a 4xx
    (401 for the token). Every other case carries the fuzzer's token. (`_meta` is where
    schemathesis keeps how each part of a case was generated.)"""
    meta = case._meta
    header = None if meta is None else meta.components.get(ParameterLocation.HEADER)
    return header is not None and header.mode is GenerationMode.NEGATIVE


# What no schema of a request can say, by operation: the refusals (a 400 page) it may answer a
# schema-valid request with. A dashboard's custom range needs `from`, and `to` after it (two
# parameters compared; each one's own schema holds any value the page takes); the sign-in form
# needs the CSRF token of the session, a secret no document can hold. Any other refusal of a
# valid request still fails, and every other check holds for these operations too.
_RANGE_MEANING = ("a custom range needs parameter 'from'", "parameter 'to' must be after 'from'")
_MEANING: dict[str, tuple[str, ...]] = {
    **{f"GET {path}": _RANGE_MEANING for path in ("/", "/quality", "/drift", "/drift/{feature}")},
    "POST /signin": ("the form had no valid CSRF token",),
}


def _accepted_or_refused_for_meaning(ctx: Any, response: Any, case: Any) -> bool | None:
    """positive_data_acceptance, but for a 400 page giving one of its operation's _MEANING."""
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    said = html.unescape(response.text or "")
    reasons = _MEANING.get(case.operation.label, ())
    if response.status_code == 400 and any(reason in said for reason in reasons):
        return None
    return positive_data_acceptance(ctx, response, case)


def _checks(operation: Any) -> dict[str, list[Any]]:
    """The checks of `operation`'s cases: all of schemathesis', but for _MEANING's operations
    positive_data_acceptance as `_accepted_or_refused_for_meaning` asks it."""
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    if operation.label not in _MEANING:
        return {}
    return {
        "excluded_checks": [positive_data_acceptance],
        "additional_checks": [_accepted_or_refused_for_meaning],
    }


# schemathesis' own pytest integration (`from_fixture(...).parametrize()`) reads a private
# attribute that pytest 9 no longer has; the operations are run here through hypothesis instead,
# with the strategies schemathesis makes and all of its checks.
@pytest.mark.parametrize("mode", list(GenerationMode))
@UNCLOSED_BY_THE_TRANSPORT
def test_the_api_holds_against_its_own_openapi_document(
    fuzz_app: Flask, fuzz_headers: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12, "every route of the app is in the document"
    failures = []
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,  # the same examples on every run: a failure is reproducible
            suppress_health_check=list(hypothesis.HealthCheck),
            database=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking
        )
        def fuzz(case: Any) -> None:
            headers = {} if _breaks_headers(case) else fuzz_headers
            # (called at once, in this iteration: the loop variable is the one meant)
            case.call_and_validate(headers=headers, **_checks(operation))  # noqa: B023

        try:
            fuzz()
        except hypothesis.errors.Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no parameter or body a request could break
        # Every operation's failure is reported, not just the first: schemathesis' FailureGroup
        # is a BaseExceptionGroup, not an Exception.
        except (Exception, FailureGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def _give_every_page_a_record(settings: Settings, run_id: str) -> None:
    """What a first run leaves out, added after the fuzzing (which may roll production back):
    drift measured in the run (a feature's drift page has a record) and a version 2 in
    production (the rollback page has a version to go back to)."""
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            mv = tables.model_versions
            if conn.execute(sa.select(mv.c.version).where(mv.c.version == 2)).first():
                return
    finally:
        engine.dispose()
    add_drift_and_quality(settings, run_id)
    add_version_two(settings)


@UNCLOSED_BY_THE_TRANSPORT
def test_answers_about_real_records_match_the_document(
    fuzz_app: Flask, fuzz_headers: dict[str, str]
) -> None:
    """Generated ids name nothing (404s); these name the project's real run, report and file,
    so the 200 answers of every GET are checked against their schemas too."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    settings = fuzz_app.extensions["riskwatch"].settings
    engine = fuzz_app.extensions["riskwatch"].engine
    with engine.connect() as conn:
        run_id = conn.execute(sa.select(tables.runs.c.id)).scalar_one()
        q = tables.quality_files
        file_id = conn.execute(
            sa.select(q.c.id).where(q.c.report_path.is_not(None)).order_by(q.c.id)
        ).scalar()
    assert file_id is not None, "the sample run checked its files"
    _give_every_page_a_record(settings, run_id)
    params = {
        "run_id": run_id,
        "file_id": file_id,
        "filename": "style.css",
        "feature": "lastmonth_activity",
        "version": 1,
    }
    checked = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET":
            continue
        names = {p.name for p in operation.path_parameters}
        queries = {
            "/summarystats": [{"dataset": d} for d in ("training", "latest", "test")],
            "/models/compare": [{"a": 1, "b": 2}],
            "/models/rollback": [{"to": 1}],
        }.get(operation.path, [{}])
        for query in queries:
            case = operation.Case(
                path_parameters={n: params[n] for n in names}, query=query or None
            )
            response = case.call_and_validate(headers=fuzz_headers)
            assert response.status_code == 200, (operation.label, response.text[:300])
            checked.add(operation.path)
    assert len(checked) >= 13 and {"/drift/{feature}", "/models/rollback"} <= checked
