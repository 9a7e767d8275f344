"""Calibrating a multiclass classifier's probabilities on its holdout: one map per class.

As NannyML's multiclass CBPE does, each class is calibrated one-vs-rest: the model's P(class c)
against "the label is c", the map chosen among none, sigmoid and isotonic by cross-validated
log loss exactly as a binary classifier's is (`calibration.choose`, the same folds, margin and
criterion), each class its own choice. The calibrated probabilities of a row are then divided
by their sum, so that they are a distribution over the classes again: the one-vs-rest maps are
fitted separately and need not add up to 1.

Its expected calibration error is the classwise ECE (the mean over classes of each class's
one-vs-rest ECE) of the normalised probabilities out of fold (each fold's maps fitted on the
other folds), the honest figure for rows the maps have not seen; `reliability` compares it with
the same threshold as a binary model's.

Stored as one `calibrations` row whose method is `ovr` and whose params hold the classes (as
text, in the model's order) and each class's binary calibration (`Calibration.to_json`). Pure;
NumPy imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.estimate.calibration import Calibration, choose, ece, out_of_fold
from pipeline.estimate.maps import METHODS, Drawn, apply_map, draws

if TYPE_CHECKING:
    import numpy as np

METHOD = "ovr"  # the `calibrations.method` of a multiclass calibration


def normalise(p: np.ndarray) -> np.ndarray:
    """Rows of per-class probabilities (last axis) divided by their sum; a row whose maps all
    say 0 becomes uniform."""
    import numpy as np

    total = p.sum(axis=-1, keepdims=True)
    uniform = np.full_like(p, 1.0 / p.shape[-1])
    return np.divide(p, total, out=uniform, where=total > 0)


@dataclass(frozen=True)
class MulticlassCalibration:
    """One calibration per class, one-vs-rest, and the classwise ECE of their normalised
    probabilities."""

    classes: list[str]  # as text, in the model's order (the columns of predict_proba)
    per_class: list[Calibration]
    ece: float  # classwise ECE of the normalised calibrated probabilities, out of fold
    ece_uncalibrated: float  # the same of the model's own probabilities
    holdout_rows: int

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """The calibrated, normalised probabilities of `proba` (rows x classes)."""
        return apply_all(self.params(), proba)

    def params(self) -> dict[str, Any]:
        return {"classes": self.classes, "per_class": [c.to_json() for c in self.per_class]}

    def to_json(self) -> dict[str, Any]:
        """The columns of its `calibrations` row."""
        return {
            "method": METHOD,
            "params": self.params(),
            "ece": self.ece,
            "ece_uncalibrated": self.ece_uncalibrated,
            "holdout_rows": self.holdout_rows,
            "criterion": "one-vs-rest per class, then normalised; each class: "
            + self.per_class[0].criterion,
            "candidates": {
                name: c.candidates for name, c in zip(self.classes, self.per_class, strict=True)
            },
        }


def apply_all(params: dict[str, Any], proba: np.ndarray) -> np.ndarray:
    """Each class's map applied to its column of `proba`, the rows normalised."""
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    cols = [
        apply_map(c["method"], c["params"], proba[:, i]) for i, c in enumerate(params["per_class"])
    ]
    return normalise(np.column_stack(cols) if cols else proba)


def classwise_ece(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    """Mean over classes of the one-vs-rest ECE: `y` the class index of each row, `p` rows x
    classes."""
    import numpy as np

    k = p.shape[1]
    return float(np.mean([ece((y == c).astype(float), p[:, c], bins) for c in range(k)]))


def too_small(y: np.ndarray, k: int, folds: int) -> str | None:
    """Why labels `y` (class indices of k classes; -1 a class the model does not know) cannot
    be cross-validated one-vs-rest, or None when they can."""
    import numpy as np

    y = np.asarray(y, dtype=int)
    fewest = min(int(np.sum(y == c)) for c in range(k))
    if fewest < folds or len(y) - fewest < folds:
        return (
            f"the holdout has {fewest} rows of its rarest class: too few to choose "
            f"a calibration per class by {folds}-fold cross-validation (each class needs {folds})"
        )
    return None


def choose_multiclass(
    proba: np.ndarray,
    y: np.ndarray,
    classes: list[str],
    *,
    folds: int,
    bins: int,
    seed: int,
    margin: float = 0.002,
    methods: tuple[str, ...] = METHODS,
) -> MulticlassCalibration:
    """Choose and fit one map per class on the holdout: `proba` the model's predict_proba (rows
    x classes, columns in the order of `classes`), `y` each row's class index. Raises
    ValueError when a class has too few rows (`too_small` says why)."""
    import numpy as np

    from pipeline.model.metrics import fold_ids

    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y, dtype=int)
    why = too_small(y, len(classes), folds)
    if why is not None:
        raise ValueError(why)
    per_class = []
    for c in range(len(classes)):
        fitted = choose(
            proba[:, c], (y == c).astype(float), folds=folds, bins=bins, seed=seed,
            margin=margin, methods=methods,
        )  # fmt: skip
        per_class.append(fitted)
    # The honest ECE: each class's chosen map out of fold, on folds stratified by class.
    fold = fold_ids(y, folds, seed, stratified=True)
    oof = np.column_stack(
        [
            out_of_fold(cal.method, proba[:, c], (y == c).astype(float), fold)
            for c, cal in enumerate(per_class)
        ]
    )
    return MulticlassCalibration(
        classes=list(classes),
        per_class=per_class,
        ece=classwise_ece(y, normalise(oof), bins),
        ece_uncalibrated=classwise_ece(y, proba, bins),
        holdout_rows=len(y),
    )


@dataclass(frozen=True)
class DrawnMulticlass:
    """`k` draws of every class's map (`maps.draws`), applied together and normalised."""

    per_class: list[Drawn]

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """The rows' normalised probabilities under each draw: shape (k, rows, classes)."""
        import numpy as np

        proba = np.asarray(proba, dtype=float)
        stacked = np.stack([d.apply(proba[:, i]) for i, d in enumerate(self.per_class)], axis=-1)
        return normalise(np.clip(stacked, 0.0, 1.0))


def draws_all(params: dict[str, Any], k: int, rng: np.random.Generator) -> DrawnMulticlass:
    """`k` maps of each class drawn from its calibration's uncertainty."""
    return DrawnMulticlass([draws(c["method"], c["params"], k, rng) for c in params["per_class"]])
