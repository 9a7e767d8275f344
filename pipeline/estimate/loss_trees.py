"""Gradient-boosted trees of a regressor's absolute error, as plain JSON: fit, apply.

NannyML's direct loss estimation models the loss with gradient boosting on the features and the
prediction, which follows an error that bends with the features or grows where two of them
meet, as no line can. Here scikit-learn's GradientBoostingRegressor (squared error, so each
leaf is a mean of |error|: the conditional mean the MAE is the average of) is fitted at training
time on the holdout's prediction and numeric features (missing values as the holdout's
median): 100 trees of depth 3, each on a subsample of 0.8. Its trees are then written out as arrays
(each node's feature, threshold, children, value) and applied by NumPy alone: the artifact is
numbers in the `calibrations` row, never a pickle, and estimating imports no scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# Shallow trees, shrunk steps, subsampled rows: the loss is a noisy target (one |error| a row),
# so every choice is on the side of a smooth fit. NannyML's DLE tunes nothing by default either.
TREE_PARAMS: dict[str, Any] = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "max_depth": 3,
    "subsample": 0.8,
}


def fit(x: np.ndarray, target: np.ndarray, *, seed: int) -> dict[str, Any]:
    """The trees of `target` (|error|) on `x` (rows x inputs, no NaN) as JSON parameters."""
    import numpy as np
    from sklearn.ensemble import GradientBoostingRegressor

    leaf = max(5, len(target) // 200)  # a leaf averages enough rows to be a mean, not a row
    model = GradientBoostingRegressor(**TREE_PARAMS, min_samples_leaf=leaf, random_state=seed)
    model.fit(x, target)
    trees = []
    for (est,) in model.estimators_:
        t = est.tree_
        trees.append(
            {
                "feature": t.feature.tolist(),
                "threshold": t.threshold.tolist(),
                "left": t.children_left.tolist(),
                "right": t.children_right.tolist(),
                "value": t.value[:, 0, 0].tolist(),
                "depth": int(t.max_depth),
            }
        )
    init = float(np.asarray(model.init_.constant_).ravel()[0])
    return {"init": init, "learning_rate": float(model.learning_rate), "trees": trees}


def apply(params: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """The trees' prediction of every row of `x` (the sum over the trees of the leaf each row
    falls in, scaled by the learning rate, plus the initial constant)."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    rows = np.arange(len(x))
    out = np.full(len(x), params["init"])
    for tree in params["trees"]:
        feature, threshold = np.asarray(tree["feature"]), np.asarray(tree["threshold"])
        left, right = np.asarray(tree["left"]), np.asarray(tree["right"])
        node = np.zeros(len(x), dtype=int)
        for _ in range(tree["depth"]):
            inner = left[node] >= 0
            # scikit-learn sends a row left when its value is <= the threshold.
            goes_left = x[rows, np.where(inner, feature[node], 0)] <= threshold[node]
            node = np.where(inner, np.where(goes_left, left[node], right[node]), node)
        out += params["learning_rate"] * np.asarray(tree["value"])[node]
    return out
