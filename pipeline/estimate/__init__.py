"""Performance without labels: a classifier's metrics estimated from its calibrated confidence.

Pure computation (NumPy, scikit-learn's isotonic regression), no file or database I/O:

- `calibration`: the map from the model's P(positive) to a calibrated one, chosen on its
  holdout at training time by cross-validated log loss (none, sigmoid or isotonic), as JSON;
- `cbpe`: confidence-based performance estimation: the expected confusion matrix and accuracy,
  precision, recall, F1 and ROC-AUC from it, with a simulated prediction interval;
- `reliability`: when an estimate must not be trusted (poor calibration, too few rows, recent
  estimates that missed their realised values), and why.

The run's step that loads the calibration, estimates per run and period and records the rows
is `pipeline.run.estimate_step`; the tables are `pipeline.storage.estimates`. Binary
classification only: `pipeline.model.estimator.predict` gives no multiclass probabilities, so
there is nothing to calibrate per class yet (said in the estimates' reason).
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list).
__all__ = ["calibration", "cbpe", "reliability"]
