"""Headless progress bars print one finished line instead of a stale widget frame."""
from labutils.core import progress


def test_headless_bar_prints_one_finished_line(monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    bar = progress.tqdm(range(40), desc="MLM", leave=False)
    for i in bar:
        bar.set_postfix(loss=f"{i:.1f}")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    assert out[0].startswith("MLM: 100%") and "40/40" in out[0] and "loss=39.0" in out[0]


def test_headless_bar_quiet_when_disabled_or_empty(monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    with progress.tqdm(total=5, desc="off", disable=True) as bar:
        bar.update(5)
    progress.tqdm(total=5, desc="never started").close()
    assert capsys.readouterr().out == ""


def test_live_bar_is_tqdm_auto(monkeypatch):
    monkeypatch.setenv("LABUTILS_HEADLESS", "0")
    from tqdm.auto import tqdm as auto_tqdm
    bar = progress.tqdm(total=3, disable=True)
    assert isinstance(bar, auto_tqdm)
    bar.close()
