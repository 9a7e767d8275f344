"""Settings rows: who may call the API (tokens and roles) and how much (rate limits)."""

from __future__ import annotations

from pipeline.settings.setting import Setting

AUTH: tuple[Setting, ...] = (
    Setting(
        "auth.required",
        "auto",
        "choice",
        "Whether every API route but /health and /openapi.json needs a token: true, false, "
        'or "auto" (true when RISKWATCH_ENV=production or DYNO is set, as on Heroku). When '
        "true, the app refuses to start while its database, reachable and migrated, holds no "
        "unrevoked token (a database it cannot check: it starts, with a warning, and answers 503).",
        choices=("auto", "true", "false"),
    ),
    Setting(
        "auth.anonymous_role",
        "predict",
        "choice",
        "The role of a request without a token while auth is not required: read, or predict "
        "(read and POST /prediction). Admin always needs a token.",
        choices=("read", "predict"),
    ),
    Setting(
        "api.requests_per_minute",
        600,
        "int",
        "Most requests per minute per token (all anonymous clients share one count); over "
        "it: 429 with Retry-After. 0: no limit.",
        minimum=0,
    ),
    Setting(
        "api.predictions_per_day",
        100_000,
        "int",
        "Most predictions stored per token per UTC day (anonymous clients share one count); "
        "a request that would pass it is refused whole (429). 0: no limit.",
        minimum=0,
    ),
    Setting(
        "api.token",
        "",
        "secret",
        "The API token `riskwatch apicalls` sends (Authorization: Bearer); empty: none. "
        "Best set in the environment.",
        env="RISKWATCH_TOKEN",
    ),
)
