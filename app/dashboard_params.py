"""The dashboards' query parameters (issue 13): the time range every chart shows, `range` (day,
week, month, custom) with `from` and `to` for a custom one, kept in every link so that a link
shows what its page showed; and the 400 page that names a bad parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask, render_template, request
from markupsafe import Markup, escape

from app.charts import WORST as LEVELS
from pipeline.errors import RiskwatchError
from pipeline.infra.times import shifted
from pipeline.predictions import BadParameter, parse_time

RANGES = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
CUSTOM = "custom"


class BadPageParameter(RiskwatchError):
    """A page's query parameter is wrong: a 400 page that names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class TimeRange:
    """[start, end) in UTC, how it was asked for, and the query arguments that ask it again."""

    name: str  # day, week, month, custom
    start: datetime
    end: datetime
    args: dict[str, str]

    @property
    def words(self) -> str:
        if self.name == CUSTOM:
            return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"
        return f"the last {self.name} (to {self.end:%Y-%m-%d %H:%M} UTC)"

    @property
    def from_value(self) -> str:
        return self.args.get("from", f"{self.start:%Y-%m-%d}")

    @property
    def to_value(self) -> str:
        return self.args.get("to", f"{self.end:%Y-%m-%d}")


def _time(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        when = parse_time(name, raw)
    except BadParameter as exc:
        raise BadPageParameter(name, str(exc)) from exc
    if name == "to" and len(raw) == 10:  # a date: that whole day
        when = shifted(when, timedelta(days=1))
    return when


def time_range(default: str, now: datetime | None = None) -> TimeRange:
    """The time range of the request's `range`, `from` and `to` (`default` without any)."""
    now = now or datetime.now(UTC)
    start, end = _time("from"), _time("to")
    name = request.args.get("range") or (CUSTOM if start or end else default)
    if name not in (*RANGES, CUSTOM):
        raise BadPageParameter(
            "range",
            f"parameter 'range' must be one of {', '.join((*RANGES, CUSTOM))}, got {name[:40]!r}",
        )
    if name != CUSTOM:
        return TimeRange(name, now - RANGES[name], now, {"range": name})
    if start is None:
        raise BadPageParameter("from", "a custom range needs parameter 'from' (a date or time)")
    end = end or now
    if end <= start:
        raise BadPageParameter("to", "parameter 'to' must be after 'from'")
    args = {"range": CUSTOM, "from": request.args["from"]}
    if request.args.get("to"):
        args["to"] = request.args["to"]
    return TimeRange(CUSTOM, start, end, args)


def choice(name: str, choices: tuple[str, ...]) -> str | None:
    """An optional parameter that must be one of `choices` (empty: not given)."""
    raw = request.args.get(name) or None
    if raw is not None and raw not in choices:
        raise BadPageParameter(
            name, f"parameter '{name}' must be one of {', '.join(choices)}, got {raw[:40]!r}"
        )
    return raw


def fmt_num(value: float | None, digits: int = 3) -> str:
    """A number as the tables show it: fixed digits, a dash for none."""
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_level(level: str) -> Markup:
    """A level's badge (filters, not macros: a page of 200 rows calls them a thousand times)."""
    name = level if level in LEVELS else str(escape(level))
    return Markup(f'<span class="level level-{name}">{name}</span>')


def install(app: Flask) -> None:
    """Answer a bad page parameter with an HTML 400 page naming it; the pages' filters."""
    app.jinja_env.filters["num"] = fmt_num
    app.jinja_env.filters["level"] = fmt_level

    @app.errorhandler(BadPageParameter)
    def _bad(exc: BadPageParameter) -> tuple[str, int]:
        page = render_template("dashboard/bad_request.html", problem=exc, parameter=exc.parameter)
        return page, 400
