"""When an estimate must not be trusted, and why. Pure: numbers in, a verdict with reasons out.

An estimate is unreliable when

- the model is poorly calibrated on its holdout: its calibrated probabilities' ECE (out of fold)
  is above `max_calibration_error`; the expected confusion matrix is then off by about as much;
- its period has fewer rows than `min_rows`: the interval is honest but too wide to say much,
  and the calibration's own error is no longer small beside it;
- its interval is wider than `max_width` (a metric between 0 and 1): whatever made it so (few
  rows, a calibration fitted on a holdout too small to pin it), a value anywhere in it is as
  likely, and the estimate cannot tell a drop from none;
- the estimates of recent periods whose labels arrived missed the realised values. Estimation
  cannot see concept drift (P(label | features) changing): the probabilities stay as confident
  as before while the labels stop following them. The only evidence is after the fact, so the
  last `check_periods` periods with realised values are counted: a miss is a realised value
  outside its estimate's interval. At the intervals' own level a miss has probability
  1 - confidence; when misses as many as those seen are that improbable or more (binomial tail
  <= 1 - confidence: at 95%, 1 miss of 1 period, 2 of up to 7), the relation has changed and
  the estimates that follow are not to be relied on until the realised values agree again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb


@dataclass(frozen=True)
class Check:
    """A past estimate of a period whose labels arrived: its interval and the realised value."""

    ci_low: float | None
    ci_high: float | None
    realised: float | None

    @property
    def known(self) -> bool:
        return None not in (self.ci_low, self.ci_high, self.realised)

    @property
    def missed(self) -> bool:
        assert self.ci_low is not None and self.ci_high is not None and self.realised is not None
        return not self.ci_low <= self.realised <= self.ci_high


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def missed_recently(
    checks: Sequence[Check], *, check_periods: int, confidence: float
) -> tuple[int, int] | None:
    """(misses, periods) among the newest `check_periods` known checks (newest first) when
    that many misses are improbable at the intervals' level; None when they are not."""
    known = [c for c in checks if c.known][:check_periods]
    misses = sum(c.missed for c in known)
    if misses and binomial_tail(misses, len(known), 1 - confidence) <= 1 - confidence + 1e-12:
        return misses, len(known)
    return None


def judge(
    *,
    n_rows: int,
    ece: float,
    checks: Sequence[Check] = (),
    max_calibration_error: float,
    min_rows: int,
    check_periods: int,
    confidence: float,
    interval: bool = True,
    ci: tuple[float | None, float | None] = (None, None),
    max_width: float | None = None,
) -> tuple[bool, str | None]:
    """(reliable, the reasons it is not, joined by '; ' or None). `ci`: the interval, judged
    against `max_width` when both are given."""
    reasons = []
    if ece > max_calibration_error:
        reasons.append(
            f"the model is poorly calibrated on its holdout: ECE {ece:.3f} above "
            f"monitoring.max_calibration_error={max_calibration_error:g}"
        )
    if n_rows < min_rows:
        reasons.append(f"only {n_rows} rows, fewer than monitoring.min_period_rows={min_rows}")
    if not interval:
        reasons.append("no interval could be computed on these rows")
    low, high = ci
    if max_width is not None and low is not None and high is not None and high - low > max_width:
        reasons.append(
            f"its {confidence:.0%} interval [{low:.3f}, {high:.3f}] is wider than "
            f"monitoring.max_interval_width={max_width:g}"
        )
    missed = missed_recently(checks, check_periods=check_periods, confidence=confidence)
    if missed is not None:
        misses, periods = missed
        reasons.append(
            f"concept drift suspected: the estimates of {misses} of the last {periods} "
            f"period(s) whose labels arrived missed the realised value (outside their "
            f"{confidence:.0%} intervals)"
        )
    return not reasons, "; ".join(reasons) or None
