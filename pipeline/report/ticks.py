"""Axis ticks at round numbers and their labels, for the PDF's charts and the run page's (pure:
no reportlab here, so `chart_data` computes a chart's axis without drawing it)."""

from __future__ import annotations

import math

LIMIT = 1e300  # the largest magnitude an axis reaches


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Ticks at round steps (1, 2, 2.5 or 5 times a power of ten), the first <= `low`, the
    last >= `high`."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    # Far from zero the arithmetic below overflows: such bounds are drawn at +-1e300.
    low, high = max(-LIMIT, min(low, LIMIT)), max(-LIMIT, min(high, LIMIT))
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:  # counts: no tick between two whole numbers
        step = max(1.0, math.ceil(step))
    first = math.floor(low / step + 1e-9) * step
    ticks = [round(first, 12)]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(first + len(ticks) * step, 12))
    return ticks


def tick_text(value: float) -> str:
    """A tick's label: a whole number with thousands separators, else up to three decimals;
    from 10**15 on (a loss of a hostile label, say), in powers of ten (`1.5e+20`)."""
    if not math.isfinite(value) or abs(value) >= 1e15:
        return f"{value:.3g}"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")
