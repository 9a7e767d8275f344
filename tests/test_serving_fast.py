"""A request's fast path computes what the slow one does: a binary logistic regression's
probabilities without scikit-learn's input checks (pipeline.model.estimator._logistic_proba),
bit for bit, and left to scikit-learn for anything it would check."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.model.features import feature_frame
from pipeline.settings import Settings
from tests.test_api import RECORD, make_app
from tests.test_auth import bearer, new_token


def test_the_logistic_probabilities_are_scikit_learns_to_the_bit() -> None:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    from pipeline.model.estimator import _logistic_proba

    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 6)) * [1, 3, 0.1, 5, 1, 1]
    y = (x[:, 0] + rng.normal(size=300) > 0).astype(int)
    new = rng.normal(size=(50, 6)) * 40  # far outside: probabilities of 0 and 1 exactly too
    for fit, design in ((x, new), (sparse.csr_matrix(x), sparse.csr_matrix(new))):
        model = LogisticRegression().fit(fit, np.where(y == 1, "yes", "no"))
        fast = _logistic_proba(model, design)
        assert fast is not None
        np.testing.assert_array_equal(fast, model.predict_proba(design))  # bit for bit
    assert _logistic_proba(model, sparse.csr_matrix(new[:, :5])) is None  # another width
    bad = new.copy()
    for value in (np.nan, np.inf):
        bad[3, 2] = value
        assert _logistic_proba(LogisticRegression().fit(x, y), bad) is None  # sklearn refuses
    assert _logistic_proba(LogisticRegression().fit(x, y), np.asfortranarray(new)) is None
    assert _logistic_proba(LogisticRegression().fit(x, y), new.astype(np.float32)) is None
    named = LogisticRegression().fit(pd.DataFrame(x, columns=list("abcdef")), y)
    assert _logistic_proba(named, new) is None  # scikit-learn checks its names

    class Tuned(LogisticRegression):
        pass

    assert _logistic_proba(Tuned().fit(x, y), new) is None
    three = LogisticRegression().fit(x, rng.integers(0, 3, 300))
    assert _logistic_proba(three, new) is None


def test_a_request_is_predicted_as_the_model_predicts_it(predicting: Settings) -> None:
    """Through the API, on the default model (a logistic regression): the probabilities the
    request is answered with are the Pipeline's own predict_proba, exactly."""
    from pipeline.model import registry

    secret = new_token(predicting, "exact", "predict")
    with make_app(predicting) as app:
        client = app.test_client()
        answer = client.post("/prediction", json=[RECORD] * 12, headers=bearer(secret))
        assert answer.status_code == 200, answer.get_data(as_text=True)
        loaded = registry.load_production(app.extensions["riskwatch"].engine, predicting)
        frame = pd.DataFrame([RECORD] * 12)[loaded.features.columns]
        expected = loaded.model.predict_proba(feature_frame(frame, loaded.features))[:, 1]
        assert answer.get_json()["probabilities"] == expected.tolist()
