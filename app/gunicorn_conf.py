"""gunicorn settings of the web: line and `riskwatch serve` (`-c python:app.gunicorn_conf`).

The worker is gthread's, with total read deadlines and JSON error pages
(`app.gunicorn_worker.ThreadWorker`): a request waits for a thread, not for a whole process, and
a slow or lying client holds its thread only until its deadline. The Procfile's `--workers`
(`WEB_CONCURRENCY`) and `riskwatch serve --workers` say how many processes.

Each worker loads the production model before it takes its first request, so that request is as
quick as the next one (loading the model imports pandas and scikit-learn: about a second).
"""

from __future__ import annotations

from typing import Any

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
    """Warm the worker's app up once it is loaded, before it accepts a connection."""
    from app import warm_up

    worker.log.info("riskwatch (pid %s): %s", worker.pid, warm_up(worker.wsgi))
