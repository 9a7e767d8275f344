"""Performance without labels: a classifier's metrics estimated from its calibrated confidence,
a regressor's mean absolute error from a model of its loss.

Pure computation, no file or database I/O; estimating takes NumPy only (scikit-learn fits the
loss model's trees, at training time):

- `maps`: the calibration maps (none, sigmoid, isotonic) as JSON parameters: fit, apply, and
  draw the maps the holdout could as well have given (the calibration's uncertainty);
- `calibration`: the map chosen on a binary model's holdout at training time by
  cross-validated log loss, with its expected calibration error;
- `multiclass`: a multiclass model's calibration: one map per class, one-vs-rest, each chosen
  as a binary model's is, the rows normalised to sum to 1; its classwise ECE;
- `cbpe`: confidence-based performance estimation of a binary classifier: the expected
  confusion matrix and accuracy, precision, recall, F1 and ROC-AUC from it, with a simulated
  prediction interval;
- `cbpe_multiclass`: the same for a multiclass classifier: the expected k x k confusion matrix,
  accuracy, macro precision, recall and F1, one-vs-rest macro ROC-AUC, simulated intervals;
- `loss`: direct loss estimation of a regressor's MAE: a model of |error| fitted on its holdout,
  linear or gradient-boosted trees (`loss_trees`) by cross-validated error, kept as JSON, with
  a normal interval;
- `reliability`: when an estimate must not be trusted (poor calibration, too few rows, recent
  estimates that missed their realised values), and why;
- `sorting`: the merge sort's permutation in less time (ranks, ROC-AUC's sums and isotonic
  blocks sum rows in it, so it must be that one to the last digit).

The run's step that loads the calibration, estimates per run and period and records the rows
is `pipeline.run.estimate_step` (a multiclass model's per-class probabilities come from its
predict_proba, `pipeline.model.estimator.class_probabilities`); the tables are
`pipeline.storage.estimates`.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list).
__all__ = [
    "calibration",
    "cbpe",
    "cbpe_multiclass",
    "loss",
    "loss_trees",
    "maps",
    "multiclass",
    "reliability",
]
