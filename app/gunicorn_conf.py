"""gunicorn settings of the web: line and `riskwatch serve` (`-c python:app.gunicorn_conf`).

Each worker loads the production model before it takes its first request, so that request is as
quick as the next one (loading the model imports pandas and scikit-learn: about a second).
"""

from __future__ import annotations

from typing import Any


def post_worker_init(worker: Any) -> None:  # gunicorn's Worker: untyped
    """Warm the worker's app up once it is loaded, before it accepts a connection."""
    from app import warm_up

    worker.log.info("riskwatch (pid %s): %s", worker.pid, warm_up(worker.wsgi))
