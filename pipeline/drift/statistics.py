"""Data drift: a reference profile fitted once, compared with each new batch. Pure computation.

`ReferenceProfile().fit(reference_frame)` summarises the data a model version was trained on (its
features, and its prediction and label as columns of their own, e.g. ``__prediction__`` and
``__target__``); `detect(profile, new_frame, thresholds)` compares one new batch with it. Only
`ReferenceProfile.to_bytes` / `from_bytes` touch bytes; nothing here reads or writes files.

Profile (issue 4, item 1)
    Numeric column: missing (NaN/None) and infinite counts, mean, std (ddof=1), quartiles,
    min/max, PSI bin edges with the reference counts per bin, and its distribution as "knots"
    ``v_k`` with the exact counts of reference values ``<= v_k`` and ``< v_k``. Up to
    ``exact_max`` finite values the knots are every distinct value, so the empirical CDF ``F`` is
    stored exactly. Above it the knots are the order statistics at ``grid`` evenly spaced ranks
    (min and max included), with their exact counts; between two knots the CDF is interpolated
    linearly. The true ``F`` lies in the band between the two knots' counts, so
    ``|F~ - F| <= ks_error_bound <= 1/(grid - 1)`` everywhere: the KS statistic is off by at most
    that much (the new side is always exact), and the Wasserstein distance by at most
    ``wasserstein_error_bound`` = sum of (knot spacing x band height), both stored per column and
    reported in the details. PSI bins are fitted on the raw data, so PSI is exact on both paths.
    Categorical column: counts per category (keys are ``str(value)``; integral floats as ints,
    so codes 1 and 1.0 agree) and the missing count.

Statistics (item 2)
    Numeric: two-sample Kolmogorov-Smirnov, p-value as `scipy.stats.ks_2samp` (method "auto")
    computes it: exact distribution when both sides have <= 10,000 values (delegated to scipy
    itself on the stored values), otherwise ``kstwo.sf(D, round(n*m/(n+m)))``, with scipy's
    algorithm ported (see `kstwo_sf`) so that large batches need no scipy at all. Effect size:
    Wasserstein-1 distance divided by the reference std (std 0 means a constant reference, which
    gets its own status, so there is no IQR fallback to need: IQR <= range = 0 too). PSI on
    ``psi_bins`` reference-quantile bins, empty shares replaced by ``psi_epsilon``.
    Categorical: chi-square test of homogeneity on the 2 x K table over the union of categories,
    without Yates' correction, also for 2 x 2, where it is exactly the pooled two-proportion
    z-test (z**2 = chi2, same p-value); effect size Jensen-Shannon distance (base 2); PSI.

Decision (item 3)
    Benjamini-Hochberg over the p-values of every tested column of the run; a column drifts iff
    ``p_adjusted < alpha`` and its effect size ``>= min_wasserstein`` (numeric) or
    ``>= min_jensen_shannon`` (categorical). The p-value alone flags everything on large batches;
    the effect size alone flags noise on small ones; together they hold from 30 rows to millions.
    The data set drifts when the (optionally importance-weighted) share of drifted columns among
    the tested ones reaches ``dataset_share``. `persistent` is the M-of-N rule.

Statuses (item 4)
    ``ok`` and ``unseen_categories`` are tested. An unseen category enters the chi-square, JS and
    PSI as a category with reference count 0 (a new category is evidence of drift); the status
    says so and the details count and list them. Every other status is excluded from the BH family
    and from the share's denominator, listed in `DriftResult.excluded`, and never drifts:
    ``missing_in_new`` and ``new_column`` (nothing to compare); ``all_missing`` (no value on one
    side, named in the details); ``too_few_rows`` (fewer than ``min_rows`` values on a side; the
    statistics are still computed when both sides have a value, for information);
    ``constant``: a numeric reference with one distinct value (no spread to scale the effect by;
    KS, raw Wasserstein and the share of new values that differ are still reported) or a
    categorical column with one category on both sides (nothing to test). A new batch that is
    constant while its reference is not is tested as usual (a feed stuck at one value is drift
    to report, not to hide) and flagged in the details.
"""

from __future__ import annotations

import io
import json
import math
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np

NUMERIC = "numeric"
CATEGORICAL = "categorical"
KINDS = (NUMERIC, CATEGORICAL)

# scipy.stats.ks_2samp's method="auto" uses the exact distribution up to this many values a side.
KS_EXACT_MAX_N = 10_000
_FORMAT = "riskwatch.drift.profile"
_FORMAT_VERSION = 1
_MAX_LISTED = 50  # unseen categories named in the details; all of them are counted


class Status(StrEnum):
    OK = "ok"
    CONSTANT = "constant"
    ALL_MISSING = "all_missing"
    TOO_FEW_ROWS = "too_few_rows"
    UNSEEN_CATEGORIES = "unseen_categories"
    MISSING_IN_NEW = "missing_in_new"
    NEW_COLUMN = "new_column"


TESTED = frozenset({Status.OK, Status.UNSEEN_CATEGORIES})


@dataclass(frozen=True)
class DriftThresholds:
    """What counts as drift; `selftest` measures what these give at a batch size.

    alpha: false-discovery rate of the Benjamini-Hochberg procedure over the run's columns.
    min_wasserstein: smallest Wasserstein-1 distance, in reference standard deviations, that
        counts as drift for a numeric column (a mean shift of d std has exactly d). Noise at
        1,000 rows a side averages 0.055 and rarely passes 0.15; a real 0.5-std shift scores
        0.4 or more there (simulated, 600 runs each).
    min_jensen_shannon: smallest Jensen-Shannon distance (base 2) for a categorical column.
    dataset_share: the data set drifts when at least this (weighted) share of tested columns does.
    min_rows: fewer non-missing values than this on either side gives ``too_few_rows``.
    psi_epsilon: share used for an empty PSI bin (or category) so the logarithm stays finite.
    """

    alpha: float = 0.05
    min_wasserstein: float = 0.15
    min_jensen_shannon: float = 0.1
    dataset_share: float = 0.5
    min_rows: int = 30
    psi_epsilon: float = 1e-4

    def __post_init__(self) -> None:
        checks = {
            "alpha": 0 < self.alpha < 1,
            "min_wasserstein": math.isfinite(self.min_wasserstein) and self.min_wasserstein >= 0,
            "min_jensen_shannon": 0 <= self.min_jensen_shannon <= 1,
            "dataset_share": 0 < self.dataset_share <= 1,
            "min_rows": isinstance(self.min_rows, int) and self.min_rows >= 1,
            "psi_epsilon": 0 < self.psi_epsilon < 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f"drift threshold {name!r} is out of range: {getattr(self, name)!r}"
                )

    def min_effect(self, kind: str) -> float:
        return self.min_wasserstein if kind == NUMERIC else self.min_jensen_shannon


# --------------------------------------------------------------------------- column profiles


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """One numeric column of the reference: its CDF as knots with exact counts, and a summary."""

    n_rows: int
    n_missing: int
    n_infinite: int
    knots: np.ndarray  # sorted distinct values: every one (exact) or the grid's order statistics
    cum_le: np.ndarray  # reference values <= knot
    cum_lt: np.ndarray  # reference values < knot
    sketch: bool
    mean: float | None
    std: float | None
    q25: float | None
    q75: float | None
    psi_edges: np.ndarray  # bins (-inf, e0], (e0, e1], ..., (e_last, inf)
    psi_counts: np.ndarray
    ks_error_bound: float  # sup |F~ - F| over the real line; 0 when exact
    wasserstein_error_bound: float  # integral of |F~ - F|, in the column's units; 0 when exact

    kind = NUMERIC

    @property
    def n(self) -> int:
        """Finite values: what the statistics are computed on."""
        return int(self.cum_le[-1]) if len(self.cum_le) else 0

    @property
    def constant(self) -> bool:
        return len(self.knots) == 1

    def cdf(self, x: Any) -> np.ndarray:
        """Share of reference values <= x (interpolated between knots on the sketch path)."""
        x = np.asarray(x, dtype=np.float64)
        start, base, slope, _, _ = self.cdf_table
        i = np.searchsorted(self.knots, x, side="right")
        return base[i] + slope[i] * (x - start[i])

    @cached_property
    def cdf_table(self) -> tuple[np.ndarray, ...]:
        return _cdf_table(self)

    def quantile(self, q: Any) -> np.ndarray:
        """Inverse of `cdf` (the empirical quantile when exact); used to sample and to plot."""
        r = np.asarray(q, dtype=np.float64) * self.n
        k = np.minimum(np.searchsorted(self.cum_le, r, side="left"), len(self.knots) - 1)
        out = self.knots[k].astype(np.float64)
        between = r < self.cum_lt[k]  # in a gap between knot k-1 and knot k (sketch only)
        if between.any():
            kb = k[between]
            lo_count, hi_count = self.cum_le[kb - 1], self.cum_lt[kb]
            frac = (r[between] - lo_count) / (hi_count - lo_count)
            out[between] = self.knots[kb - 1] + frac * (self.knots[kb] - self.knots[kb - 1])
        return out

    def summary(self) -> dict[str, Any]:
        """Plain numbers for the database and the report."""
        empty = self.n == 0
        return {
            "kind": NUMERIC,
            "n_rows": self.n_rows,
            "n_missing": self.n_missing,
            "n_infinite": self.n_infinite,
            "missing_share": _share(self.n_missing, self.n_rows),
            "mean": self.mean,
            "std": self.std,
            "iqr": None if empty else _num(self.q75 - self.q25),
            "min": None if empty else float(self.knots[0]),
            "max": None if empty else float(self.knots[-1]),
            "sketch": self.sketch,
            "ks_error_bound": self.ks_error_bound,
        }


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """One categorical column of the reference: counts per category, most frequent first."""

    n_rows: int
    n_missing: int
    categories: tuple[str, ...]
    counts: np.ndarray

    kind = CATEGORICAL

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def summary(self) -> dict[str, Any]:
        return {
            "kind": CATEGORICAL,
            "n_rows": self.n_rows,
            "n_missing": self.n_missing,
            "missing_share": _share(self.n_missing, self.n_rows),
            "categories": dict(zip(self.categories, self.counts.tolist(), strict=True)),
        }


ColumnProfile = NumericProfile | CategoricalProfile


class ReferenceProfile:
    """Summary of a model version's training data, fitted once and stored beside the artifact.

    exact_max: numeric columns with at most this many finite values keep every value (exact
        statistics); larger ones keep a quantile sketch (about 0.5 MB a column at the default).
    grid: quantiles in the sketch; the KS statistic is then within 1/(grid - 1) of the exact one.
    psi_bins: reference-quantile bins of the population stability index.
    """

    def __init__(self, exact_max: int = 200_000, grid: int = 20_001, psi_bins: int = 10) -> None:
        self.exact_max = exact_max
        self.grid = grid
        self.psi_bins = psi_bins

    def fit(
        self,
        frame: Any,
        columns: Iterable[str] | None = None,
        kinds: Mapping[str, str] | None = None,
    ) -> ReferenceProfile:
        """Profile `columns` of `frame` (a DataFrame or a mapping of name to 1-d array).

        `kinds` maps a column to "numeric" or "categorical"; the rest are inferred from the dtype
        (integer and float: numeric; anything else, booleans included: categorical). Declare
        integer-coded classes (a label, a predicted class) "categorical".
        """
        for name, value, low in (
            ("exact_max", self.exact_max, 0),
            ("grid", self.grid, 2),
            ("psi_bins", self.psi_bins, 2),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        names = _frame_names(frame)
        wanted = list(names) if columns is None else [str(c) for c in columns]
        for name in wanted:
            if name not in names:
                raise ValueError(f"column {name!r} is missing from the reference data")
        kinds = dict(kinds or {})
        for name, kind in kinds.items():
            if name not in wanted:
                raise ValueError(f"kinds names column {name!r}, which is not being profiled")
            if kind not in KINDS:
                raise ValueError(f"kind of column {name!r} must be one of {KINDS}, got {kind!r}")
        profiles: dict[str, ColumnProfile] = {}
        n_rows = 0
        for name in wanted:
            column = frame[names[name]]
            n_rows = max(n_rows, len(column))
            kind = kinds.get(name) or _infer_kind(column)
            if kind == NUMERIC:
                values = _as_float(column, f"column {name!r} was declared numeric but")
                profiles[name] = _fit_numeric(values, self.exact_max, self.grid, self.psi_bins)
            else:
                categories, counts, n_missing = _category_counts(column)
                order = sorted(range(len(categories)), key=lambda i: (-counts[i], categories[i]))
                profiles[name] = CategoricalProfile(
                    n_rows=len(column),
                    n_missing=n_missing,
                    categories=tuple(categories[i] for i in order),
                    counts=counts[order] if order else counts,
                )
        self.columns_ = profiles
        self.n_rows_ = n_rows
        return self

    def summary(self) -> dict[str, dict[str, Any]]:
        _check_fitted(self)
        return {name: profile.summary() for name, profile in self.columns_.items()}

    def to_bytes(self) -> bytes:
        """Serialise: compressed .npz with a JSON header (self-describing, no pickle)."""
        _check_fitted(self)
        arrays: dict[str, np.ndarray] = {}
        columns = []
        for i, (name, prof) in enumerate(self.columns_.items()):
            if isinstance(prof, NumericProfile):
                meta = {
                    "name": name,
                    "kind": NUMERIC,
                    **{
                        key: getattr(prof, key)
                        for key in (
                            "n_rows",
                            "n_missing",
                            "n_infinite",
                            "sketch",
                            "mean",
                            "std",
                            "q25",
                            "q75",
                            "ks_error_bound",
                            "wasserstein_error_bound",
                        )
                    },
                }
                arrays[f"c{i}.knots"] = prof.knots
                arrays[f"c{i}.psi_edges"] = prof.psi_edges
                arrays[f"c{i}.psi_counts"] = prof.psi_counts
                if prof.sketch:
                    arrays[f"c{i}.cum_le"] = prof.cum_le
                    arrays[f"c{i}.cum_lt"] = prof.cum_lt
                else:  # exact: multiplicities compress far better than cumulative counts
                    arrays[f"c{i}.mult"] = prof.cum_le - prof.cum_lt
            else:
                meta = {
                    "name": name,
                    "kind": CATEGORICAL,
                    "n_rows": prof.n_rows,
                    "n_missing": prof.n_missing,
                    "categories": list(prof.categories),
                }
                arrays[f"c{i}.counts"] = prof.counts
            columns.append(meta)
        header = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "params": {"exact_max": self.exact_max, "grid": self.grid, "psi_bins": self.psi_bins},
            "n_rows": self.n_rows_,
            "columns": columns,
        }
        buffer = io.BytesIO()
        raw = json.dumps(header, allow_nan=False).encode()
        np.savez_compressed(buffer, header=np.frombuffer(raw, dtype=np.uint8), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        """Load what `to_bytes` wrote."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                header = json.loads(npz["header"].tobytes().decode())
                arrays = {key: npz[key] for key in npz.files if key != "header"}
            if header.get("format") != _FORMAT:
                raise ValueError("not a riskwatch drift profile")
        except (OSError, ValueError, KeyError, AttributeError, UnicodeDecodeError) as exc:
            raise ValueError("not a riskwatch drift profile") from exc
        if header.get("version") != _FORMAT_VERSION:
            raise ValueError(f"drift profile version {header.get('version')!r} is not supported")
        try:
            profile = cls(**header["params"])
            profile.columns_ = {
                meta["name"]: _column_from_header(meta, i, arrays)
                for i, meta in enumerate(header["columns"])
            }
            profile.n_rows_ = header["n_rows"]
        except (KeyError, TypeError) as exc:
            raise ValueError("drift profile is damaged: a field is missing") from exc
        return profile


def _column_from_header(meta: dict[str, Any], i: int, arrays: dict) -> ColumnProfile:
    fields = {k: v for k, v in meta.items() if k not in ("name", "kind", "categories")}
    if meta["kind"] == NUMERIC:
        if meta["sketch"]:
            cum_le, cum_lt = arrays[f"c{i}.cum_le"], arrays[f"c{i}.cum_lt"]
        else:
            cum_le = np.cumsum(arrays[f"c{i}.mult"])
            cum_lt = cum_le - arrays[f"c{i}.mult"]
        return NumericProfile(
            knots=arrays[f"c{i}.knots"],
            cum_le=cum_le,
            cum_lt=cum_lt,
            psi_edges=arrays[f"c{i}.psi_edges"],
            psi_counts=arrays[f"c{i}.psi_counts"],
            **fields,
        )
    return CategoricalProfile(
        categories=tuple(meta["categories"]), counts=arrays[f"c{i}.counts"], **fields
    )


def _check_fitted(profile: ReferenceProfile) -> None:
    if not hasattr(profile, "columns_"):
        raise ValueError("this ReferenceProfile is not fitted yet; call fit() first")


def _fit_numeric(values: np.ndarray, exact_max: int, grid: int, psi_bins: int) -> NumericProfile:
    n_rows = len(values)
    finite = np.isfinite(values)
    n_missing = int(np.isnan(values).sum())
    x = values[finite]  # a copy, sorted in place
    x.sort()
    n = len(x)
    if n == 0:
        nothing, none = np.empty(0, np.float64), np.empty(0, np.int64)
        return NumericProfile(
            n_rows=n_rows,
            n_missing=n_missing,
            n_infinite=n_rows - n_missing,
            knots=nothing,
            cum_le=none,
            cum_lt=none,
            sketch=False,
            mean=None,
            std=None,
            q25=None,
            q75=None,
            psi_edges=nothing,
            psi_counts=none,
            ks_error_bound=0.0,
            wasserstein_error_bound=0.0,
        )
    sketch = n > exact_max
    if not sketch:
        last = np.flatnonzero(np.append(x[1:] != x[:-1], True))
        knots = x[last]
        cum_le = last + 1
        cum_lt = np.concatenate([[0], cum_le[:-1]])
        ks_bound = w_bound = 0.0
    else:
        # Order statistics at evenly spaced ranks: consecutive ranks differ by at most
        # ceil((n-1)/(grid-1)), so at most that minus one values fall strictly between two knots.
        ranks = np.rint(np.linspace(0, n - 1, grid)).astype(np.int64)
        picked = x[ranks]
        knots = picked[np.append(picked[1:] != picked[:-1], True)]
        cum_le = np.searchsorted(x, knots, side="right")
        cum_lt = np.searchsorted(x, knots, side="left")
        gaps = cum_lt[1:] - cum_le[:-1]  # values strictly between consecutive knots
        ks_bound = float(gaps.max() / n) if len(gaps) else 0.0
        w_bound = float(np.sum(np.diff(knots) * gaps) / n)
    # PSI bins: the reference's deciles (numpy's "inverted_cdf" quantiles), fitted on raw data.
    idx = np.ceil(np.arange(1, psi_bins) * n / psi_bins).astype(np.int64) - 1
    edges = x[idx]
    edges = edges[np.append(edges[1:] != edges[:-1], True)]
    psi_counts = np.diff(np.concatenate([[0], np.searchsorted(x, edges, side="right"), [n]]))
    return NumericProfile(
        n_rows=n_rows,
        n_missing=n_missing,
        n_infinite=n_rows - n_missing - n,
        knots=knots,
        cum_le=cum_le.astype(np.int64),
        cum_lt=cum_lt.astype(np.int64),
        sketch=sketch,
        mean=_num(x.mean()),
        std=_num(x.std(ddof=1)) if n > 1 else 0.0,
        q25=_sorted_quantile(x, 0.25),
        q75=_sorted_quantile(x, 0.75),
        psi_edges=edges,
        psi_counts=psi_counts.astype(np.int64),
        ks_error_bound=ks_bound,
        wasserstein_error_bound=w_bound,
    )


def _sorted_quantile(x: np.ndarray, q: float) -> float:
    """numpy's default ("linear") quantile of an already sorted array."""
    h = (len(x) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(x) - 1)
    return float(x[lo] + (h - lo) * (x[hi] - x[lo]))


# --------------------------------------------------------------------------- column access


def _frame_names(frame: Any) -> dict[str, Any]:
    keys = list(frame.columns) if hasattr(frame, "columns") else list(frame.keys())
    return {str(key): key for key in keys}


def _infer_kind(column: Any) -> str:
    dtype = getattr(column, "dtype", None)
    if dtype is None:
        dtype = np.asarray(column).dtype
    return NUMERIC if getattr(dtype, "kind", "O") in "iuf" else CATEGORICAL


def _as_float(column: Any, problem: str) -> np.ndarray:
    try:
        if hasattr(column, "to_numpy"):
            return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan))
        return np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{problem} holds non-numeric values") from exc


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def category_key(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _category_counts(column: Any) -> tuple[list[str], np.ndarray, int]:
    """Return (categories, counts, missing count) of a column; categories as strings."""
    total = len(column)
    pandas = sys.modules.get("pandas")  # used when the caller has it loaded, never imported here
    if pandas is not None and not hasattr(column, "value_counts"):
        arr = np.asarray(column)
        if arr.dtype.kind == "O":  # Python objects: pandas counts them 4x faster than a Counter
            column = pandas.Series(arr, copy=False)
    if hasattr(column, "value_counts"):  # pandas: hash-based, no sort of the strings
        counted = column.value_counts(dropna=True, sort=False)
        pairs: Iterable[tuple[Any, int]] = zip(
            counted.index.tolist(), counted.to_numpy().tolist(), strict=True
        )
    else:
        arr = np.asarray(column)
        if arr.dtype.kind == "O":
            pairs = Counter(v for v in arr.tolist() if not _is_missing(v)).items()
        else:
            if arr.dtype.kind in "fc":
                arr = arr[~np.isnan(arr)]
            uniq, cnt = np.unique(arr, return_counts=True)
            pairs = zip(uniq.tolist(), cnt.tolist(), strict=True)
    merged: dict[str, int] = {}
    for value, count in pairs:
        if count:
            key = category_key(value)
            merged[key] = merged.get(key, 0) + int(count)
    counts = np.fromiter(merged.values(), dtype=np.int64, count=len(merged))
    return list(merged), counts, total - int(counts.sum())


# --------------------------------------------------------------------------- statistics


def _cdf_table(prof: NumericProfile) -> tuple[np.ndarray, ...]:
    """Per-knot pieces of F~, indexed by i = (index of the last knot <= x) + 1, 0 below all.

    F~(x) = base[i] + slope[i] * (x - start[i]); the left limit at a knot is lower by drop[i];
    integral[i] is the integral of F~ from the first knot to start[i].
    """
    n, size = prof.n, len(prof.knots)
    start = np.concatenate([[0.0], prof.knots])
    base = np.concatenate([[0.0], prof.cum_le / n])
    drop = np.concatenate([[0.0], (prof.cum_le - prof.cum_lt) / n])
    slope = np.zeros(size + 1)
    integral = np.zeros(size + 1)
    if size > 1:
        width = np.diff(prof.knots)
        if prof.sketch:
            slope[1:size] = (prof.cum_lt[1:] - prof.cum_le[:-1]) / n / width
        integral[2:] = np.cumsum(width * (base[1:size] + 0.5 * slope[1:size] * width))
    return start, base, slope, drop, integral


def _antiderivative(prof: NumericProfile, x: np.ndarray) -> np.ndarray:
    """Integral of F~ from -infinity to x."""
    start, base, slope, _, integral = prof.cdf_table
    i = np.searchsorted(prof.knots, x, side="right")
    dx = np.where(i > 0, x - start[i], 0.0)
    return integral[i] + dx * (base[i] + 0.5 * slope[i] * dx)


def _cdf_at(prof: NumericProfile, u: np.ndarray) -> tuple[np.ndarray, ...]:
    """F~ at sorted distinct new values u, and where the knots sit among them.

    Returns (F~(u), positions p where u[p] is a knot, those knots' indexes, intervals p whose
    open span (u[p], u[p+1]) holds a knot). Costs O(len(u) + knots) when u is the longer (the
    knots' pieces are repeated over the new values they cover), O(len(u) log knots) otherwise.
    """
    knots, size = prof.knots, len(u)
    start, base, slope, _, _ = prof.cdf_table
    if len(knots) >= size:
        i = np.searchsorted(knots, u, side="right")  # knots <= u[p]
        on = np.flatnonzero((i > 0) & (knots[np.maximum(i - 1, 0)] == u))
        ends_on_knot = np.zeros(size, dtype=bool)
        ends_on_knot[on] = True
        split = np.flatnonzero(i[1:] - ends_on_knot[1:] > i[:-1])
        right = base[i]
        if prof.sketch:
            right += slope[i] * (u - start[i])
        return right, on, i[on] - 1, split
    below = np.searchsorted(u, knots, side="left")  # knot k lies in (u[below-1], u[below]]
    hit = np.flatnonzero(below < size)
    hit = hit[u[below[hit]] == knots[hit]]
    inside = np.ones(len(knots), dtype=bool)
    inside[hit] = False
    inside &= (below > 0) & (below < size)
    split = np.unique(below[inside]) - 1
    per_piece = np.diff(np.concatenate([[0], below, [size]]))
    right = np.repeat(base, per_piece)
    if prof.sketch:
        step = u - np.repeat(start, per_piece)
        step *= np.repeat(slope, per_piece)
        right += step
    return right, below[hit], hit, split


def _dot(x: np.ndarray, y: np.ndarray) -> float:
    """Inner product without BLAS: OpenBLAS would spin up threads for a single pass."""
    return float(np.einsum("i,i->", x, y))


def _mean_abs(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Mean of |y| over an interval where y goes linearly from a to c."""
    total = np.abs(a) + np.abs(c)
    out = total * 0.5
    cross = (np.signbit(a) != np.signbit(c)) & (total > 0)
    # y changes sign inside: two triangles, (a^2 + c^2) / (2 (|a| + |c|))
    out[cross] = (a[cross] ** 2 + c[cross] ** 2) / (2 * total[cross])
    return out


def _ks_wasserstein(prof: NumericProfile, b: np.ndarray) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance between the profile's F~ and sorted values b.

    F~ is non-decreasing and G is flat between consecutive new values, so |F~ - G| peaks at a new
    value (right value or left limit): the sup needs F~ at the new values only. For the integral,
    an interval between two new values with no knot inside has F~ linear (a trapezoid, or two
    triangles when F~ - G changes sign); one with knots inside is split where F~ crosses G (one
    crossing at most, F~ being monotone) and integrated with F~'s antiderivative. The cost is
    O(new values + knots), or O(new values x log knots) when the knots outnumber them. On the
    exact path F~ is the empirical CDF and both statistics equal scipy's to rounding.
    """
    m = len(b)
    distinct = b[1:] != b[:-1]
    if distinct.all():  # continuous data: no gather
        u = b
        g = np.arange(1, m + 1, dtype=np.float64)
        g /= m
    else:
        last = np.flatnonzero(np.append(distinct, True))
        u, g = b[last], (last + 1) / m
    right, on, which, split = _cdf_at(prof, u)
    jump = prof.cdf_table[3][which + 1]  # at a new value that is a knot, F~ jumps by its mass
    a_all = right - g  # F~ - G at u[p]
    c = right[1:] - g[:-1]  # F~ - G just left of u[p+1]
    later = on > 0
    c[on[later] - 1] -= jump[later]
    first_left = float(right[0] - jump[~later].sum())
    ks = max(float(a_all.max()), -float(a_all.min()), abs(first_left))
    if len(c):
        ks = max(ks, float(c.max()), -float(c.min()))
    a = a_all[:-1]
    width = np.diff(u)
    width[split] = 0.0  # intervals with a knot inside are done below, exactly
    abs_a = np.abs(a)
    if prof.sketch:
        abs_c = np.abs(c)
        w1 = 0.5 * _dot(abs_a + abs_c, width)
        cross = np.flatnonzero(a * c < 0)
        if len(cross):  # F~ - G changes sign inside: two triangles, not a trapezoid
            exact = _mean_abs(a[cross], c[cross])
            w1 -= _dot(0.5 * (abs_a[cross] + abs_c[cross]) - exact, width[cross])
    else:  # F~ is flat between new values when no knot is inside (and then c == a)
        w1 = _dot(abs_a, width)
    lo, hi, level = u[split], u[split + 1], g[split]
    middle = np.clip(prof.quantile(level), lo, hi)  # F~ <= level before it, >= level after
    at_lo, at_mid, at_hi = np.split(_antiderivative(prof, np.concatenate([lo, middle, hi])), 3)
    w1 += float(np.sum(level * (middle - lo) - (at_mid - at_lo)))
    w1 += float(np.sum((at_hi - at_mid) - level * (hi - middle)))
    # Tails: G = 0 before the first new value, 1 after the last; F~ is 1 from the last knot.
    top = float(prof.knots[-1])
    at_first, at_last, at_top = _antiderivative(prof, np.array([u[0], u[-1], max(top, u[-1])]))
    w1 += float(at_first) + max(top - float(u[-1]), 0.0) - float(at_top - at_last)
    return ks, w1


# Distribution functions. On large batches the p-values come from these ports of what scipy
# computes (same formulas and branch points, tested against scipy), so a run on millions of rows
# neither imports scipy.stats (0.7 s) and scipy.special (0.4 s) nor waits on scipy's scalar
# O(n) loop in smirnov (0.6 s at n = 500,000). Small samples still go to scipy itself.

_LOG_2PI = math.log(2 * math.pi)
# Bernoulli numbers B_2j / (2j (2j - 1)), j = 1..6: Stirling's series for log Gamma.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
_SMALL_LOG_FACTORIAL = np.array([math.lgamma(k + 1) for k in range(32)])


def _log_factorial(k: np.ndarray) -> np.ndarray:
    """log(k!) for integers k >= 0, to double precision (a table below 32, Stirling above)."""
    k = np.asarray(k)
    out = np.empty(k.shape)
    small = k < len(_SMALL_LOG_FACTORIAL)
    out[small] = _SMALL_LOG_FACTORIAL[k[small]]
    x = k[~small] + 1.0
    inv, inv2 = 1 / x, 1 / (x * x)
    series = np.zeros_like(x)
    for coefficient in reversed(_STIRLING):
        series = series * inv2 + coefficient
    out[~small] = (x - 0.5) * np.log(x) - x + 0.5 * _LOG_2PI + series * inv
    return out


def _smirnov(n: int, d: float) -> float:
    """P(D+_n >= d): the Birnbaum-Tingey sum scipy.special.smirnov evaluates term by term, here
    in log space, vectorised in blocks (bounded memory at tens of millions of rows)."""
    top = math.floor(n * (1 - d))
    log_n_factorial = float(_log_factorial(np.array([n]))[0])
    peak, total = -math.inf, 0.0
    for first in range(0, top + 1, 1 << 20):
        v = np.arange(first, min(top + 1, first + (1 << 20)))
        e = d + v / n
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.where(v < n, (n - v) * np.log(np.maximum(1 - e, 0.0)), 0.0)  # 0 log 0 = 0
        logs = log_n_factorial - _log_factorial(v) - _log_factorial(n - v) + (v - 1) * np.log(e)
        logs += tail
        block_peak = float(logs.max())
        if block_peak > peak:
            total *= math.exp(peak - block_peak)
            peak = block_peak
        total += float(np.exp(logs - peak).sum())
    return float(d * math.exp(peak) * total)


def _kolmogn_durbin(n: int, d: float) -> float:
    """P(D_n <= d) by the Durbin matrix (Marsaglia-Tsang-Wang), as scipy's _kolmogn_DMTW."""
    k = math.ceil(n * d)
    h = k - n * d
    m = 2 * k - 1
    j = np.arange(1, m + 1)
    w = np.concatenate([[1.0], np.cumprod(1.0 / j)])[:m]  # 1 / (j - 1)!
    v = (1.0 - h**j) / np.cumprod(j)
    v[-1] = (1.0 + max(2 * h - 1.0, 0.0) ** m - 2 * h**m) * w[-1] / m  # w[-1] = 1 / (m-1)!
    matrix = np.zeros((m, m))
    for i in range(1, m):
        matrix[i - 1 :, i] = w[: m - i + 1]
    matrix[:, 0] = v
    matrix[-1, :] = v[::-1]
    power, scale, matrix_scale, left = np.eye(m), 0, 0, n
    while left > 0:
        if left % 2:
            power = power @ matrix
            scale += matrix_scale
        matrix = matrix @ matrix
        matrix_scale *= 2
        if abs(matrix[k - 1, k - 1]) > 2.0**128:
            matrix /= 2.0**128
            matrix_scale += 128
        left //= 2
    # times n! / n^n, by Stirling's series with n log n taken out (as scipy does)
    series = sum(c / n ** (2 * i + 1) for i, c in enumerate(_STIRLING))
    log_ratio = math.log(n) / 2 - n + _LOG_2PI / 2 + series
    corner = power[k - 1, k - 1]
    return math.exp(math.log(corner) + scale * math.log(2) + log_ratio) if corner > 0 else 0.0


def _kolmogn_pelz_good(n: int, x: float) -> float:
    """P(D_n <= x) by the Pelz-Good asymptotic series, as scipy's _kolmogn_PelzGood."""
    z = math.sqrt(n) * x
    z2 = z * z
    q = math.exp(-(math.pi**2) / 8 / z2)
    pi2, pi4, pi6 = math.pi**2, math.pi**4, math.pi**6
    k = np.arange(math.ceil(16 * z / math.pi), 0, -1)
    odd2 = (2 * k - 1.0) ** 2
    powers = np.exp(np.log(q) * ((2 * k - 1.0) ** 2))  # q^((2k-1)^2)
    coefficients = (
        np.ones_like(odd2),
        -z2 + pi2 / 4 * odd2,
        6 * z**6
        + 2 * z**4
        + (2 * z**4 - 5 * z2) * pi2 / 4 * odd2
        + pi4 * (1 - 2 * z2) / 16 * odd2**2,
        -30 * z**6
        - 90 * z**8
        + pi2 * (135 * z**4 - 96 * z**6) / 4 * odd2
        + pi4 * (-60 * z2 + 212 * z**4) / 16 * odd2**2
        + pi6 * (5 - 30 * z2) / 64 * odd2**3,
    )
    terms = np.array([np.sum(c * powers) for c in coefficients]) * math.sqrt(2 * math.pi)
    terms /= np.array([z, 6 * z**4, 72 * z**7, 6480 * z**10])
    q_all = math.exp(-pi2 / 2 / z2)
    k2 = k.astype(np.float64) ** 2
    q_powers = q_all**k2
    terms[2] += np.sum(k2 * q_powers) * pi2 * math.sqrt(2 * math.pi) / (-36 * z**3)
    cross = (math.sqrt(3) * z + math.pi * k) * (math.sqrt(3) * z - math.pi * k)
    terms[3] += np.sum(cross * k2 * q_powers) * pi2 * math.sqrt(2 * math.pi) / (216 * z**6)
    return float(np.sum(terms / np.power(float(n), np.arange(4) / 2.0)))


def kstwo_sf(d: float, n: int) -> float:
    """`scipy.stats.kstwo.sf(d, n)`: scipy's branches (Simard-L'Ecuyer), ported for n > 140."""
    if d >= 1.0:
        return 0.0
    if d <= 0.0:
        return 1.0
    t = n * d
    if n <= 140:  # Pomeranz's recursion and friends: small samples, left to scipy
        from scipy import stats

        return float(stats.kstwo.sf(d, n))
    if t <= 1.0:  # Ruben-Gambino
        if t <= 0.5:
            return 1.0
        series = sum(c / n ** (2 * i + 1) for i, c in enumerate(_STIRLING))
        log_ratio = math.log(n) / 2 - n + _LOG_2PI / 2 + series
        return 1.0 - math.exp(log_ratio + n * math.log(2 * t - 1))
    if t >= n - 1:
        return min(max(2 * (1.0 - d) ** n, 0.0), 1.0)
    if d >= 0.5:
        return min(max(2.0 * _smirnov(n, d), 0.0), 1.0)
    if t * d >= 370.0:
        return 0.0
    if t * d >= 2.2:
        return min(max(2.0 * _smirnov(n, d), 0.0), 1.0)
    if n <= 100_000 and n * d**1.5 <= 1.4:
        cdf = _kolmogn_durbin(n, d)
    else:
        cdf = _kolmogn_pelz_good(n, d) if math.pi**2 / 8 / (n * d * d) <= 708 else 0.0
    return min(max(1.0 - cdf, 0.0), 1.0)


def chi2_sf(x: float, dof: int) -> float:
    """Upper tail of the chi-square distribution (scipy.special.chdtrc) for integer dof >= 1.

    Q(dof/2, x/2) as a finite sum of positive terms: e^-y y^j / j! for even dof, and erfc(sqrt y)
    plus e^-y y^(j+1/2) / Gamma(j + 3/2) for odd dof; summed in log space, so tiny tails keep
    their relative precision.
    """
    if x <= 0:
        return 1.0
    y = x / 2
    j = np.arange(dof // 2)
    if dof % 2 == 0:
        logs = -y + j * math.log(y) - _log_factorial(j)
        head = 0.0
    else:
        # log Gamma(j + 3/2) = log((2j + 2)! sqrt(pi) / (4^(j+1) (j + 1)!))
        log_gamma = (
            _log_factorial(2 * j + 2) + 0.5 * math.log(math.pi) - (j + 1) * math.log(4)
        ) - _log_factorial(j + 1)
        logs = -y + (j + 0.5) * math.log(y) - log_gamma
        head = math.erfc(math.sqrt(y))
    return min(head + float(np.exp(logs).sum()), 1.0)


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided asymptotic p-value of the two-sample KS statistic, as scipy's ks_2samp."""
    big, small = max(float(n1), float(n2)), min(float(n1), float(n2))
    effective = max(float(np.round(big * small / (big + small))), 1.0)
    return kstwo_sf(d, int(effective))


def _ks_test(prof: NumericProfile, b: np.ndarray, d: float) -> tuple[float, float, str]:
    """(statistic, p-value, method): scipy's own exact test when its "auto" would use it."""
    if max(prof.n, len(b)) <= KS_EXACT_MAX_N and not prof.sketch:
        from scipy import stats

        a = np.repeat(prof.knots, prof.cum_le - prof.cum_lt)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = stats.ks_2samp(a, b)
        fell_back = any("Switching to" in str(w.message) for w in caught)
        return float(res.statistic), float(res.pvalue), "asymp" if fell_back else "exact"
    return d, ks_pvalue(d, prof.n, len(b)), "asymp"


def _psi(p_ref: np.ndarray, p_new: np.ndarray, epsilon: float) -> float:
    p_ref = np.maximum(p_ref, epsilon)
    p_new = np.maximum(p_new, epsilon)
    return float(np.sum((p_new - p_ref) * np.log(p_new / p_ref)))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2, between two count or probability vectors."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.sum(np.where(p > 0, p * np.log2(p / m), 0.0))
        kl_q = np.sum(np.where(q > 0, q * np.log2(q / m), 0.0))
    return float(math.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def chi2_homogeneity(ref_counts: np.ndarray, new_counts: np.ndarray) -> tuple[float, int, float]:
    """(chi2, dof, p) of the 2 x K table, no continuity correction; categories empty on both
    sides are dropped. Equals scipy.stats.chi2_contingency(table, correction=False)."""
    table = np.vstack([ref_counts, new_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return stat, dof, chi2_sf(stat, dof) if dof > 0 else 1.0


# --------------------------------------------------------------------------- per column


@dataclass(frozen=True)
class ColumnResult:
    """One column's comparison. `statistic` is KS D (numeric) or chi2 (categorical)."""

    column: str
    kind: str
    test: str  # "ks" or "chi2"
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None  # Benjamini-Hochberg over the run's tested columns
    effect_size: float | None  # Wasserstein / reference std, or Jensen-Shannon distance
    psi: float | None
    status: Status
    drifted: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def tested(self) -> bool:
        return self.status in TESTED

    def to_dict(self, full: bool = True) -> dict[str, Any]:
        out = {
            "column": self.column,
            "kind": self.kind,
            "test": self.test,
            "statistic": _num(self.statistic),
            "p_value": _num(self.p_value),
            "p_adjusted": _num(self.p_adjusted),
            "effect_size": _num(self.effect_size),
            "status": str(self.status),
            "drifted": bool(self.drifted),
        }
        if full:
            out["psi"] = _num(self.psi)
            out["details"] = _json_safe(self.details)
        return out


def _test_name(kind: str) -> str:
    return "ks" if kind == NUMERIC else "chi2"


def _untested(name: str, kind: str, status: Status, **details: Any) -> ColumnResult:
    return ColumnResult(
        name, kind, _test_name(kind), None, None, None, None, None, status, False, details
    )


def _size_status(n_ref: int, n_new: int, th: DriftThresholds) -> tuple[Status | None, dict]:
    if n_ref == 0 or n_new == 0:
        side = "both" if n_ref == n_new == 0 else ("reference" if n_ref == 0 else "new")
        return Status.ALL_MISSING, {"side": side}
    if min(n_ref, n_new) < th.min_rows:
        return Status.TOO_FEW_ROWS, {"min_rows": th.min_rows}
    return None, {}


def compare_numeric(
    name: str,
    prof: NumericProfile,
    new_sorted: np.ndarray,
    n_rows: int,
    n_missing: int,
    thresholds: DriftThresholds,
) -> ColumnResult:
    """Compare one numeric column; `new_sorted` holds the new batch's finite values, sorted."""
    n_ref, n_new = prof.n, len(new_sorted)
    details: dict[str, Any] = {
        "n_reference": n_ref,
        "n_new": n_new,
        "reference_missing_share": _share(prof.n_missing, prof.n_rows),
        "new_missing_share": _share(n_missing, n_rows),
        "new_infinite": n_rows - n_missing - n_new,
    }
    status, extra = _size_status(n_ref, n_new, thresholds)
    details.update(extra)
    if status is Status.ALL_MISSING:
        return _untested(name, NUMERIC, status, **details)
    if status is None and prof.constant:
        status = Status.CONSTANT
    d, w1 = _ks_wasserstein(prof, new_sorted)
    stat, p, method = _ks_test(prof, new_sorted, d)
    bins = np.searchsorted(new_sorted, prof.psi_edges, side="right")
    new_bins = np.diff(np.concatenate([[0], bins, [n_new]]))
    psi = _psi(prof.psi_counts / n_ref, new_bins / n_new, thresholds.psi_epsilon)
    details.update(
        ks_method=method,
        wasserstein=w1,
        reference_mean=prof.mean,
        reference_std=prof.std,
        new_mean=float(new_sorted.mean()),
        new_std=float(new_sorted.std(ddof=1)) if n_new > 1 else 0.0,
        new_constant=bool(new_sorted[0] == new_sorted[-1]),
    )
    effect = None
    if prof.constant:
        value = float(prof.knots[0])
        differ = n_new - int(np.sum(new_sorted == value))
        details.update(reference_value=value, new_share_different=differ / n_new)
    elif prof.std:  # None only if the spread overflowed a float
        effect = w1 / prof.std
    if prof.sketch:
        details.update(
            ks_error_bound=prof.ks_error_bound,
            wasserstein_error_bound=(prof.wasserstein_error_bound / prof.std if prof.std else None),
        )
    return ColumnResult(
        name, NUMERIC, "ks", stat, p, None, effect, psi, status or Status.OK, False, details
    )


def compare_categorical(
    name: str,
    prof: CategoricalProfile,
    new_categories: Sequence[str],
    new_counts: np.ndarray,
    n_missing: int,
    thresholds: DriftThresholds,
) -> ColumnResult:
    """Compare one categorical column from the new batch's counts per category."""
    index = {c: i for i, c in enumerate(prof.categories)}
    aligned = np.zeros(len(prof.categories), dtype=np.int64)
    unseen: list[tuple[str, int]] = []
    for category, count in zip(new_categories, np.asarray(new_counts).tolist(), strict=True):
        if category in index:
            aligned[index[category]] += count
        elif count:
            unseen.append((category, int(count)))
    unseen.sort(key=lambda pair: (-pair[1], pair[0]))
    n_ref, n_new = prof.n, int(aligned.sum()) + sum(c for _, c in unseen)
    details: dict[str, Any] = {
        "n_reference": n_ref,
        "n_new": n_new,
        "reference_missing_share": _share(prof.n_missing, prof.n_rows),
        "new_missing_share": _share(n_missing, n_new + n_missing),
    }
    status, extra = _size_status(n_ref, n_new, thresholds)
    details.update(extra)
    if status is Status.ALL_MISSING:
        return _untested(name, CATEGORICAL, status, **details)
    ref_counts = np.concatenate([prof.counts, np.zeros(len(unseen), dtype=np.int64)])
    new_all = np.concatenate([aligned, np.array([c for _, c in unseen], dtype=np.int64)])
    if unseen:
        details["unseen"] = {
            "categories": len(unseen),
            "rows": sum(c for _, c in unseen),
            "share": sum(c for _, c in unseen) / n_new,
            "listed": [c for c, _ in unseen[:_MAX_LISTED]],
        }
    if len(ref_counts) == 1:  # one category on both sides: nothing can differ
        details["category"] = prof.categories[0]
        return _untested(name, CATEGORICAL, status or Status.CONSTANT, **details)
    stat, dof, p = chi2_homogeneity(ref_counts, new_all)
    js = jensen_shannon(ref_counts, new_all)
    psi = _psi(ref_counts / n_ref, new_all / n_new, thresholds.psi_epsilon)
    details["dof"] = dof
    status = status or (Status.UNSEEN_CATEGORIES if unseen else Status.OK)
    return ColumnResult(name, CATEGORICAL, "chi2", stat, p, None, js, psi, status, False, details)


# --------------------------------------------------------------------------- decision


def benjamini_hochberg(p_values: Any) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values along the last axis, as false_discovery_control."""
    p = np.atleast_1d(np.asarray(p_values, dtype=np.float64))
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = p.shape[-1]
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(ranked)
    np.put_along_axis(out, order, np.minimum(ranked, 1.0), axis=-1)
    return out


def _decision(
    p: np.ndarray,
    effect: np.ndarray,
    min_effect: np.ndarray,
    weight: np.ndarray,
    alpha: float,
    dataset_share: float,
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """The rule itself, on the tested columns only: (p_adjusted, drifted, share, data set)."""
    p_adj = benjamini_hochberg(p)
    drifted = (p_adj < alpha) & (effect >= min_effect)
    total = float(weight.sum())
    share = float(weight[drifted].sum() / total) if total > 0 else 0.0
    return p_adj, drifted, share, bool(total > 0 and share >= dataset_share)


@dataclass(frozen=True)
class DriftResult:
    """A run's drift: every column, the data-set decision, and what was left out and why."""

    columns: list[ColumnResult]
    dataset_drift: bool
    drifted_share: float  # weighted share of tested columns that drifted; 0.0 if none tested
    n_tested: int
    n_drifted: int
    excluded: dict[str, str]  # column -> status, for columns outside the BH family and share
    thresholds: DriftThresholds
    weighted: bool

    def column(self, name: str) -> ColumnResult:
        for result in self.columns:
            if result.column == name:
                return result
        raise KeyError(name)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the database and the report; JSON-safe (no NaN, no infinity)."""
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_share": _num(self.drifted_share),
            "n_tested": self.n_tested,
            "n_drifted": self.n_drifted,
            "weighted": self.weighted,
            "excluded": dict(self.excluded),
            "thresholds": asdict(self.thresholds),
            "columns": [c.to_dict(full=True) for c in self.columns],
        }

    def to_json(self, indent: int | None = None) -> str:
        """What ``riskwatch drift --json`` prints (issue 4, item 6)."""
        body = {
            "dataset_drift": self.dataset_drift,
            "drifted_share": _num(self.drifted_share),
            "columns": [c.to_dict(full=False) for c in self.columns],
        }
        return json.dumps(body, indent=indent, allow_nan=False)


def decide(
    results: Sequence[ColumnResult],
    thresholds: DriftThresholds | None = None,
    weights: Mapping[str, float] | None = None,
) -> DriftResult:
    """Adjust the tested columns' p-values together and decide per column and for the data set.

    `weights` (feature importances) weigh the drifted share; a tested column without a weight
    weighs 0, which is also how to keep the prediction and the label out of the share.
    """
    th = thresholds or DriftThresholds()
    tested = [i for i, r in enumerate(results) if r.tested]
    if weights is not None:
        for key, value in weights.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"weight of column {key!r} must be a finite number >= 0")
    p = np.array([results[i].p_value for i in tested], dtype=np.float64)
    effect = np.array([results[i].effect_size for i in tested], dtype=np.float64)
    min_effect = np.array([th.min_effect(results[i].kind) for i in tested])
    weight = np.array(
        [1.0 if weights is None else float(weights.get(results[i].column, 0.0)) for i in tested]
    )
    p_adj, drifted, share, dataset = _decision(
        p, effect, min_effect, weight, th.alpha, th.dataset_share
    )
    out = list(results)
    for slot, i in enumerate(tested):
        out[i] = replace(results[i], p_adjusted=float(p_adj[slot]), drifted=bool(drifted[slot]))
    return DriftResult(
        columns=out,
        dataset_drift=dataset,
        drifted_share=share,
        n_tested=len(tested),
        n_drifted=int(drifted.sum()),
        excluded={r.column: str(r.status) for r in results if not r.tested},
        thresholds=th,
        weighted=weights is not None,
    )


def detect(
    profile: ReferenceProfile,
    frame: Any,
    thresholds: DriftThresholds | None = None,
    *,
    weights: Mapping[str, float] | None = None,
) -> DriftResult:
    """Compare a new batch (DataFrame or mapping of name to array) with the reference profile.

    Columns come in the profile's order, then columns only the new data has (``new_column``).
    """
    _check_fitted(profile)
    th = thresholds or DriftThresholds()
    names = _frame_names(frame)
    if weights is not None:
        for key in weights:
            if key not in profile.columns_ and key not in names:
                raise ValueError(f"weights name column {key!r}, which is in neither data set")
    results: list[ColumnResult] = []
    for name, prof in profile.columns_.items():
        if name not in names:
            results.append(_untested(name, prof.kind, Status.MISSING_IN_NEW))
            continue
        column = frame[names[name]]
        if isinstance(prof, NumericProfile):
            values = _as_float(column, f"column {name!r} is numeric in the reference profile but")
            is_finite = np.isfinite(values)
            finite = np.sort(values) if is_finite.all() else np.sort(values[is_finite])
            n_missing = int(np.isnan(values).sum())
            results.append(compare_numeric(name, prof, finite, len(values), n_missing, th))
        else:
            categories, counts, n_missing = _category_counts(column)
            results.append(compare_categorical(name, prof, categories, counts, n_missing, th))
    for name, key in names.items():
        if name not in profile.columns_:
            results.append(_untested(name, _infer_kind(frame[key]), Status.NEW_COLUMN))
    return decide(results, th, weights)


def persistent(history: Sequence[bool], m: int, n: int) -> bool:
    """True when at least `m` of the last `n` runs (oldest first in `history`) drifted."""
    if not (isinstance(m, int) and isinstance(n, int) and 1 <= m <= n):
        raise ValueError(f"persistence needs 1 <= m <= n, got m={m!r}, n={n!r}")
    return sum(bool(flag) for flag in list(history)[-n:]) >= m


# --------------------------------------------------------------------------- self-test


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
    rate is an underestimate (``notes`` says so).
    """
    _check_fitted(profile)
    th = thresholds or DriftThresholds()
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be an integer >= 1, got {runs!r}")
    rng = np.random.default_rng(seed)
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
    min_effect = np.array([th.min_effect(k) for k in kinds])
    weight_all = np.array([1.0 if weights is None else float(weights.get(c, 0.0)) for c in names])

    def decide_row(row: Sequence[ColumnResult]) -> tuple[np.ndarray, bool]:
        tested = np.array([res.tested for res in row])
        drifted = np.zeros(len(row), dtype=bool)
        if tested.any():
            chosen = [res for res, t in zip(row, tested, strict=True) if t]
            p = np.array([res.p_value for res in chosen], dtype=np.float64)
            eff = np.array([res.effect_size for res in chosen], dtype=np.float64)
            _, flags, _, dataset = _decision(
                p, eff, min_effect[tested], weight_all[tested], th.alpha, th.dataset_share
            )
            drifted[tested] = flags
            return drifted, dataset
        return drifted, False

    null_flags = np.zeros((runs, len(names)), dtype=bool)
    dataset_alarms = 0
    for r in range(runs):
        null_flags[r], dataset = decide_row(null[r])
        dataset_alarms += dataset
    power_hits = np.zeros(len(shifts))
    for r in range(runs):
        for si, (ci, _) in enumerate(shifts):
            row = list(null[r])
            row[ci] = shifted[r, si]
            power_hits[si] += decide_row(row)[0][ci]
    columns: dict[str, Any] = {}
    for ci, name in enumerate(names):
        statuses = Counter(str(res.status) for res in null[:, ci])
        tested_runs = [res for res in null[:, ci] if res.tested]
        entry: dict[str, Any] = {
            "kind": kinds[ci],
            "status": statuses.most_common(1)[0][0],
            "tested_share": len(tested_runs) / runs,
            "false_alarm_rate": None,
            "p_below_alpha_rate": None,
            "power": {},
        }
        if tested_runs:
            entry["false_alarm_rate"] = float(null_flags[:, ci].mean())
            below = sum(res.p_value < th.alpha for res in tested_runs)
            entry["p_below_alpha_rate"] = below / len(tested_runs)
        for si, (cj, shift) in enumerate(shifts):
            if cj == ci:
                entry["power"][shift] = float(power_hits[si] / runs) if tested_runs else None
        columns[name] = entry
    notes = []
    for name, prof in profile.columns_.items():
        if prof.n and batch_size > 0.05 * prof.n:
            notes.append(
                f"column {name!r}: the batch is {batch_size / prof.n:.0%} of the reference; "
                "the false-alarm rate is an underestimate"
            )
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
        "columns": columns,
        "notes": notes,
    }


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


# --------------------------------------------------------------------------- helpers


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _num(value)
    return value
