"""Labels that arrive later, the pure parts on literal frames: a labels file's checks, which
prediction each label resolves, what becomes of each label, realised performance against
scikit-learn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, roc_auc_score

from pipeline.labels.join import NO_MATCH, Known, counts, match, resolve
from pipeline.labels.realised import realised
from pipeline.labels.take import row_keys_of
from pipeline.labels.validate import (
    ERRORS_COLUMN,
    ROW_COLUMN,
    LabelFileError,
    check_labels,
    label_text,
)
from pipeline.predictions import MAX_KEY_BYTES
from pipeline.settings import load_settings

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def _check(frame: pd.DataFrame, values=(0, 1), numeric=True, ids=("corporation",)):
    return check_labels(
        frame, list(ids), "exited", "observed_at", values, numeric=numeric, keys=row_keys_of
    )


def test_ids_whose_key_is_longer_than_a_store_indexes_have_no_usable_id():
    """The key's UTF-8 bytes are what a store indexes: 2,000 of them pass, one more does not
    (counted in bytes: an id of é takes two a character), whatever the other rows hold."""
    room = MAX_KEY_BYTES - len('[""]')
    frame = pd.DataFrame(
        {
            "corporation": ["a" * room, "a" * (room + 1), "é" * (room // 2 + 1), "ok"],
            "exited": [1, 0, 1, 0],
        }
    )
    checked = _check(frame)
    assert checked.good["row_number"].tolist() == [0, 3]
    assert checked.invalid_by_type == {"no_id": 2}
    assert all("a key over 2,000 bytes" in e for e in checked.bad["_riskwatch_errors"])


def test_good_rows_get_their_key_label_and_time():
    frame = pd.DataFrame(
        {
            "corporation": ["acme", "bolt", "cyan"],
            "exited": [1, 0.0, "1"],
            "observed_at": ["2026-03-01T10:00:00Z", "", "2026-03-01 09:00+01:00"],
        }
    )
    checked = _check(frame)
    assert checked.rows_read == 3 and checked.invalid_by_type == {} and checked.bad.empty
    good = checked.good
    assert good["row_key"].tolist() == ['["acme"]', '["bolt"]', '["cyan"]']
    assert good["label"].tolist() == ["1", "0", "1"]
    assert good["row_number"].tolist() == [0, 1, 2]
    assert good["observed_at"][0] == pd.Timestamp("2026-03-01T10:00:00Z")
    assert pd.isna(good["observed_at"][1])  # empty: the label's time is when it was received
    assert good["observed_at"][2] == pd.Timestamp("2026-03-01T08:00:00Z")


def test_bad_rows_are_counted_by_type_and_kept_with_why():
    frame = pd.DataFrame(
        {
            "corporation": ["acme", None, " ", "dune", "eddy", "fern"],
            "exited": [1, 0, 1, 7, None, 0],
            "observed_at": ["2026-03-01", "2026-03-01", None, "2026-03-01", None, "yesterday"],
        }
    )
    checked = _check(frame)
    assert checked.invalid_by_type == {"no_id": 2, "invalid_label": 2, "bad_time": 1}
    assert checked.good["row_key"].tolist() == ['["acme"]']
    bad = checked.bad
    assert bad[ROW_COLUMN].tolist() == [2, 3, 4, 5, 6]  # 1-based data rows of the file
    assert bad[ERRORS_COLUMN].tolist() == [
        "no_id:corporation",
        "no_id:corporation",
        "invalid_label:exited",
        "invalid_label:exited",
        "bad_time:observed_at",
    ]
    assert len(checked.good) + len(bad) == checked.rows_read


@pytest.mark.parametrize(
    ("column", "present"),
    [("corporation", ["exited"]), ("exited", ["corporation"])],
)
def test_a_file_without_an_id_column_or_the_target_is_refused_whole(column, present):
    frame = pd.DataFrame({c: ["x"] for c in present})
    with pytest.raises(LabelFileError, match=f"'{column}' is missing|the target is missing"):
        _check(frame)


@pytest.mark.parametrize("garbage", ["not a time", "2026-13-45", "31/02/2026", "9999-99-99"])
def test_garbage_times_are_bad_rows(garbage):
    frame = pd.DataFrame({"corporation": ["a"], "exited": [1], "observed_at": [garbage]})
    assert _check(frame).invalid_by_type == {"bad_time": 1}


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("0999-06-01", "0999-06-01 00:00:00+00:00"),  # a time of its own, kept as it is
        ("0001-01-01", "0001-01-01 00:00:00+00:00"),
        ("9999-12-31T23:59:59", "9999-12-31 23:59:59+00:00"),
        ("0001-01-01T00:00:00+05:00", None),  # in UTC, year 0: no column holds it
        ("9999-12-31T23:59:59-05:00", None),  # in UTC, year 10000
    ],
)
def test_a_time_past_the_years_a_column_holds_is_a_bad_row_not_wrapped(text, stored):
    frame = pd.DataFrame({"corporation": ["a"], "exited": [1], "observed_at": [text]})
    checked = _check(frame)
    if stored is None:
        assert checked.invalid_by_type == {"bad_time": 1}
    else:
        assert checked.invalid_by_type == {}
        assert str(checked.good["observed_at"].iloc[0]) == stored


def test_numeric_times_are_refused_their_unit_would_be_a_guess():
    frame = pd.DataFrame({"corporation": ["a", "b"], "exited": [1, 0], "observed_at": [1, 2]})
    assert _check(frame).invalid_by_type == {"bad_time": 2}


def test_text_labels_and_regression_values():
    frame = pd.DataFrame({"corporation": ["a", "b", "c"], "exited": ["yes", "no", "maybe"]})
    checked = _check(frame, values=("no", "yes"), numeric=False)
    assert checked.good["label"].tolist() == ["yes", "no"]
    assert checked.invalid_by_type == {"invalid_label": 1}
    frame = pd.DataFrame({"corporation": ["a", "b", "c"], "exited": [1.5, "x", float("inf")]})
    checked = _check(frame, values=None)
    assert checked.good["label"].tolist() == ["1.5"]
    assert checked.invalid_by_type == {"invalid_label": 2}


@pytest.mark.parametrize("values", [None, ("yes", "no")])
def test_labels_without_a_hash_are_rows_checked_not_a_file_refused(values):
    # A JSON line's target can be a list or an object: its row is checked like any other.
    frame = pd.DataFrame(
        {"corporation": ["a", "b", "c", "d"], "exited": [["yes"], {"x": 1}, "yes", None]},
        dtype=object,
    )
    checked = _check(frame, values=values, numeric=False)
    if values is None:  # any label: the list and the object as their text
        assert checked.good["label"].tolist() == ["['yes']", "{'x': 1}", "yes"]
        assert checked.invalid_by_type == {"invalid_label": 1}
    else:
        assert checked.good["label"].tolist() == ["yes"]
        assert checked.invalid_by_type == {"invalid_label": 3}


def test_each_distinct_label_is_made_text_as_every_row_would_be():
    many = [1, 1.0, True, "1", "1.0", 0, None, float("nan"), "no", " ", 2.5] * 300
    frame = pd.DataFrame({"corporation": [f"c{i}" for i in range(len(many))], "exited": many})
    checked = _check(frame.astype({"exited": object}), values=None, numeric=False)
    one = [label_text(v) for v in many if v is not None and v == v and str(v).strip()]
    assert checked.good["label"].tolist() == one


def test_keys_are_the_predictions_keys_and_labels_are_canonical_text():
    ids = pd.DataFrame({"a": ["acme", "zoë", 'q"'], "b": [42.0, 7.0, 1.5]})
    assert row_keys_of(ids) == ['["acme","42"]', '["zoë","7"]', '["q\\"","1.5"]']
    assert [label_text(v) for v in (1, 1.0, True, 0.25, "yes")] == ["1", "1", "1", "0.25", "yes"]
    assert [label_text(v) for v in (np.int64(1), np.float64(0.0), np.bool_(True))] == [
        "1",
        "0",
        "1",
    ]


def _preds(rows):
    """Predictions: (key, at, created_at offset in days from T0)."""
    return pd.DataFrame(
        [
            {"row_key": k, "at": T0 + a * DAY, "created_at": T0 + c * DAY, "id": i}
            for i, (k, a, c) in enumerate(rows, 1)
        ]
    )


def _labels(rows):
    return pd.DataFrame([{"row_key": k, "at": T0 + a * DAY} for k, a in rows])


def test_a_label_resolves_the_latest_prediction_of_its_id_at_or_before_its_time():
    preds = _preds([("a", 0, 0), ("a", 5, 5), ("a", 9, 9), ("b", 1, 1)])
    labels = _labels([("a", 6), ("a", 5), ("a", 20), ("b", 0.5), ("c", 3)])
    found = match(labels, preds, max_wait=timedelta(0))
    assert found.tolist() == [1, 1, 2, NO_MATCH, NO_MATCH]


def test_of_two_predictions_at_one_time_the_one_made_last_is_resolved():
    preds = _preds([("a", 0, 1), ("a", 0, 3), ("a", 0, 2)])  # one row, three model versions
    assert match(_labels([("a", 4)]), preds, timedelta(0)).tolist() == [1]


def test_a_label_before_its_prediction_resolves_the_first_one_within_the_wait():
    preds = _preds([("a", 3, 3), ("a", 4, 4), ("b", 40, 40)])
    labels = _labels([("a", 1), ("b", 1)])
    assert match(labels, preds, timedelta(days=30)).tolist() == [0, NO_MATCH]
    assert match(labels, preds, timedelta(0)).tolist() == [NO_MATCH, NO_MATCH]


def test_no_predictions_no_match():
    labels = _labels([("a", 1)])
    empty = pd.DataFrame(columns=["row_key", "at", "created_at", "id"])
    assert match(labels, empty, timedelta(days=1)).tolist() == [NO_MATCH]


def _resolve(rows, known=None, now_days=1, wait=30):
    frame = pd.DataFrame(
        [{"label": lab, "identity": i, "received_at": T0 + r * DAY} for lab, i, r in rows]
    )
    known = known or Known({}, {}, frozenset())
    out = resolve(frame, known, T0 + now_days * DAY, timedelta(days=wait))
    return out["status"].tolist(), out["reason"].tolist()


def test_duplicates_count_once_and_conflicts_are_never_used():
    status, reason = _resolve(
        [("1", "f1:0", 0), ("1", "f1:0", 0), ("0", "f1:1", 0), ("1", "f1:1", 0), ("0", "f1:2", 0)]
    )
    assert status == ["joined", "duplicate", "conflict", "conflict", "joined"]
    assert "disagree ('0', '1')" in reason[2]


def test_what_the_database_knows_wins_over_a_new_label():
    known = Known({"src": "1"}, {"old": "0"}, frozenset({"bad"}))
    rows = [("1", "src", 0), ("0", "src", 0), ("0", "old", 0), ("1", "old", 0), ("1", "bad", 0)]
    status, reason = _resolve(rows, known)
    assert status == ["duplicate", "conflict", "duplicate", "conflict", "conflict"]
    assert "labelled '1' in its own data file" in reason[1]
    assert "joined to the label '0' before" in reason[3]


def _resolve_row_by_row(labels, known, now, wait):
    """What `resolve` decides, one identity at a time: the rules as the module states them."""
    status, reason = {}, {}
    for i, row in labels.iterrows():
        if pd.isna(row["identity"]):
            expired = pd.Timestamp(now) - pd.Timestamp(row["received_at"]) >= pd.Timedelta(wait)
            status[i] = "unmatched" if expired else "pending"
            reason[i] = (
                f"no prediction of its id within {wait.days} days of its time" if expired else None
            )
    matched = labels[labels["identity"].notna()]
    for name, group in matched.groupby("identity", sort=False):
        for i, value in group["label"].items():
            if name in known.source_labels:
                own = known.source_labels[name]
                status[i] = "duplicate" if value == own else "conflict"
                reason[i] = f"its row is labelled {own!r} in its own data file"
            elif name in known.joined:
                was = known.joined[name]
                status[i] = "duplicate" if value == was else "conflict"
                reason[i] = f"its row was joined to the label {was!r} before"
            elif name in known.conflicted:
                status[i], reason[i] = "conflict", "its row's labels conflict already"
            elif group["label"].nunique() > 1:
                seen = ", ".join(repr(v) for v in sorted(group["label"].unique()))
                status[i] = "conflict"
                reason[i] = f"labels of one row disagree ({seen}): none is used"
            elif i == group.index[0]:
                status[i], reason[i] = "joined", None
            else:
                status[i], reason[i] = "duplicate", "the same label again for its row"
    order = list(labels.index)
    return [status[i] for i in order], [reason[i] for i in order]


@pytest.mark.parametrize("seed", range(6))
def test_resolve_decides_as_the_rules_one_row_at_a_time(seed):
    rng = np.random.default_rng(seed)
    n = 400
    names = [f"f{rng.integers(3)}:{rng.integers(60)}" for _ in range(n)]
    frame = pd.DataFrame(
        {
            "label": rng.choice(["0", "1", "yes", "it's"], n, p=[0.45, 0.45, 0.05, 0.05]),
            "identity": [None if rng.random() < 0.15 else x for x in names],
            "received_at": [T0 + int(rng.integers(-40, 2)) * DAY for _ in range(n)],
        },
        index=rng.permutation(n) + 10,  # any index, kept
    )
    every = sorted({x for x in names})
    known = Known(
        {x: "1" for x in every[:15]}, {x: "0" for x in every[15:30]}, frozenset(every[30:40])
    )
    now, wait = T0 + DAY, timedelta(days=30)
    out = resolve(frame, known, now, wait)
    assert list(out.index) == list(frame.index)
    expected = _resolve_row_by_row(frame, known, now, wait)
    reasons = [None if r is None or r != r else r for r in out["reason"]]  # NaN: no reason
    assert (out["status"].tolist(), reasons) == expected
    assert set(out["status"]) >= {"joined", "duplicate", "conflict", "pending", "unmatched"}


def test_a_label_without_a_prediction_waits_then_is_unmatched():
    status, reason = _resolve([("1", None, 0), ("1", None, -31)], now_days=0)
    assert status == ["pending", "unmatched"]
    assert reason[1] == "no prediction of its id within 30 days of its time"
    assert counts(pd.Series(status)) == {
        "pending": 1,
        "joined": 0,
        "duplicate": 0,
        "conflict": 0,
        "unmatched": 1,
    }


def _settings(tmp_path, metric, task="classification"):
    (tmp_path / "riskwatch.toml").write_text(
        f'[model]\nmetric = "{metric}"\ntask = "{task}"\n[policy]\nbootstrap_samples = 200\n'
    )
    return load_settings(tmp_path / "riskwatch.toml", environ={})


def _joined(n=120, seed=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    proba = np.clip(0.6 * y + rng.normal(0.2, 0.25, n), 0, 1)
    pred = (proba >= 0.5).astype(int)
    starts = pd.to_datetime(["2026-03-02", "2026-03-09"], utc=True)
    return pd.DataFrame(
        {
            "label": [str(v) for v in y],
            "prediction": pred.astype(float),
            "predicted_label": [str(v) for v in pred],
            "probability": proba,
            "period_start": starts[np.arange(n) % 2],
            "model_version": 1 + (np.arange(n) % 3 == 0),
        }
    )


@pytest.mark.parametrize(
    ("metric", "sk"),
    [
        ("f1", lambda y, p, s: f1_score(y, p)),
        ("accuracy", lambda y, p, s: accuracy_score(y, p)),
        ("roc_auc", lambda y, p, s: roc_auc_score(y, s)),
    ],
)
def test_realised_performance_is_scikit_learns_per_period_and_version(tmp_path, metric, sk):
    rows = _joined()
    results = realised(rows, _settings(tmp_path, metric), numeric=True)
    assert len(results) == 4  # 2 periods x 2 versions
    for r in results:
        part = rows[(rows.period_start == r.period_start) & (rows.model_version == r.model_version)]
        y = part["label"].astype(int).to_numpy()
        expected = sk(y, part["prediction"].astype(int), part["probability"])
        assert r.score.value == pytest.approx(expected, abs=1e-12)
        assert r.score.n_rows == len(part)
        assert r.score.ci_low <= r.score.value <= r.score.ci_high


def test_realised_performance_of_text_classes_and_of_regression(tmp_path):
    rows = _joined()
    rows["label"] = rows["label"].map({"0": "stay", "1": "leave"})
    rows["predicted_label"] = rows["predicted_label"].map({"0": "stay", "1": "leave"})
    [first, *_] = realised(rows, _settings(tmp_path, "accuracy"), numeric=False)
    part = rows[(rows.period_start == first.period_start) & (rows.model_version == 1)]
    assert first.score.value == pytest.approx(accuracy_score(part.label, part.predicted_label))
    rows = _joined()
    rows["label"] = [str(v) for v in np.linspace(0, 10, len(rows))]
    rows["prediction"] = np.linspace(0.5, 9, len(rows))
    rows["probability"] = np.nan
    [first, *_] = realised(rows, _settings(tmp_path, "mae", "regression"), numeric=True)
    part = rows[(rows.period_start == first.period_start) & (rows.model_version == 1)]
    assert first.score.value == pytest.approx(
        mean_absolute_error(part.label.astype(float), part.prediction)
    )


def test_an_integer_written_with_a_zero_fraction_is_the_integer():
    """A labels CSV written from a float column ("42.0") finds the predictions of integer ids
    (42), whichever side is text; leading zeros stay significant; Arrow and Python agree."""
    from pipeline.predictions import row_key, value_text

    assert [value_text(v) for v in ("42.0", "-7.00", "007.0", "-0.0", "0.0")] == [
        "42",
        "-7",
        "7",
        "0",
        "0",
    ]
    kept = ("00042", "42.5", "42.", "4e1", "42.0\n", " 42.0", "١٢.0", "42.0.0", "-", ".0")
    assert [value_text(v) for v in kept] == list(kept)
    huge = "9" * 5000 + ".0"  # beyond what int() reads: still its integer's text
    assert value_text(huge) == "9" * 5000
    texts = pd.DataFrame(
        {"a": ["42.0", "00042", "x", None, huge], "b": ["1.0", "2", "3", "4", "5"]}
    )
    numbers = pd.DataFrame({"a": [42, 42, 1, 2, int("9" * 30)], "b": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert row_keys_of(texts)[:3] == ['["42","1"]', '["00042","2"]', '["x","3"]']
    assert row_keys_of(numbers)[0] == row_keys_of(texts)[0]
    assert row_keys_of(texts)[1] != row_keys_of(numbers)[1]
    for frame in (texts, numbers):
        expected = [row_key(list(r)) for r in frame.itertuples(index=False)]
        assert row_keys_of(frame) == expected


@pytest.mark.parametrize(("mark", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_of_another_delimiter_says_so(mark, name):
    frame = pd.DataFrame({f"corporation{mark}exited": [f"a{mark}1"]})
    with pytest.raises(LabelFileError, match=f"looks delimited by {name}"):
        _check(frame)
