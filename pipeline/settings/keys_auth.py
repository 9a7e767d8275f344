"""Settings rows: who may call the API (tokens and roles) and how much (rate limits), and the
pages' sign-in (the session cookie, its key and lifetime, the proxies trusted, passwords)."""

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
    Setting(
        "auth.secret_key",
        "",
        "secret",
        "The key that signs the pages' session cookies (at least 32 characters, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`); the same for every "
        "worker and dyno. Empty: in production (RISKWATCH_ENV=production or DYNO set) the app "
        "refuses to start; elsewhere each process makes a random one (sessions then last "
        "until it restarts, and work with one worker only).",
        env="RISKWATCH_SECRET_KEY",
    ),
    Setting(
        "auth.session_minutes",
        720,
        "int",
        "How long a sign-in to the pages lasts, from the moment of signing in (not renewed "
        "by use); after it the browser is sent to /signin again.",
        minimum=1,
        maximum=525_600,
    ),
    Setting(
        "auth.trusted_proxies",
        0,
        "int",
        "How many proxies in front of the app to believe about the client's address and "
        "scheme (X-Forwarded-For, X-Forwarded-Proto): 0 trusts none (the app is reached "
        "directly); 1 on Heroku, whose router sets them. Decides when the session cookie is "
        "Secure (HTTPS) and which client a sign-in attempt counts against.",
        minimum=0,
        maximum=10,
    ),
    Setting(
        "auth.signin_per_minute",
        10,
        "int",
        "Most sign-in attempts per minute per client address (counted in the database, for "
        "every worker); over it: 429 with Retry-After. 0: no limit.",
        minimum=0,
    ),
    Setting(
        "auth.password_min_length",
        12,
        "int",
        "The fewest characters a password of `riskwatch user add` may have.",
        minimum=8,
        maximum=1024,
    ),
)
