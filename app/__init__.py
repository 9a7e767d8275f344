"""riskwatch web app: the HTML index and the JSON API, built by `create_app()`.

Gunicorn serves `app:create_app()` (see the Procfile) with `app.gunicorn_conf`, whose hook
calls `warm_up` in each worker before its first request. Every route but /health, the OpenAPI
document, the static files and the sign-in takes a token, or a session cookie from /signin
(`app.auth`, `app.sessions`, `app.signin`, `app.limits`); no answer names a
server path (`app.redact`). Nothing happens at import: settings are read, and the database
engine made, when the factory is called.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from flask.json.provider import DefaultJSONProvider

from app.commits import Committer
from pipeline.errors import ModelIntegrityError, NoProductionModel, RiskwatchError
from pipeline.model import registry
from pipeline.settings import Settings, load_settings
from pipeline.storage import db, reads, tokens

WARM_UP = "riskwatch.warm_up"  # in the environ of warm_up's own request


@dataclass
class AppState:
    """What one app keeps between requests: its settings, its engine, the production model."""

    settings: Settings
    engine: sa.Engine
    schema_ok: bool = False
    model: registry.LoadedModel | None = None
    model_key: tuple[int, str] | None = None  # (version, sha256) of `model`
    # The features a record may leave out (app.prediction_writes.optional_for), of the model
    # of this (version, sha256): read from its contract once, not on every request.
    optional: tuple[tuple[int, str], frozenset[str]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # What this worker last saw of each client's usage counters (app.limits): (client, kind)
    # -> (window, used).
    usage_seen: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    # The tokens this worker found valid, by their secret's hash (app.token_cache).
    tokens_seen: dict[str, tokens.Token] = field(default_factory=dict)
    committer: Committer = field(init=False)  # group commit of the requests' writes

    def __post_init__(self) -> None:
        self.committer = Committer(self.engine)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:  # Flask's config: any values
    """Build the app; `test_config["RISKWATCH_SETTINGS"]` replaces the settings file."""
    app = Flask(__name__)
    if test_config:
        app.config.from_mapping(test_config)
    settings = app.config.get("RISKWATCH_SETTINGS")
    if settings is None:
        settings = load_settings()
    app.config["MAX_CONTENT_LENGTH"] = settings["api.max_request_bytes"]
    # Read by app.gunicorn_worker, which enforces it on the socket (a WSGI app cannot).
    app.config["RISKWATCH_BODY_TIMEOUT"] = settings["api.body_timeout_seconds"]
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False  # answers keep the order the code builds them in
    engine = db.make_engine(settings.database_url)
    app.extensions["riskwatch"] = AppState(settings, engine)

    from app import (
        api,
        auth,
        dashboard_params,
        dashboards,
        docs_pages,
        metrics,
        model_pages,
        monitoring,
        past_predictions,
        predict_page,
        query_params,
        redact,
        signin,
    )

    app.register_blueprint(api.bp)
    query_params.install(app)
    app.register_blueprint(monitoring.bp)
    app.register_blueprint(past_predictions.bp)
    app.register_blueprint(dashboards.bp)
    app.register_blueprint(model_pages.bp)
    dashboard_params.install(app)
    app.register_blueprint(signin.bp)
    app.register_blueprint(predict_page.bp)
    app.register_blueprint(docs_pages.bp)
    metrics.install(app)  # GET /metrics, and every request counted
    app.teardown_appcontext(close_connection)
    try:
        # ConfigError when a token is required and none exists, or in production without a
        # secret key for the sessions: no boot (and no connection left open).
        auth.install(app)
    except RiskwatchError:
        engine.dispose()
        raise
    redact.install(app, settings)
    return app


def warm_up(app: Flask) -> str:
    """Check the schema and load the production model (with pandas and scikit-learn) now, so
    that the first request pays for neither; say what was done. Never raises for a missing
    model or database: the app then answers 503, as it would have anyway."""
    done = _load_for(app)
    # One request through the app (a read): Flask's and werkzeug's first-request set-up too;
    # not counted in /metrics (no client asked for it).
    app.test_client().get("/health", environ_base={WARM_UP: True})
    return done


def _load_for(app: Flask) -> str:
    """Load the production model into the app's state and predict once with it, unrecorded."""
    with app.app_context():
        try:
            loaded = production_model()
        except (RiskwatchError, sa.exc.SQLAlchemyError, OSError) as exc:
            return f"production model not loaded ({type(exc).__name__}: {exc})"
        # One prediction, not recorded, on a made-up record: what /prediction runs the first
        # time only (its imports, pandas' and scikit-learn's first-call set-up) is done now.
        from pipeline.model import estimator
        from pipeline.model.features import records_frame

        spec = loaded.features
        record = {**dict.fromkeys(spec.numeric, 0.0), **dict.fromkeys(spec.categorical, "")}
        try:
            estimator.predict(loaded.model, spec, records_frame([record], spec, 1))
        except Exception as exc:  # a pipeline of the user's own may refuse made-up values
            return (
                f"production model v{loaded.version} loaded before the first request "
                f"(its trial prediction failed: {type(exc).__name__}: {exc})"
            )
        return f"production model v{loaded.version} loaded before the first request"


def state() -> AppState:
    return current_app.extensions["riskwatch"]


def get_connection() -> sa.Connection:
    """The request's database connection, opened on first use after the schema was checked."""
    if "db" not in g:
        st = state()
        if not st.schema_ok:
            # Checked once per app: a migrated database does not go back (DatabaseNotReady: 503).
            reads.check_database(st.engine)
            st.schema_ok = True
        g.db = st.engine.connect()
    return g.db


def close_connection(_exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def production_model() -> registry.LoadedModel:
    """The production model, loaded once per version and reloaded after a promotion.

    The pointer (production.json, or with registry.store = "database" the latest deployment)
    is read on every call, so a promotion or rollback made by a run is served by the next
    request without a restart. A version's recorded SHA-256 never changes once registered: it
    is asked for when the version is loaded, not on every request.
    """
    st = state()
    version = registry.production_version(st.settings, st.engine)
    if version is None:
        raise NoProductionModel("no model is deployed yet: run `riskwatch run` first")
    loaded = st.model
    if loaded is not None and loaded.version == version:
        return loaded
    sha = reads.model_sha256(get_connection(), version)
    if sha is None:
        raise ModelIntegrityError(
            f"production points at model version {version}, which the registry database does "
            "not hold"
        )
    key = (version, sha)
    with st.lock:
        if st.model is None or st.model_key != key:  # no model: no key either
            st.model = registry.load(st.engine, st.settings, version)
            st.model_key = (st.model.version, st.model.sha256)
        return st.model
