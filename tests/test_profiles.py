import pytest

from labutils.core import profiles


def test_explicit_beats_env_beats_auto():
    assert profiles.explain("smoke", {"LABUTILS_PROFILE": "gpu"}, cuda=True)[0] == "smoke"
    assert profiles.explain(None, {"LABUTILS_PROFILE": "smoke"}, cuda=True)[0] == "smoke"
    assert profiles.explain(None, {}, cuda=True) == ("gpu", "auto: a CUDA GPU is available")
    assert profiles.explain(None, {}, cuda=False)[0] == "cpu"
    assert profiles.explain("  CPU ", {}, cuda=False)[0] == "cpu"


def test_unknown_profile_is_one_sentence_naming_valid_ones():
    with pytest.raises(profiles.ProfileError) as err:
        profiles.explain("fast", {}, cuda=False)
    msg = str(err.value)
    assert "'fast'" in msg and "smoke, cpu, gpu" in msg and msg.count("\n") == 0
    with pytest.raises(profiles.ProfileError, match="LABUTILS_PROFILE"):
        profiles.explain(None, {"LABUTILS_PROFILE": "turbo"}, cuda=False)


def test_settings_pick_and_render():
    s = profiles.settings("cpu", smoke={"steps": 5}, cpu={"steps": 500, "lr": 1e-3}, gpu={"steps": 5000})
    assert s == {"steps": 500, "lr": 1e-3} and s.steps == 500 and s.profile == "cpu"
    assert "cpu *" in str(s) and "5000" in str(s)
    assert "✓" in s._repr_html_()
    with pytest.raises(AttributeError, match="steps, lr"):
        _ = s.batch_size
    with pytest.raises(profiles.ProfileError):
        profiles.settings("tpu", smoke={}, cpu={}, gpu={})


def test_current_follows_start(monkeypatch):
    import labutils
    monkeypatch.setenv("LABUTILS_PROFILE", "cpu")
    ctx = labutils.start("zz_test", profile="smoke", show=False)
    assert ctx.profile == "smoke" and profiles.current() == "smoke"
    assert profiles.settings(smoke={"n": 1}, cpu={"n": 2}, gpu={"n": 3}).n == 1
