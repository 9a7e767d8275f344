"""The self-test: what the current thresholds give on data drawn from the reference profile.

It estimates the false-alarm rate (batches drawn from the profile itself) and the power against
known shifts, at a batch size, through the same comparison and decision as `decision.detect`.
Pure computation on numpy; the random draws are seeded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pipeline.drift.column_profile import ColumnProfile, NumericProfile
from pipeline.drift.compare import ColumnResult, compare_categorical, compare_numeric
from pipeline.drift.decision import apply_rule
from pipeline.drift.profile import ReferenceProfile, check_fitted
from pipeline.drift.thresholds import DriftThresholds

# Told (runs done, runs, phase) as the self-test goes: the CLI draws it as progress.
Progress = Callable[[int, int, str], None]


def selftest(
    profile: ReferenceProfile,
    batch_size: int,
    *,
    runs: int = 100,
    seed: int = 0,
    thresholds: DriftThresholds | None = None,
    weights: Mapping[str, float] | None = None,
    mean_shift: float = 0.5,
    scale_change: float = 1.5,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Estimate the current settings' false-alarm rate and power at a batch size.

    Each run draws a batch of `batch_size` rows from the profile (numeric columns through its
    quantile function, categorical ones as a multinomial draw of the reference shares, missing
    values at the reference's share), columns independently: that is the null. Then, one column
    at a time with the others still null, it injects a known shift: numeric mean + `mean_shift`
    reference stds, numeric scale x `scale_change` about the mean, categorical swap of the two
    most frequent categories' shares. Every batch goes through the same comparison and decision
    as `detect`. A batch drawn from the reference itself is slightly closer to it than fresh
    data would be; when the batch is more than a few per cent of the reference, the false-alarm
    rate is an underestimate (``notes`` says so). ``progress``, if given, is called with
    (runs done, runs, phase) as the batches are drawn, then as they are decided.
    """
    check_fitted(profile)
    th = thresholds or DriftThresholds()
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be an integer >= 1, got {runs!r}")
    rng = np.random.default_rng(seed)
    sim = _simulate(profile, batch_size, runs, rng, th, mean_shift, scale_change, progress)
    min_effect = np.array([th.min_effect(k) for k in sim.kinds])
    weight = np.array([1.0 if weights is None else float(weights.get(c, 0.0)) for c in sim.names])

    def decide_row(row: Sequence[ColumnResult]) -> tuple[np.ndarray, bool]:
        return _decide_row(row, min_effect, weight, th)

    null_flags = np.zeros((runs, len(sim.names)), dtype=bool)
    dataset_alarms = 0
    power_hits = np.zeros(len(sim.shifts))
    for r in range(runs):
        null_flags[r], dataset = decide_row(sim.null[r])
        dataset_alarms += dataset
        for si, (ci, _) in enumerate(sim.shifts):
            row = list(sim.null[r])
            row[ci] = sim.shifted[r, si]
            power_hits[si] += decide_row(row)[0][ci]
        if progress is not None:
            progress(r + 1, runs, "deciding")
    return {
        "batch_size": batch_size,
        "runs": runs,
        "seed": seed,
        "thresholds": asdict(th),
        "shifts": {
            "mean_shift_std": mean_shift,
            "scale_change": scale_change,
            "category_swap": "two most frequent categories",
        },
        "dataset_false_alarm_rate": dataset_alarms / runs,
        "columns": _column_entries(sim, null_flags, power_hits, th.alpha),
        "notes": _notes(profile, batch_size),
    }


@dataclass(frozen=True)
class _Simulation:
    """The self-test's draws: one result per run and column under the null, and one per run
    and shift with that shift injected into its column (`shifts` holds (column, shift))."""

    names: list[str]
    kinds: list[str]
    shifts: list[tuple[int, str]]
    null: np.ndarray  # (runs, columns) of ColumnResult
    shifted: np.ndarray  # (runs, shifts) of ColumnResult


def _simulate(
    profile: ReferenceProfile,
    batch_size: int,
    runs: int,
    rng: np.random.Generator,
    th: DriftThresholds,
    mean_shift: float,
    scale_change: float,
    progress: Progress | None,
) -> _Simulation:
    names = list(profile.columns_)
    kinds = [profile.columns_[c].kind for c in names]
    shifts = [(ci, s) for ci, c in enumerate(names) for s in _shifts(profile.columns_[c])]
    null = np.empty((runs, len(names)), dtype=object)
    shifted = np.empty((runs, len(shifts)), dtype=object)
    for r in range(runs):
        drawn = [
            _draw(name, profile.columns_[name], batch_size, rng, th, mean_shift, scale_change)
            for name in names
        ]
        null[r] = [results[0] for results in drawn]
        for si, (ci, shift) in enumerate(shifts):
            shifted[r, si] = drawn[ci][1 + _shifts(profile.columns_[names[ci]]).index(shift)]
        if progress is not None:
            progress(r + 1, runs, "drawing batches")
    return _Simulation(names, kinds, shifts, null, shifted)


def _decide_row(
    row: Sequence[ColumnResult], min_effect: np.ndarray, weight: np.ndarray, th: DriftThresholds
) -> tuple[np.ndarray, bool]:
    """The decision on one simulated batch: (drifted flag per column, data set drifted)."""
    tested = np.array([res.tested for res in row])
    drifted = np.zeros(len(row), dtype=bool)
    if not tested.any():
        return drifted, False
    chosen = [res for res, t in zip(row, tested, strict=True) if t]
    p = np.array([res.p_value for res in chosen], dtype=np.float64)
    eff = np.array([res.effect_size for res in chosen], dtype=np.float64)
    _, flags, _, dataset = apply_rule(
        p, eff, min_effect[tested], weight[tested], th.alpha, th.dataset_share
    )
    drifted[tested] = flags
    return drifted, dataset


def _column_entries(
    sim: _Simulation, null_flags: np.ndarray, power_hits: np.ndarray, alpha: float
) -> dict[str, Any]:
    """Per column: its usual status, false-alarm rate and power against each of its shifts."""
    runs = len(sim.null)
    columns: dict[str, Any] = {}
    for ci, name in enumerate(sim.names):
        statuses = Counter(str(res.status) for res in sim.null[:, ci])
        tested_runs = [res for res in sim.null[:, ci] if res.tested]
        entry: dict[str, Any] = {
            "kind": sim.kinds[ci],
            "status": statuses.most_common(1)[0][0],
            "tested_share": len(tested_runs) / runs,
            "false_alarm_rate": None,
            "p_below_alpha_rate": None,
            "power": {},
        }
        if tested_runs:
            entry["false_alarm_rate"] = float(null_flags[:, ci].mean())
            below = sum(res.p_value < alpha for res in tested_runs)
            entry["p_below_alpha_rate"] = below / len(tested_runs)
        for si, (cj, shift) in enumerate(sim.shifts):
            if cj == ci:
                entry["power"][shift] = float(power_hits[si] / runs) if tested_runs else None
        columns[name] = entry
    return columns


def _notes(profile: ReferenceProfile, batch_size: int) -> list[str]:
    """A batch drawn from a reference it is a large part of looks closer to it than it is."""
    return [
        f"column {name!r}: the batch is {batch_size / prof.n:.0%} of the reference; "
        "the false-alarm rate is an underestimate"
        for name, prof in profile.columns_.items()
        if prof.n and batch_size > 0.05 * prof.n
    ]


def _shifts(prof: ColumnProfile) -> list[str]:
    if isinstance(prof, NumericProfile):
        return ["mean_shift", "scale_change"] if prof.n and not prof.constant else []
    if len(prof.categories) >= 2 and prof.counts[0] != prof.counts[1]:
        return ["category_swap"]
    return []


def _draw(
    name: str,
    prof: ColumnProfile,
    batch_size: int,
    rng: np.random.Generator,
    th: DriftThresholds,
    mean_shift: float,
    scale_change: float,
) -> list[ColumnResult]:
    """Null result for one drawn batch, then one result per shift of `_shifts`, same draw."""
    missing_share = 1 - prof.n / prof.n_rows if prof.n_rows else 0.0
    n_missing = int(rng.binomial(batch_size, missing_share))
    n_values = batch_size - n_missing
    if isinstance(prof, NumericProfile):
        values = np.sort(prof.quantile(rng.random(n_values))) if prof.n else np.empty(0)
        out = [compare_numeric(name, prof, values, batch_size, n_missing, th)]
        if _shifts(prof):
            assert prof.mean is not None and prof.std is not None  # a column with values has both
            # Both shifts are increasing maps, so the values stay sorted.
            moved = values + mean_shift * prof.std
            scaled = prof.mean + (values - prof.mean) * scale_change
            out += [
                compare_numeric(name, prof, moved, batch_size, n_missing, th),
                compare_numeric(name, prof, scaled, batch_size, n_missing, th),
            ]
        return out
    counts = rng.multinomial(n_values, prof.counts / prof.n) if prof.n else prof.counts * 0
    out = [compare_categorical(name, prof, prof.categories, counts, n_missing, th)]
    if _shifts(prof):
        swapped = counts.copy()
        swapped[[0, 1]] = counts[[1, 0]]  # a multinomial draw with the two shares swapped
        out.append(compare_categorical(name, prof, prof.categories, swapped, n_missing, th))
    return out
