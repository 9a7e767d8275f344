"""policy.trigger = "estimated": a clear drop of the metric estimated without labels, by the
metric trigger's rules (tolerance, the interval of the difference, policy.min_rows); an
unreliable estimate is no evidence. And the estimates' table: realised values filled beside
them, and the checks concept drift is judged on, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pipeline.model.metrics import Score
from pipeline.model.policy import Decision, estimated_decision, with_trigger
from pipeline.storage import estimates, tables

RULES = {"tolerance": 0.02, "require_interval": True, "min_rows": 30, "confidence": 0.95}


def _decide(value, low, high, *, reliable=True, why=None, n=1000, baseline=0.85, ci=None):
    return estimated_decision(
        Score("f1", value, low, high, n), reliable, why, baseline, baseline_ci=ci, **RULES
    )


def test_a_clear_estimated_drop_retrains() -> None:
    d = _decide(0.70, 0.68, 0.72)
    assert d.outcome
    assert d.reason.startswith("estimated model degraded, drop 0.1500 beyond tolerance 0.02")
    assert d.evidence["estimated"] is True and d.evidence["reliable"] is True


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"value": 0.84, "low": 0.80, "high": 0.88}, "estimated drop 0.0100 within tolerance"),
        ({"value": 0.80, "low": 0.70, "high": 0.90}, "within the noise of the 95% interval"),
        ({"value": 0.90, "low": 0.88, "high": 0.92}, "estimated no drop"),
        ({"value": 0.70, "low": 0.68, "high": 0.72, "n": 10}, "fewer than policy.min_rows=30"),
        ({"value": None, "low": None, "high": None, "why": "no calibration"}, "not estimated"),
    ],
)
def test_no_clear_estimated_drop_keeps_the_model(kw: dict, says: str) -> None:
    d = _decide(kw.pop("value"), kw.pop("low"), kw.pop("high"), **kw)
    assert not d.outcome
    assert says in d.reason


def test_the_interval_of_the_difference_counts_the_recorded_interval_too() -> None:
    # Without the recorded value's interval the drop is clear; with a wide one it is noise.
    assert _decide(0.80, 0.78, 0.82).outcome
    assert not _decide(0.80, 0.78, 0.82, ci=(0.75, 0.95)).outcome


def test_an_unreliable_estimate_never_retrains_and_says_why() -> None:
    why = "concept drift suspected: the estimates of 2 of the last 3 period(s) ..."
    d = _decide(0.70, 0.68, 0.72, reliable=False, why=why)
    assert not d.outcome
    assert d.reason.endswith(f"but the estimate is unreliable: {why}")


def test_the_estimated_trigger_takes_the_estimate_not_the_metric() -> None:
    metric = Decision(True, "metric says so")
    estimated = Decision(False, "estimated no drop: f1 0.85")
    d = with_trigger("estimated", metric, None, estimated)
    assert not d.outcome
    assert d.reason == "trigger estimated: estimated no drop: f1 0.85; metric: metric says so"
    assert with_trigger("estimated", Decision(False, "m"), None, Decision(True, "e")).outcome
    nothing = with_trigger("estimated", metric, None, None)
    assert not nothing.outcome and "not one estimated without labels" in nothing.reason
    # The other triggers ignore the estimate.
    assert with_trigger("metric", metric, None, estimated).outcome


# The table.

DAY = datetime(2026, 11, 2, tzinfo=UTC)


def _run(engine: sa.Engine, run_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(id=run_id, kind="run", started_at=DAY, status="succeeded")
        )


def _estimate(start: datetime | None, metric: str = "f1", value: float = 0.8, **kw) -> dict:
    return {
        "period": "day" if start else "run",
        "period_start": start,
        "model_version": 1,
        "metric": metric,
        "value": value,
        "ci_low": value - 0.05,
        "ci_high": value + 0.05,
        "n_rows": 500,
        "reliable": True,
        "reason": None,
        **kw,
    }


def test_realised_values_are_filled_beside_their_estimates(engine: sa.Engine) -> None:
    _run(engine, "a" * 32)
    days = [DAY + timedelta(days=i) for i in range(3)]
    rows = [_estimate(None)] + [_estimate(d) for d in days] + [_estimate(days[0], "accuracy")]
    estimates.record_estimates(engine, "a" * 32, rows)
    realised = [
        {
            "period": "day",
            "period_start": days[0],
            "model_version": 1,
            "metric": "f1",
            "value": 0.7,
        },
        {
            "period": "day",
            "period_start": days[1],
            "model_version": 1,
            "metric": "f1",
            "value": 0.81,
        },
        {
            "period": "day",
            "period_start": days[2],
            "model_version": 2,
            "metric": "f1",
            "value": 0.5,
        },
    ]
    assert estimates.fill_realised(engine, realised) == 2  # version 2 estimated nothing
    with engine.connect() as conn:
        got = {
            (r.metric, r.period_start): r
            for r in conn.execute(sa.select(estimates.performance_estimates))
        }
        checks = estimates.recent_checks(conn, 1, "day", 3, None)
        before = estimates.recent_checks(conn, 1, "day", 3, days[1])
    first = got[("f1", days[0])]
    assert first.realised_value == pytest.approx(0.7)
    assert first.estimation_error == pytest.approx(0.1)
    assert first.realised_at is not None
    assert got[("f1", days[1])].estimation_error == pytest.approx(-0.01)
    assert got[("f1", days[2])].realised_value is None
    assert got[("f1", None)].realised_value is None  # the run's estimate has no period
    assert got[("accuracy", days[0])].realised_value is None
    # Newest period first; only periods whose labels arrived; `before` excludes later ones.
    assert checks == {"f1": [pytest.approx((0.75, 0.85, 0.81)), pytest.approx((0.75, 0.85, 0.7))]}
    assert before == {"f1": [pytest.approx((0.75, 0.85, 0.7))]}
    # More labels came: the realised value is replaced.
    realised[0]["value"] = 0.78
    estimates.fill_realised(engine, realised[:1])
    with engine.connect() as conn:
        again = conn.execute(
            sa.select(estimates.performance_estimates.c.estimation_error).where(
                estimates.performance_estimates.c.period_start == days[0],
                estimates.performance_estimates.c.metric == "f1",
            )
        ).scalar()
    assert again == pytest.approx(0.02)


def test_the_chart_reads_the_newest_estimate_of_each_period(engine: sa.Engine) -> None:
    _run(engine, "a" * 32)
    _run(engine, "b" * 32)
    estimates.record_estimates(engine, "a" * 32, [_estimate(DAY, value=0.6)])
    estimates.record_estimates(engine, "b" * 32, [_estimate(DAY, value=0.7), _estimate(None)])
    with engine.connect() as conn:
        found = estimates.estimates_of(conn, 1, "day")
    assert [(r["run_id"], r["value"]) for r in found] == [("b" * 32, 0.7)]
