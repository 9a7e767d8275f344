"""GET /metrics: the app's and the runs' numbers in the Prometheus text format (issue 13,
point 10), with prometheus_client.

Two kinds of numbers:

- Requests, counted by the worker that served them: `riskwatch_http_requests_total` and
  `riskwatch_http_request_duration_seconds`, by the route's rule (`/runs/<run_id>`, never the
  path asked for: ids do not make new series) or `unmatched`, the method and the status class;
  and the predictions POST /prediction stored, `riskwatch_predictions_total` by source and
  class. Under gunicorn every worker writes its counts into files in PROMETHEUS_MULTIPROC_DIR
  (set up by app.gunicorn_conf, which also drops a dead worker's live values), and a scrape,
  whichever worker takes it, adds them all up (prometheus_client's multiprocess mode). Without
  gunicorn (flask run, the tests) a plain registry of the process.
- What the database holds, read when scraped by the worker that answers, at most once per
  monitoring.metrics_cache_seconds (`pipeline.storage.gauges`: one row each, and the scheduled
  predictions per class from their health cells): the production version, the last run's
  status and age, the newest drifted share and invalid-row share, the estimated and realised
  metric.

Its role is read (app.roles): these are the numbers /scoring and /runs show, so a scraper
takes a read token (Prometheus: `authorization: {credentials_file: ...}` in its scrape config).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, g, request

from app import WARM_UP, get_connection, state
from pipeline.errors import RiskwatchError
from pipeline.model import registry
from pipeline.storage import gauges

bp = Blueprint("metrics", __name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
RUN_STATUSES = ("running", "succeeded", "noop", "failed")
_EXTENSION = "riskwatch.metrics"


@dataclass
class Requests:
    """The request counters of one app (written to PROMETHEUS_MULTIPROC_DIR when it is set)."""

    registry: Any  # prometheus_client.CollectorRegistry: the counters, when in one process
    total: Any
    seconds: Any
    predictions: Any
    cached: tuple[float, dict[str, Any]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def install(app: Flask) -> None:
    """Count and time every request of `app`; serve GET /metrics."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    multi = bool(os.environ.get(MULTIPROC_ENV))
    # In multiprocess mode the values live in the files; a scrape reads them all back.
    own = None if multi else CollectorRegistry()
    labels = ("endpoint", "method", "status")
    app.extensions[_EXTENSION] = Requests(
        own,
        Counter("riskwatch_http_requests", "HTTP requests served", labels, registry=own),
        Histogram(
            "riskwatch_http_request_duration_seconds",
            "Time to answer an HTTP request (the app's, without the network)",
            ("endpoint", "method"),
            registry=own,
        ),
        Counter(
            "riskwatch_predictions",
            "Predictions the app made and stored (POST /prediction), by source and class",
            ("source", "class"),
            registry=own,
        ),
    )
    # First of all hooks, so a request that another hook answers (a 401) is timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _started)
    app.after_request(_counted)
    app.register_blueprint(bp)


def _started() -> None:
    g.riskwatch_started = time.perf_counter()


def _counted(response: Response) -> Response:
    if request.environ.get(WARM_UP):
        return response
    counts: Requests = _requests()
    started = g.get("riskwatch_started")
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    method = request.method if request.method in _METHODS else "other"
    counts.total.labels(rule, method, f"{response.status_code // 100}xx").inc()
    if started is not None:
        counts.seconds.labels(rule, method).observe(time.perf_counter() - started)
    return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def count_predictions(source: str, predicted: Any) -> None:
    """Count the stored predictions of one request, by `source` and predicted class ("" for a
    regressor's numbers)."""
    from collections import Counter as Tally

    counter = _requests().predictions
    classify = state().settings["model.task"] == "classification"
    classes = Tally(str(p) if classify else "" for p in predicted)
    for label, n in classes.items():
        counter.labels(source, label).inc(n)


def _requests() -> Requests:
    from flask import current_app

    return current_app.extensions[_EXTENSION]


@bp.get("/metrics")
def metrics() -> Response:
    """The request counts of every worker and the database's gauges, as Prometheus text."""
    from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest

    counts = _requests()
    if counts.registry is None:
        from prometheus_client import multiprocess

        out = CollectorRegistry()
        multiprocess.MultiProcessCollector(out)
    else:
        out = counts.registry
    body = generate_latest(out) + generate_latest(_Gauges(_database_values(counts)))
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _database_values(counts: Requests) -> dict[str, Any]:
    """What the gauges show, from the database or from this worker's cache of it."""
    ttl = state().settings["monitoring.metrics_cache_seconds"]
    now = time.monotonic()
    with counts.lock:
        if counts.cached is not None and now - counts.cached[0] < ttl:
            return counts.cached[1]
    try:
        values = _read()
    except (RiskwatchError, sa.exc.SQLAlchemyError):
        values = {"database_up": 0}  # the request counts still answer
    with counts.lock:
        counts.cached = (now, values)
    return values


def _read() -> dict[str, Any]:
    st = state()
    conn = get_connection()
    metric = st.settings["model.metric"]
    version = registry.production_version(st.settings, st.engine)
    run = gauges.last_run(conn)
    values: dict[str, Any] = {
        "database_up": 1,
        "metric": metric,
        "production_version": version,
        "run": run,
        "drifted_share": gauges.drifted_share(conn),
        "invalid_share": gauges.invalid_share(conn),
        "scheduled": gauges.scheduled_by_class(conn),
        "estimated": None if version is None else gauges.estimated(conn, version, metric),
        "realised": None if version is None else gauges.realised(conn, version, metric),
    }
    if run is not None:
        at = run["finished_at"] or run["started_at"]
        values["run_age"] = gauges.age_seconds(at, datetime.now(UTC))
    return values


class _Gauges:
    """A one-scrape collector of the database's values (read before, in the request)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily as G

        v = self.values
        yield G("riskwatch_database_up", "1 when the database answered", value=v["database_up"])
        if not v["database_up"]:
            return
        yield from _single(
            "riskwatch_production_model_version",
            "Model version in production",
            v["production_version"],
        )
        status = G("riskwatch_last_run_status", "1 for the newest run's status", labels=["status"])
        run = v["run"]
        for name in RUN_STATUSES:
            status.add_metric([name], 1.0 if run is not None and run["status"] == name else 0.0)
        yield status
        yield from _single(
            "riskwatch_last_run_age_seconds",
            "Seconds since the newest run finished (or started, if running)",
            v.get("run_age"),
        )
        yield from _single(
            "riskwatch_drifted_share",
            "Share of drifted features in the newest drift check",
            v["drifted_share"],
        )
        yield from _single(
            "riskwatch_invalid_row_share",
            "Share of invalid rows in the newest checked file",
            v["invalid_share"],
        )
        for kind in ("estimated", "realised"):
            family = G(
                f"riskwatch_metric_{kind}",
                f"The production model's newest {kind} metric",
                labels=["metric"],
            )
            if v[kind] is not None:
                family.add_metric([v["metric"]], v[kind])
            yield family
        stored = G(
            "riskwatch_scheduled_predictions_stored",
            "Scheduled predictions stored (the runs'), by predicted class",
            labels=["class"],
        )
        for label, n in sorted(v["scheduled"].items()):
            stored.add_metric([label], n)
        yield stored


def _single(name: str, doc: str, value: float | None) -> Iterator[Any]:
    """A gauge family with its one value; no sample when there is none yet."""
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, doc)
    if value is not None:
        family.add_metric([], float(value))
    yield family
