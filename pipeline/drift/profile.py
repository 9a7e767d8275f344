"""The reference profile: a model version's training data summarised once, column by column.

`ReferenceProfile().fit(reference_frame)` summarises the data a model version was trained on (its
features, and its prediction and label as columns of their own, e.g. ``__prediction__`` and
``__target__``); `decision.detect` compares each new batch with it. What a column keeps is
described in `column_profile`. Only `ReferenceProfile.to_bytes` / `from_bytes` touch bytes
(a compressed .npz with a JSON header, no pickle); nothing here reads or writes files.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.drift.column_profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    fit_numeric,
)
from pipeline.drift.columns import (
    CATEGORICAL,
    KINDS,
    NUMERIC,
    as_float,
    category_counts,
    frame_names,
    infer_kind,
)

if TYPE_CHECKING:
    from pipeline.drift.columns import Table

_FORMAT = "riskwatch.drift.profile"
_FORMAT_VERSION = 1


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
        frame: Table,
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
        names = frame_names(frame)
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
            kind = kinds.get(name) or infer_kind(column)
            if kind == NUMERIC:
                values = as_float(column, f"column {name!r} was declared numeric but")
                profiles[name] = fit_numeric(values, self.exact_max, self.grid, self.psi_bins)
            else:
                categories, counts, n_missing = category_counts(column)
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
        check_fitted(self)
        return {name: profile.summary() for name, profile in self.columns_.items()}

    def to_bytes(self) -> bytes:
        """Serialise: compressed .npz with a JSON header (self-describing, no pickle)."""
        check_fitted(self)
        # Any, not ndarray: numpy's stubs would match `**arrays` against savez's allow_pickle.
        arrays: dict[str, Any] = {}
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


def _column_from_header(
    meta: dict[str, Any], i: int, arrays: dict[str, np.ndarray]
) -> ColumnProfile:
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


def check_fitted(profile: ReferenceProfile) -> None:
    """Refuse a profile that `fit` (or `from_bytes`) has not filled."""
    if not hasattr(profile, "columns_"):
        raise ValueError("this ReferenceProfile is not fitted yet; call fit() first")
