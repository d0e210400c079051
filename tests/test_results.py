import json

import numpy as np
import pytest
import torch

from labutils.core import results


def test_record_appends_json_lines(tmp_path, monkeypatch, capsys):
    target = tmp_path / "r.jsonl"
    monkeypatch.setenv("LABUTILS_RESULTS", str(target))
    results.set_notebook("99_test")
    assert results.record("val_loss", np.float32(1.5), steps=10) is None
    results.record("acc", torch.tensor(0.75))
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert [e["name"] for e in lines] == ["val_loss", "acc"]
    assert lines[0]["notebook"] == "99_test" and lines[0]["steps"] == 10
    assert lines[0]["value"] == 1.5 and lines[1]["value"] == 0.75
    assert {"profile", "time"} <= set(lines[0])
    assert "val_loss = 1.5" in capsys.readouterr().out
    assert results.latest(results.read(target)) == {"val_loss": 1.5, "acc": 0.75}
    assert results.read(target, notebook="other") == []


def test_record_without_target_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("LABUTILS_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    results.record("x", 1, show=False)
    assert list(tmp_path.iterdir()) == []
    assert results.read() == []


def test_record_rejects_empty_name():
    with pytest.raises(ValueError, match="non-empty"):
        results.record("", 1)


def test_to_jsonable_handles_odd_values(tmp_path):
    assert results.to_jsonable({"a": (1, np.int64(2)), "b": float("nan"), "p": tmp_path}) == {
        "a": [1, 2], "b": "nan", "p": str(tmp_path)}
    assert results.to_jsonable(torch.arange(3)) == [0, 1, 2]
