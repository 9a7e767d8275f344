"""Where riskwatch's ROC-AUC estimate errs on bench_estimation.py's data, and why: against the
expectation the rows' TRUE probabilities give, which the benchmark's data know and CBPE does not.

    .venv/bin/python bench/estimation_bias.py [--seeds 1-10] [--rows 5000] [--holdouts 30]

1. The benchmark's data (estimation_data.py, covariate scenario) regenerated per seed with the
   features kept, so each row's true P(y = 1 | x) is known. Per period, the expected ROC-AUC
   (`cbpe.expected_roc_auc`, ranking by the model's own score) from: the rows' true
   probabilities (what the estimate could at best be); riskwatch's calibration as chosen
   (isotonic blocks at their posterior mean, (positives + 1/2) / (rows + 1)); the same blocks at
   their raw share positives / rows (scikit-learn's IsotonicRegression, which NannyML's CBPE
   uses); centred isotonic regression (the same blocks' shares at their mean scores, joined
   by straight lines); bagged isotonic regression (the mean of 20 isotonic maps, each fitted on
   a bootstrap resample of the holdout). Reported: each one's out-of-fold log loss on the
   reference (5 folds, less riskwatch's: negative is better), its mean absolute error against
   the realised ROC-AUC, and its mean bias against the true probabilities' expectation, early
   (periods 0-6) and late (13-19).
2. The true rate of rows at the same model score early and late: whether P(y | score), which
   CBPE assumes fixed, moved with the shift.
3. The same calibrations where CBPE's assumption holds by construction: the model's score s,
   the truth sigmoid(slope * logit(s)) whatever the shift; a holdout of 20,000 uniform scores;
   new rows Beta(4, 1) (shifted to the top). Mean bias (and mean |bias|) over `holdouts` holdouts.

Not a timed benchmark; prints a table (a few minutes).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from estimation_data import features, labels

from pipeline.estimate import calibration, cbpe, maps


def true_p(x: np.ndarray) -> np.ndarray:
    logit = 1.5 * x[:, 0] - x[:, 1] + 0.8 * np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] - 0.5
    return 1 / (1 + np.exp(-logit))


def raw_blocks(params: dict) -> dict:
    """The fitted isotonic blocks at their raw shares (undoing the posterior mean; the blocks
    of the raw pool-adjacent-violators fit, pooled again where the raw shares must be)."""
    rows = np.asarray(params["rows"], dtype=float)
    positives = np.clip(np.asarray(params["mean"]) * (rows + 1) - 0.5, 0, rows)
    starts, means = maps.pool((positives / rows).tolist(), rows.tolist())
    return {**params, "mean": np.repeat(means, np.diff(np.r_[starts, len(rows)])).tolist()}


def centred(params: dict, scores: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Centred isotonic regression: the blocks' shares (posterior means) placed at each
    block's mean score and joined by straight lines (flat beyond the end blocks), strictly
    increasing where the steps are flat; `scores` the holdout's, which the blocks were fit on."""
    lo, hi = np.asarray(params["lo"]), np.asarray(params["hi"])
    block = np.clip(np.searchsorted(hi, scores, side="left"), 0, len(lo) - 1)
    at = np.bincount(block, weights=scores, minlength=len(lo)) / np.maximum(
        np.bincount(block, minlength=len(lo)), 1
    )
    share = np.asarray(params["mean"])
    return lambda s: np.interp(s, at, share)


def bagged(scores: np.ndarray, y: np.ndarray, fits: int = 20) -> Callable[[np.ndarray], np.ndarray]:
    """Bagged isotonic regression: the mean of `fits` isotonic maps (riskwatch's blocks),
    each fitted on a bootstrap resample of the holdout (seeded)."""
    rng = np.random.default_rng(0)
    drawn = [rng.integers(0, len(scores), len(scores)) for _ in range(fits)]
    each = [maps.fit_map("isotonic", scores[i], y[i]) for i in drawn]
    return lambda s: np.mean([maps.apply_map("isotonic", p, s) for p in each], axis=0)


def variants(
    params: dict, scores: np.ndarray, y: np.ndarray
) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The calibrations compared: riskwatch's isotonic blocks `params`, fitted on the holdout
    `scores` and labels `y`, and the others from the same blocks or the same holdout."""
    raw = raw_blocks(params)
    return {
        "riskwatch": lambda s: maps.apply_map("isotonic", params, s),
        "raw shares": lambda s: maps.apply_map("isotonic", raw, s),
        "centred": centred(params, scores),
        "bagged": bagged(scores, y),
    }


def oof_losses(ref: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Each variant's log loss on the reference, each fold's map fitted on the other folds."""
    from pipeline.model.metrics import fold_ids

    fold = fold_ids(y, 5, 0, stratified=True)
    out: dict[str, np.ndarray] = {}
    for k in np.unique(fold):
        test = fold == k
        params = maps.fit_map("isotonic", ref[~test], y[~test])
        for name, apply in variants(params, ref[~test], y[~test]).items():
            out.setdefault(name, np.empty(len(ref)))[test] = apply(ref[test])
    return {name: calibration.log_loss(y, p) for name, p in out.items()}


def benchmark_data(seed: int, rows: int, periods: int = 20) -> dict[str, np.ndarray]:
    """Per period: errors against the realised value and biases against the truth's."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)  # the draws of estimation_data.py, in its order
    x_train = features(rng, 50_000, None)
    model = HistGradientBoostingClassifier(random_state=0).fit(x_train, labels(rng, x_train))
    x_ref = features(rng, 20_000, None)
    ref, y_ref = model.predict_proba(x_ref)[:, 1], labels(rng, x_ref).astype(float)
    cal = calibration.choose(ref, y_ref, folds=5, bins=10, seed=0, margin=0.002)
    maps_ = variants(cal.params, ref, y_ref)
    out: dict[str, list] = {f"{k} {w}": [] for k in maps_ for w in ("error", "bias")}
    losses = oof_losses(ref, y_ref)
    for k in maps_:
        out[f"{k} loss"] = [losses[k] - losses["riskwatch"]]
    out["truth error"], out["score"], out["truth"], out["period"] = [], [], [], []
    for t in range(periods):
        x = features(rng, rows, t)
        s = model.predict_proba(x)[:, 1]
        y = labels(rng, x)
        real, p = roc_auc_score(y, s), true_p(x)
        best = cbpe.expected_roc_auc(p, s)
        out["truth error"].append(abs(best - real))
        for k, apply in maps_.items():
            e = cbpe.expected_roc_auc(apply(s), s)
            out[f"{k} error"].append(abs(e - real))
            out[f"{k} bias"].append(e - best)
        out["score"].append(s)
        out["truth"].append(p)
        out["period"].append(np.full(rows, t))
    if cal.method != "isotonic":
        print(f"  seed {seed}: calibration chose {cal.method}; its blocks are not used")
    return {k: np.concatenate(v) if k in ("score", "truth", "period") else np.array(v)
            for k, v in out.items()}  # fmt: skip


def assumption_holds(slope: float, holdouts: int) -> dict[str, tuple[float, float]]:
    biases: dict[str, list[float]] = {
        k: [] for k in ("riskwatch", "raw shares", "centred", "bagged")
    }
    for h in range(holdouts):
        rng = np.random.default_rng(200 + h)

        def truth(s: np.ndarray) -> np.ndarray:
            return maps.sigmoid(slope * maps.logit(s))

        held = rng.random(20_000)
        y = (rng.random(len(held)) < truth(held)).astype(float)
        cal = calibration.choose(held, y, folds=5, bins=10, seed=0, margin=0.002)
        if cal.method != "isotonic":
            continue
        s = rng.beta(4, 1, 5000)
        best = cbpe.expected_roc_auc(truth(s), s)
        for k, apply in variants(cal.params, held, y).items():
            biases[k].append(cbpe.expected_roc_auc(apply(s), s) - best)
    return {k: (float(np.mean(v)), float(np.mean(np.abs(v)))) for k, v in biases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-10", help="first-last seeds of the data")
    parser.add_argument("--rows", type=int, default=5000, help="rows per period")
    parser.add_argument("--holdouts", type=int, default=30)
    args = parser.parse_args()
    first, last = (int(v) for v in args.seeds.split("-"))
    runs = [benchmark_data(seed, args.rows) for seed in range(first, last + 1)]
    print(f"1. bench_estimation's data, seeds {args.seeds}, {args.rows:,} rows a period")
    print(f"  {'calibration':<13}{'MAE':>8}{'bias':>9}{'early':>9}{'late':>9}{'seeds below':>13}"
          f"{'oof loss':>11}{'seeds lower':>13}")  # fmt: skip
    for k in ("riskwatch", "raw shares", "centred", "bagged"):
        err = np.mean([r[f"{k} error"].mean() for r in runs])
        bias = np.stack([r[f"{k} bias"] for r in runs])
        below = sum(b.mean() < 0 for b in bias)
        loss = np.array([r[f"{k} loss"][0] for r in runs])
        print(f"  {k:<13}{err:>8.4f}{bias.mean():>+9.4f}{bias[:, :7].mean():>+9.4f}"
              f"{bias[:, 13:].mean():>+9.4f}{below:>9}/{len(runs)}{loss.mean():>+11.5f}"
              f"{int((loss < 0).sum()):>9}/{len(runs)}")  # fmt: skip
    print(f"  {'true p':<13}{np.mean([r['truth error'].mean() for r in runs]):>8.4f}")
    print("\n2. true rate of rows by model score, periods 0-2 against 17-19 (all seeds)")
    score = np.concatenate([r["score"] for r in runs])
    truth = np.concatenate([r["truth"] for r in runs])
    period = np.concatenate([r["period"] for r in runs])
    for lo, hi in ((0.03, 0.1), (0.5, 0.7), (0.9, 0.95), (0.95, 0.97), (0.97, 0.98)):
        cells = []
        for name, when in (("early", period <= 2), ("late", period >= 17)):
            m = when & (score >= lo) & (score < hi)
            cells.append(f"{name} {truth[m].mean():.4f} (mean score {score[m].mean():.4f})")
        print(f"  score [{lo}, {hi}): " + ", ".join(cells))
    print(f"\n3. CBPE's assumption holding, new rows Beta(4, 1), {args.holdouts} holdouts")
    for slope in (0.7, 1.0, 1.5):
        got = assumption_holds(slope, args.holdouts)
        print(f"  truth sigmoid({slope} logit s): " + ", ".join(
            f"{k} bias {m:+.4f} (|bias| {a:.4f})" for k, (m, a) in got.items()
        ))  # fmt: skip


if __name__ == "__main__":
    main()
