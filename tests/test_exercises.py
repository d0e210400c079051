"""Every exercise: its reference solution passes check, and each listed wrong answer fails with feedback."""
import pytest

from labutils import exercises

ALL = exercises.all_exercises()


def test_there_are_exercises():
    assert len(ALL) >= 2


@pytest.mark.parametrize("ex_id", sorted(ALL))
def test_reference_solution_passes(ex_id, capsys):
    ex = ALL[ex_id]
    assert exercises.check(ex_id, ex.solution), f"reference solution of {ex_id} fails its own check"
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("ex_id", sorted(ALL))
def test_wrong_answers_get_targeted_feedback(ex_id, capsys):
    ex = ALL[ex_id]
    assert ex.wrong, f"{ex_id} lists no wrong answers, so its check cannot be shown to fail"
    for answer in ex.wrong:
        assert not exercises.check(ex_id, answer)
        out = capsys.readouterr().out
        assert "✗" in out and len(out.strip()) > 40


@pytest.mark.parametrize("ex_id", sorted(ALL))
def test_hint_and_solution_print(ex_id, capsys):
    exercises.hint(ex_id)
    assert "💡" in capsys.readouterr().out
    exercises.solution(ex_id)
    assert len(capsys.readouterr().out.strip()) > 3


def test_unknown_id_lists_known_ones():
    with pytest.raises(exercises.ExerciseError) as err:
        exercises.check("00.nope", 1)
    assert "00.nope" in str(err.value) and next(iter(sorted(ALL))) in str(err.value)


def test_close_to_catches_slips():
    chk = exercises.close_to(10.0, mistakes=[(lambda v: v == 1.0, "off by ten")])
    assert chk(10.0000001) is None
    assert chk(1.0) == "off by ten"
    assert "too large" in chk(11)
    assert "number" in chk("ten")


def test_a_crashing_answer_is_feedback_not_a_traceback(capsys):
    ex_id = next(i for i, e in ALL.items() if callable(e.solution)) if any(
        callable(e.solution) for e in ALL.values()) else None
    if ex_id is None:
        pytest.skip("no function-valued exercise yet")

    def broken(*a, **k):
        raise RuntimeError("boom")
    assert not exercises.check(ex_id, broken)
    assert "RuntimeError: boom" in capsys.readouterr().out
