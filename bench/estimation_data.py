"""The data of bench_estimation.py: a model, its labelled reference, and 20 periods without labels.

    python bench/estimation_data.py OUTDIR [--rows-per-period N] [--periods N] [--seed N]

Five numeric features x1..x5, standard normal in the training data; the label is drawn from a
known relation, P(y = 1 | x) = sigmoid(1.5 x1 - x2 + 0.8 sin(2 x3) + 0.5 x4 - 0.5) (x5 is
noise). A scikit-learn HistGradientBoostingClassifier is fitted on 50,000 rows; its reference
(the holdout both tools calibrate on, as a model's holdout is) is 20,000 more rows, with labels.

The analysis data: `periods` periods of `rows-per-period` rows whose covariates shift more and
more (period t: x1 + 0.075 t, x2 - 0.05 t, x4 scaled by 1 + 0.03 t), in two scenarios:

- `covariate`: the relation stays as it was (CBPE's assumption holds);
- `concept`: the same shift, and from period 8 the relation changes, the weight of x1 falling
  from 1.5 to -0.5 by the last period (no estimate from the model's confidence can see this).

Written as Parquet: reference.parquet (proba, pred, y), analysis_<scenario>.parquet (period,
proba, pred: the model's outputs only; the labels are held back) and, for the parent only,
realised_<scenario>.json: each period's realised F1, ROC-AUC and accuracy (scikit-learn's, on
the labels drawn). Prints what it wrote as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["x1", "x2", "x3", "x4", "x5"]
SCENARIOS = ("covariate", "concept")
CONCEPT_FROM = 8  # the first period whose relation differs, in the concept scenario


def weight_x1(scenario: str, period: int, periods: int) -> float:
    if scenario == "covariate" or period < CONCEPT_FROM:
        return 1.5
    return 1.5 - 2.0 * (period - CONCEPT_FROM + 1) / (periods - CONCEPT_FROM)


def features(rng: np.random.Generator, n: int, period: int | None) -> np.ndarray:
    x = rng.normal(size=(n, len(FEATURES)))
    if period is not None:
        x[:, 0] += 0.075 * period
        x[:, 1] -= 0.05 * period
        x[:, 3] *= 1 + 0.03 * period
    return x


def labels(rng: np.random.Generator, x: np.ndarray, w1: float = 1.5) -> np.ndarray:
    logit = w1 * x[:, 0] - x[:, 1] + 0.8 * np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] - 0.5
    return (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(int)


def realised(y: np.ndarray, pred: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    return {
        "f1": float(f1_score(y, pred)),
        "roc_auc": float(roc_auc_score(y, proba)),
        "accuracy": float(accuracy_score(y, pred)),
    }


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows-per-period", type=int, default=5000)
    parser.add_argument("--periods", type=int, default=20)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    x_train = features(rng, 50_000, None)
    model = HistGradientBoostingClassifier(random_state=0).fit(x_train, labels(rng, x_train))
    x_ref = features(rng, 20_000, None)
    ref_proba = model.predict_proba(x_ref)[:, 1]
    reference = pd.DataFrame(
        {"proba": ref_proba, "pred": (ref_proba >= 0.5).astype(int), "y": labels(rng, x_ref)}
    )
    reference.to_parquet(args.out / "reference.parquet")
    made = {"reference_rows": len(reference), "reference": realised(
        reference["y"].to_numpy(), reference["pred"].to_numpy(), ref_proba
    )}  # fmt: skip
    for scenario in SCENARIOS:
        frames, truth = [], []
        for t in range(args.periods):
            x = features(rng, args.rows_per_period, t)
            proba = model.predict_proba(x)[:, 1]
            pred = (proba >= 0.5).astype(int)
            y = labels(rng, x, weight_x1(scenario, t, args.periods))
            frames.append(pd.DataFrame({"period": t, "proba": proba, "pred": pred}))
            w1 = weight_x1(scenario, t, args.periods)
            share = float(y.mean())
            truth.append({"period": t, "weight_x1": w1, "positive_share": share,
                          **realised(y, pred, proba)})  # fmt: skip
        pd.concat(frames, ignore_index=True).to_parquet(args.out / f"analysis_{scenario}.parquet")
        (args.out / f"realised_{scenario}.json").write_text(json.dumps(truth))
        made[scenario] = truth
    made.update(periods=args.periods, rows_per_period=args.rows_per_period, seed=args.seed)
    print(json.dumps(made))


if __name__ == "__main__":
    main()
