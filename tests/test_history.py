"""The one history record every loop returns (labutils.core.history)."""
from __future__ import annotations

import json

import pytest

from labutils.core.history import History, as_history, is_eval_series


def test_history_schema_log_and_series():
    h = History(seconds=1.5)
    for s in range(4):
        h.log(s, 2.0 - s * 0.1, lr=1e-3)
    h.log_eval(2, val_loss=1.9, val_accuracy=0.6)
    h.log_eval(4, val_loss=1.7, val_accuracy=0.7)
    assert h.series("train_loss") == ([0, 1, 2, 3], pytest.approx([2.0, 1.9, 1.8, 1.7]))
    assert h.series("val_accuracy") == ([2, 4], [0.6, 0.7])
    assert h.last("val_loss") == 1.7 and h.last("missing", 0) == 0
    assert set(h.series_names()) == {"train_loss", "lr", "val_loss", "val_accuracy"}
    assert as_history(json.loads(json.dumps(h))) == h          # a plain dict: JSON and checkpoints keep it


def test_history_rejects_misaligned_series_and_bad_names():
    h = History()
    h.log(0, 1.0)
    h["train_loss"].append(2.0)
    with pytest.raises(ValueError, match="train_loss has 2 values for 1 steps"):
        h.check()
    h = History()
    h.log_eval(1, val_loss=1.0)
    h["val_accuracy"] = [0.5, 0.6]
    with pytest.raises(ValueError, match="val_accuracy"):
        h.check()
    with pytest.raises(ValueError, match="val_<m>"):
        History().log_eval(1, accuracy=0.5)
    with pytest.raises(KeyError, match="it has"):
        History().series("val_f1")
    assert is_eval_series("train_eval_accuracy") and not is_eval_series("eval_step") and not is_eval_series("lr")


def test_every_loop_returns_the_same_schema():
    """Each training loop of the package returns a History (the cheap ones are run here)."""
    import numpy as np

    from labutils.chapters import heads
    from labutils.chapters.nnmath import make_curve_data, train_mlp_regression
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 8)).astype("float32"), (rng.random(60) > 0.5).astype("int64")
    r = heads.fit_head(X[:40], y[:40], X[40:], y[40:], epochs=3, batch_size=16)
    xt, yt, xv, yv = make_curve_data(n_train=8, n_val=16)
    m = train_mlp_regression(xt, yt, xv, yv, hidden=8, epochs=5)
    for h in (r.history, m):
        assert isinstance(h, History) and h.check() is h
        assert len(h["step"]) == len(h["train_loss"]) > 0 and len(h["eval_step"]) > 0
    assert r.history["eval_epoch"] == [1, 2, 3] and r.step_loss is r.history["train_loss"]


def test_time_to_loss_levels():
    h = History(eval_seconds=[])
    for step, val, sec in ((100, 2.0, 10.0), (200, 1.6, 20.0), (300, 1.44, 30.0)):
        h.log_eval(step, val_loss=val, eval_seconds=sec)
    table = h.time_to([1.8, 1.45, 1.0])
    assert table == [{"level": 1.8, "step": 200, "seconds": 20.0}, {"level": 1.45, "step": 300, "seconds": 30.0},
                     {"level": 1.0, "step": None, "seconds": None}]
