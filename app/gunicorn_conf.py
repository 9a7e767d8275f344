"""gunicorn settings of the web: line and `riskwatch serve` (`-c python:app.gunicorn_conf`).

The worker is gthread's, with total read deadlines and JSON error pages
(`app.gunicorn_worker.ThreadWorker`): a request waits for a thread, not for a whole process, and
a slow or lying client holds its thread only until its deadline. The Procfile's `--workers`
(`WEB_CONCURRENCY`) and `riskwatch serve --workers` say how many processes.

Each worker loads the production model before it takes its first request, so that request is as
quick as the next one (loading the model imports pandas and scikit-learn: about a second).

GET /metrics adds up the request counts of every worker (app.metrics): prometheus_client's
multiprocess mode, whose workers write their values into files in PROMETHEUS_MULTIPROC_DIR.
The master sets that up as it starts, before any worker is forked (so not when this module is
imported: a process that only reads a setting here is left alone): a new private folder, unless
the variable names one already (its old files are removed then: counts start again with the
server, as Prometheus expects of a restarted target); a dead worker's live values (its gauges)
are dropped when it exits, its counts stay in the sums.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # app.metrics reads it; prometheus_client too
_made: list[str] = []  # the folder on_starting made, removed on_exit

worker_class = "app.gunicorn_worker.ThreadWorker"
# Requests one worker serves at once. Predictions are mostly pandas and scikit-learn under the
# GIL, so more threads add little speed; they are there so that clients waiting on the network
# (slow bodies, until their deadline) or on the database do not keep others waiting.
threads = 8
# gthread's main loop tells the master it is alive every second whatever its threads do, so
# this only ends a worker whose loop is stuck; kept at gunicorn's default.
timeout = 30
# Heroku sends SIGKILL 30 s after SIGTERM: requests in flight get 25 s to finish before that.
graceful_timeout = 25
# An idle kept-alive connection waits in the worker's poller, not in a thread; 5 s lets a
# client (or Heroku's router) reuse it for its next request.
keepalive = 5
# gunicorn's control socket (for `gunicornc`) is one fixed path in $HOME, which every server
# started by the same user would share (the tests start several at once); riskwatch has no use
# for it.
control_socket_disable = True


def post_worker_init(worker: Any) -> None:  # gunicorn's Worker: untyped
    """Warm the worker's app up once it is loaded, before it accepts a connection; then take
    what that loaded (modules, the app, the model) out of the garbage collector's rounds."""
    import gc

    from app import warm_up

    worker.log.info("riskwatch (pid %s): %s", worker.pid, warm_up(worker.wsgi))
    # Else a full collection walks all of it, now and then within a request: 150 to 270 ms of
    # a dashboard's answer on a loaded machine (bench/README.md). Frozen objects are still
    # freed by their reference counts; only a cycle among them stays (an old model's, say).
    gc.collect()
    gc.freeze()


def on_starting(server: Any) -> None:
    """Give the workers a metrics folder, empty: counts start with the server."""
    if not os.environ.get(MULTIPROC_ENV):
        _made.append(tempfile.mkdtemp(prefix="riskwatch-metrics-"))
        os.environ[MULTIPROC_ENV] = _made[-1]
    for old in Path(os.environ[MULTIPROC_ENV]).glob("*.db"):
        old.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live values of a worker that exited (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics folder this module made (not one the environment named)."""
    for made in _made:
        shutil.rmtree(made, ignore_errors=True)
