"""labutils.metrics: our evaluate modules against hand-computed values, scikit-learn and the maths.

Every module is loaded once per test session (module-scoped fixture) under a private cache home.
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
import string
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from labutils.eval import metrics

ROOT = Path(__file__).resolve().parent.parent
METRICS_DIR = ROOT / "labutils" / "eval" / "metrics"
NAMES = ["accuracy", "exact_match", "perplexity_from_losses", "precision_recall_f1", "seqeval"]


def _repo_files() -> set[str]:
    """Files under labutils/eval/metrics, bytecode caches left out."""
    return {str(p.relative_to(METRICS_DIR)) for p in METRICS_DIR.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private LABUTILS_HOME for the whole module, without user overrides of evaluate's caches."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("metrics_home")
    mp.setenv("LABUTILS_HOME", str(path))
    mp.delenv("HF_MODULES_CACHE", raising=False)
    mp.delenv("HF_METRICS_CACHE", raising=False)
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def m(home):
    """The five modules, loaded once: m["accuracy"].compute(...)."""
    before = _repo_files()
    loaded = {name: metrics.load(name) for name in NAMES}
    assert _repo_files() == before, "loading a metric wrote into the repository"
    return loaded


def _module_of(instance) -> types.ModuleType:
    """The Python module evaluate imported for a loaded metric (to reach its plain functions)."""
    return sys.modules[type(instance).__module__]


# ------------------------------------------------------------------------------ package API
def test_available_lists_each_module_directory():
    assert metrics.available() == NAMES
    for name in NAMES:
        assert Path(metrics.path(name)) == METRICS_DIR / name
        assert (METRICS_DIR / name / f"{name}.py").is_file()


def test_aliases_resolve_to_precision_recall_f1():
    for alias in ("f1", "precision", " Recall "):
        assert metrics.path(alias) == str(METRICS_DIR / "precision_recall_f1")


def test_unknown_name_is_one_sentence_listing_the_valid_names():
    with pytest.raises(metrics.MetricError) as info:
        metrics.load("bleu")
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert "'bleu'" in msg and all(name in msg for name in NAMES)
    assert msg.count(". ") == 0 and msg.endswith(".") and "\n" not in msg
    with pytest.raises(ValueError):
        metrics.path("accuracy2")


@pytest.mark.parametrize("name", NAMES)
def test_module_file_follows_the_house_rules(name, m):
    source = (METRICS_DIR / name / f"{name}.py").read_text(encoding="utf-8")
    # evaluate's import scanner misreads "import datasets, evaluate": separate lines only.
    assert re.search(r"^import datasets$", source, re.M) and re.search(r"^import evaluate$", source, re.M)
    assert not re.search(r"^import [^\n]*,", source, re.M)
    assert ast.get_docstring(ast.parse(source)), f"{name}.py has no module docstring"
    module = m[name]
    assert module.name == name                      # class name -> snake case = directory name
    assert module.description.strip() and module.citation.strip() and module.inputs_description.strip()
    assert module.features and module.reference_urls
    assert type(module).__doc__


def test_load_is_offline_and_writes_under_the_cache_home(tmp_path):
    """A fresh interpreter with the network cut: plain evaluate.load(dir or .py) and our load()."""
    script = textwrap.dedent("""
        import json, os, socket
        def no_network(*args, **kwargs):
            raise OSError("network is disabled in this test")
        socket.socket.connect = no_network
        socket.create_connection = no_network
        import evaluate
        from labutils.eval import metrics
        names = {}
        for name in metrics.available():
            a = evaluate.load(metrics.path(name))
            b = evaluate.load(os.path.join(metrics.path(name), name + ".py"))
            c = metrics.load(name)
            names[name] = [a.name, b.name, c.name]
        combined = evaluate.combine([metrics.path("accuracy"), metrics.path("precision_recall_f1")])
        names["combined"] = combined.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
        print(json.dumps(names))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "LABUTILS_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), LABUTILS_HOME=str(tmp_path / "lab"))
    before = _repo_files()
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for name in NAMES:
        assert out[name] == [name, name, name]
    # accuracy 3/4; binary P = 1/2 (TP 1, FP 1), R = 1/1, F1 = 2/(2+1+0) = 2/3
    assert out["combined"] == pytest.approx({"accuracy": 0.75, "precision": 0.5, "recall": 1.0, "f1": 2 / 3})
    # plain evaluate copies into HF_HOME/modules; ours into LABUTILS_HOME/evaluate; nothing into the repo
    assert (tmp_path / "hf" / "modules" / "evaluate_modules" / "metrics" / "accuracy").is_dir()
    ours = list((tmp_path / "lab" / "evaluate" / "modules").glob("labutils_metric_modules_*/metrics/*/*/*.py"))
    assert {p.stem for p in ours} >= set(NAMES)
    assert _repo_files() == before


def test_load_respects_a_users_hf_modules_cache(tmp_path, monkeypatch, home):
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "mods"))
    metrics.load("accuracy")
    assert list((tmp_path / "mods").glob("labutils_metric_modules_*/metrics/accuracy/*/accuracy.py"))


def test_load_defaults_keep_predictions_in_memory(m):
    assert m["accuracy"].keep_in_memory is True
    assert not metrics.load("accuracy", keep_in_memory=False).keep_in_memory


# ------------------------------------------------------------------------------ accuracy
def test_accuracy_by_hand(m):
    acc = m["accuracy"]
    # pairs (0,0) (1,1) (1,0) (0,0): 3 of 4 equal
    assert acc.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0]) == {"accuracy": 0.75}
    assert acc.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0], normalize=False) == {"accuracy": 3.0}
    # correct at 0, 1, 3 with weights 1, 2, 4; total weight 10 -> 7/10
    out = acc.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0], sample_weight=[1, 2, 3, 4])
    assert out["accuracy"] == pytest.approx(0.7)
    # label strings: cat==cat (weight 3), dog!=cat (weight 1) -> 3/4
    assert acc.compute(predictions=["cat", "dog"], references=["cat", "cat"], sample_weight=[3, 1]) == {"accuracy": 0.75}
    assert acc.compute(predictions=np.array([2, 2]), references=np.array([2, 1])) == {"accuracy": 0.5}


def test_accuracy_refuses_probabilities_and_mismatched_lengths(m):
    with pytest.raises(ValueError, match="argmax"):
        m["accuracy"].compute(predictions=[0.7, 0.2], references=[1, 0])
    with pytest.raises(ValueError):
        m["accuracy"].compute(predictions=[0, 1, 1], references=[0, 1])


def test_accuracy_matches_sklearn_on_random_inputs(m):
    from sklearn.metrics import accuracy_score
    rng = np.random.default_rng(0)
    for trial in range(20):
        n, k = int(rng.integers(1, 40)), int(rng.integers(2, 6))
        y, p = rng.integers(0, k, n), rng.integers(0, k, n)
        w = rng.random(n) if trial % 2 else None
        normalize = trial % 3 != 0
        ours = m["accuracy"].compute(predictions=p, references=y, sample_weight=w, normalize=normalize)
        assert ours["accuracy"] == pytest.approx(accuracy_score(y, p, sample_weight=w, normalize=normalize))


# ------------------------------------------------------------------------------ precision / recall / F1
def test_precision_recall_f1_binary_by_hand(m):
    prf = m["precision_recall_f1"]
    # refs 1 0 0 1 1, preds 1 1 0 0 1: TP = 2 (0, 4), FP = 1 (1), FN = 1 (3)
    # P = 2/3, R = 2/3, F1 = 2*2/(2*2+1+1) = 2/3
    out = prf.compute(predictions=[1, 1, 0, 0, 1], references=[1, 0, 0, 1, 1])
    assert out == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    # pos_label=0: TP = 1 (2), FP = 1 (3), FN = 1 (1) -> 1/2 each
    out = prf.compute(predictions=[1, 1, 0, 0, 1], references=[1, 0, 0, 1, 1], pos_label=0)
    assert out == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    # string labels with pos_label="pos": TP 1, FP 0, FN 1 -> P 1, R 1/2, F1 2/3
    out = prf.compute(predictions=["pos", "neg", "neg"], references=["pos", "pos", "neg"], pos_label="pos")
    assert out == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3})


def test_precision_recall_f1_averages_by_hand(m):
    prf = m["precision_recall_f1"]
    preds, refs = [0, 1, 2, 2], [0, 1, 1, 2]
    # class 0: TP 1, predicted 1, true 1 -> P 1,   R 1,   F1 1
    # class 1: TP 1, predicted 1, true 2 -> P 1,   R 1/2, F1 2/3
    # class 2: TP 1, predicted 2, true 1 -> P 1/2, R 1,   F1 2/3
    macro = prf.compute(predictions=preds, references=refs, average="macro")
    assert macro == pytest.approx({"precision": 2.5 / 3, "recall": 2.5 / 3, "f1": (1 + 2 / 3 + 2 / 3) / 3})
    # micro pools TP 3, predicted 4, true 4 -> 3/4 = accuracy
    micro = prf.compute(predictions=preds, references=refs, average="micro")
    assert micro == pytest.approx({"precision": 0.75, "recall": 0.75, "f1": 0.75})
    # weighted by support 1, 2, 1: P (1 + 2 + .5)/4, R (1 + 1 + 1)/4, F1 (1 + 4/3 + 2/3)/4
    weighted = prf.compute(predictions=preds, references=refs, average="weighted")
    assert weighted == pytest.approx({"precision": 0.875, "recall": 0.75, "f1": 0.75})
    per_class = prf.compute(predictions=preds, references=refs, average=None)
    assert per_class["labels"] == [0, 1, 2]
    assert per_class["f1"] == pytest.approx([1, 2 / 3, 2 / 3])
    # labels restricts the classes: macro over {1, 2} -> P (1 + .5)/2, R (.5 + 1)/2
    sub = prf.compute(predictions=preds, references=refs, average="macro", labels=[1, 2])
    assert sub == pytest.approx({"precision": 0.75, "recall": 0.75, "f1": 2 / 3})


def test_precision_recall_f1_zero_division(m):
    prf = m["precision_recall_f1"]
    # nothing predicted positive: P = 0/0, R = 0/1, F1 = 0/(0+1) = 0
    assert prf.compute(predictions=[0, 0], references=[0, 1]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert prf.compute(predictions=[0, 0], references=[0, 1], zero_division=1.0) == {
        "precision": 1.0, "recall": 0.0, "f1": 0.0}
    out = prf.compute(predictions=[0, 0], references=[0, 1], zero_division=float("nan"))
    assert math.isnan(out["precision"]) and out["recall"] == 0.0
    with pytest.warns(RuntimeWarning, match="ill-defined"):
        prf.compute(predictions=[0, 0], references=[0, 1], zero_division="warn")


def test_precision_recall_f1_refuses_bad_settings(m):
    prf = m["precision_recall_f1"]
    with pytest.raises(ValueError, match="binary"):
        prf.compute(predictions=[0, 1, 2], references=[0, 1, 2])          # three classes, average="binary"
    with pytest.raises(ValueError, match="pos_label"):
        prf.compute(predictions=["a", "b"], references=["a", "b"])        # pos_label=1 is not a label
    with pytest.raises(ValueError, match="average"):
        prf.compute(predictions=[0, 1], references=[0, 1], average="samples")
    with pytest.raises(ValueError, match="zero_division"):
        prf.compute(predictions=[0, 1], references=[0, 1], zero_division=0.5)


@pytest.mark.parametrize("average", ["binary", "macro", "micro", "weighted", None])
def test_precision_recall_f1_matches_sklearn_on_random_inputs(average, m):
    from sklearn.metrics import precision_recall_fscore_support
    rng = np.random.default_rng(1)
    for trial in range(24):
        k = 2 if average == "binary" else int(rng.integers(2, 6))
        n = int(rng.integers(1, 25))                  # small: classes often missing -> zero division
        y, p = rng.integers(0, k, n), rng.integers(0, k, n)
        w = rng.random(n) if trial % 4 == 1 else None
        zd = [0.0, 1.0, np.nan][trial % 3]
        labels = None
        if average != "binary" and trial % 4 == 3:
            labels = sorted(rng.choice(k + 1, size=int(rng.integers(1, k + 1)), replace=False).tolist())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sp, sr, sf, _ = precision_recall_fscore_support(y, p, average=average, labels=labels,
                                                            sample_weight=w, zero_division=zd)
        ours = m["precision_recall_f1"].compute(predictions=p, references=y, average=average, labels=labels,
                                                sample_weight=w, zero_division=zd)
        for key, theirs in (("precision", sp), ("recall", sr), ("f1", sf)):
            np.testing.assert_allclose(ours[key], theirs, rtol=1e-12, atol=1e-12, equal_nan=True,
                                       err_msg=f"{key} average={average} labels={labels} zd={zd} y={y} p={p}")


# ------------------------------------------------------------------------------ seqeval
def test_seqeval_spans_by_hand(m):
    get = _module_of(m["seqeval"]).get_entities
    assert get(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 1), ("LOC", 3, 3)]
    # I- without B-: lenient starts an entity, strict ignores it
    assert get(["O", "I-PER", "I-PER"]) == [("PER", 1, 2)]
    assert get(["O", "I-PER", "I-PER"], mode="strict") == []
    assert get(["I-LOC", "O"]) == [("LOC", 0, 0)]                       # I- at sentence start
    # type change inside an entity: a new entity begins (lenient) or the I- is invalid (strict)
    assert get(["B-PER", "I-LOC", "I-LOC"]) == [("PER", 0, 0), ("LOC", 1, 2)]
    assert get(["B-PER", "I-LOC", "I-LOC"], mode="strict") == [("PER", 0, 0)]
    assert get(["B-PER", "I-PER", "I-LOC", "I-PER"]) == [("PER", 0, 1), ("LOC", 2, 2), ("PER", 3, 3)]
    assert get(["B-PER", "B-PER"]) == [("PER", 0, 0), ("PER", 1, 1)]    # B- after B-: two entities
    assert get(["O", "B-ORG", "I-ORG"]) == [("ORG", 1, 2)]              # entity running to the end
    assert get(["B-MISC-X", "I-MISC-X"]) == [("MISC-X", 0, 1)]          # type with a hyphen
    assert get(["O", "O"]) == [] and get([]) == []
    for bad in (["E-PER"], ["PER"], ["B-"], ["B_PER"]):
        with pytest.raises(ValueError, match="BIO"):
            get(bad)


def test_seqeval_scores_by_hand(m):
    refs = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "O", "B-PER"]]
    preds = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["I-ORG", "O", "B-LOC"]]
    # reference entities: PER(s0, 0-1), LOC(s0, 3-4), ORG(s1, 0-0), PER(s1, 2-2)           -> 4
    # predicted (lenient): PER(s0, 0-1) ok, LOC(s0, 3-3) wrong end, ORG(s1, 0-0) ok, LOC(s1, 2-2) -> 4, TP 2
    # tags: s0 4/5 right, s1 1/3 right -> 5/8
    out = m["seqeval"].compute(predictions=preds, references=refs)
    assert out["overall_precision"] == pytest.approx(0.5) and out["overall_recall"] == pytest.approx(0.5)
    assert out["overall_f1"] == pytest.approx(0.5) and out["overall_accuracy"] == pytest.approx(5 / 8)
    per = out["per_type"]
    assert list(per) == ["LOC", "ORG", "PER"]
    # PER: predicted 1, true 2, TP 1 -> P 1, R 1/2, F1 2/3
    assert per["PER"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "number": 2})
    assert per["LOC"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 1})
    assert per["ORG"] == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "number": 1})
    # strict: the I-ORG that begins s1 is no entity -> predicted 3, TP 1: P 1/3, R 1/4, F1 2PR/(P+R) = 2/7
    strict = m["seqeval"].compute(predictions=preds, references=refs, mode="strict")
    assert strict["overall_precision"] == pytest.approx(1 / 3) and strict["overall_recall"] == pytest.approx(0.25)
    assert strict["overall_f1"] == pytest.approx(2 / 7)


def test_seqeval_edge_cases(m):
    ner = m["seqeval"]
    none = ner.compute(predictions=[["O", "O"]], references=[["O", "O"]])
    assert none["overall_f1"] == 0.0 and none["overall_accuracy"] == 1.0 and none["per_type"] == {}
    # the same span in different sentences is two different entities
    two = ner.compute(predictions=[["B-PER"], ["O"]], references=[["B-PER"], ["B-PER"]])
    assert two["overall_precision"] == 1.0 and two["overall_recall"] == 0.5
    with pytest.raises(ValueError, match="tags"):
        ner.compute(predictions=[["O", "O"]], references=[["O"]])
    with pytest.raises(ValueError, match="mode"):
        ner.compute(predictions=[["O"]], references=[["O"]], mode="iobes")


# ------------------------------------------------------------------------------ perplexity
def test_perplexity_by_hand(m):
    ppl = m["perplexity_from_losses"]
    # per-token NLLs ln 2 and ln 8: mean = ln 4 -> perplexity 4
    out = ppl.compute(losses=[math.log(2), math.log(8)])
    assert out["perplexity"] == pytest.approx(4.0) and out["mean_nll"] == pytest.approx(math.log(4))
    assert out["n_tokens"] == 2
    # pairs (2.0, 100 tokens) and (3.0, 300): mean NLL = (200 + 900)/400 = 2.75
    out = ppl.compute(losses=[(2.0, 100), (3.0, 300)])
    assert out == pytest.approx({"perplexity": math.exp(2.75), "mean_nll": 2.75, "n_tokens": 400})
    # ... which is not the mean of the batch perplexities, nor exp of the unweighted mean loss
    assert out["perplexity"] != pytest.approx((math.exp(2) + math.exp(3)) / 2)
    assert out["perplexity"] != pytest.approx(math.exp(2.5))
    # a uniform guess over 50 choices has perplexity 50
    assert ppl.compute(losses=[math.log(50)] * 7)["perplexity"] == pytest.approx(50.0)
    assert ppl.compute(losses=[(1000.0, 3)])["perplexity"] == math.inf


def test_perplexity_pairs_equal_per_token_losses(m):
    """Batches of unequal size: weighted pairs give the same answer as the per-token NLLs."""
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(37, 11))
    targets = rng.integers(0, 11, 37)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nll = -log_probs[np.arange(37), targets]
    pairs = [(float(chunk.mean()), len(chunk)) for chunk in (nll[:5], nll[5:30], nll[30:])]
    a = m["perplexity_from_losses"].compute(losses=nll.tolist())
    b = m["perplexity_from_losses"].compute(losses=pairs)
    assert a["perplexity"] == pytest.approx(b["perplexity"], rel=1e-12)
    assert a["perplexity"] == pytest.approx(math.exp(nll.mean()), rel=1e-12)


def test_perplexity_refuses_bad_losses(m):
    ppl = m["perplexity_from_losses"]
    with pytest.raises(ValueError, match="negative"):
        ppl.compute(losses=[0.5, -0.1])
    with pytest.raises(ValueError, match="pairs"):
        ppl.compute(losses=[(1.0, 2.0, 3.0)])
    with pytest.raises(ValueError, match="0"):
        ppl.compute(losses=[(1.0, 0)])


# ------------------------------------------------------------------------------ exact match
def _squad_normalize(s: str) -> str:
    """The SQuAD v1.1 evaluation script's normalize_answer, verbatim in effect."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def test_exact_match_options_by_hand(m):
    em = m["exact_match"]
    # default: only whitespace is forgiven
    assert em.compute(predictions=["Paris ", "paris", " New   York\n"],
                      references=["Paris", "Paris", "New York"]) == {"exact_match": 2 / 3}
    assert em.compute(predictions=["Paris "], references=["Paris"], strip=False) == {"exact_match": 0.0}
    assert em.compute(predictions=["paris"], references=["Paris"], ignore_case=True) == {"exact_match": 1.0}
    assert em.compute(predictions=["Paris!"], references=["Paris"], ignore_punctuation=True) == {"exact_match": 1.0}
    assert em.compute(predictions=["北京。"], references=["北京"], ignore_punctuation=True) == {"exact_match": 1.0}
    assert em.compute(predictions=["the Eiffel Tower"], references=["Eiffel Tower"],
                      ignore_articles=True) == {"exact_match": 1.0}
    # articles are whole words only: "theater" keeps its "the"
    assert em.compute(predictions=["theater"], references=["ater"], squad=True) == {"exact_match": 0.0}
    # several acceptable answers: any one is enough
    assert em.compute(predictions=["paris", "rome"], references=[["Lyon", "Paris"], ["Milan"]],
                      squad=True) == {"exact_match": 0.5}
    with pytest.raises(ValueError):
        em.compute(predictions=["a", "b"], references=["a"])


def test_exact_match_squad_equals_the_squad_normalisation(m):
    pairs = [("The Eiffel Tower!", "eiffel tower"), ("an apple", "Apple."), ("A.B.C", "abc"),
             ("the the cat", "cat"), ("Théâtre", "théâtre"), ("Dr. Who?", "dr who"), ("1,000", "1000"),
             ("a  b", "ab"), ("Rock & Roll", "rock roll"), ("anthem", "them")]
    preds, refs = [p for p, _ in pairs], [r for _, r in pairs]
    ours = [m["exact_match"].compute(predictions=[p], references=[r], squad=True)["exact_match"] for p, r in pairs]
    assert ours == [float(_squad_normalize(p) == _squad_normalize(r)) for p, r in pairs]
    assert 0 < sum(ours) < len(ours)                    # the cases hold both outcomes
    total = m["exact_match"].compute(predictions=preds, references=refs, squad=True)["exact_match"]
    assert total == pytest.approx(sum(ours) / len(ours))


# ------------------------------------------------------------------------------ combine and helpers
def test_combine_gives_all_keys_and_handles_aliases(home):
    clf = metrics.combine(["accuracy", "f1", "precision"])          # f1 and precision: one module
    assert len(clf.evaluation_modules) == 2
    out = clf.compute(predictions=[0, 1, 2, 2], references=[0, 1, 1, 2], average="macro")
    # the hand-computed macro values of test_precision_recall_f1_averages_by_hand
    assert out == pytest.approx({"accuracy": 0.75, "precision": 2.5 / 3, "recall": 2.5 / 3, "f1": 7 / 9})
    # incremental use, batch by batch, gives the same numbers
    clf.add_batch(predictions=[0, 1], references=[0, 1])
    clf.add_batch(predictions=[2, 2], references=[1, 2])
    assert clf.compute(average="macro") == pytest.approx(out)


def test_evaluate_combine_accepts_our_loaded_modules(m):
    import evaluate
    both = evaluate.combine([m["accuracy"], m["precision_recall_f1"]])
    out = both.compute(predictions=[1, 1, 0, 0, 1], references=[1, 0, 0, 1, 1])
    # accuracy 3/5; binary P = R = F1 = 2/3 (see the binary test)
    assert out == pytest.approx({"accuracy": 0.6, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})


def test_compute_classification_matches_sklearn(home):
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 4, 60), rng.integers(0, 4, 60)
    for average in ("macro", "micro", "weighted"):
        out = metrics.compute_classification(p, y, average=average)
        sp, sr, sf, _ = precision_recall_fscore_support(y, p, average=average, zero_division=0.0)
        assert out == pytest.approx({"accuracy": accuracy_score(y, p), "precision": sp, "recall": sr, "f1": sf})
    assert set(metrics.compute_classification([1, 0], [1, 1], average="binary")) == {
        "accuracy", "precision", "recall", "f1"}


def test_trainer_compute_metrics_takes_argmax(home):
    fn = metrics.trainer_compute_metrics(average="macro")
    logits = np.array([[2.0, 0.1, 0.0], [0.0, 3.0, 1.0], [0.2, 0.1, 0.9], [0.0, 1.0, 2.0]])  # argmax 0, 1, 2, 2
    labels = np.array([0, 1, 1, 2])
    expected = {"accuracy": 0.75, "precision": 2.5 / 3, "recall": 2.5 / 3, "f1": 7 / 9}
    assert fn((logits, labels)) == pytest.approx(expected)
    assert fn(types.SimpleNamespace(predictions=logits, label_ids=labels)) == pytest.approx(expected)
    assert fn(((logits, np.zeros((4, 7))), labels)) == pytest.approx(expected)  # extra model outputs
    assert fn((logits.argmax(-1), labels)) == pytest.approx(expected)           # already class ids
    # token classification: [batch, seq, classes], label -100 marks padding / sub-word positions
    tok_logits = logits.reshape(2, 2, 3)
    tok_labels = np.array([[0, 1], [1, -100]])          # keeps argmax 0, 1, 2 vs labels 0, 1, 1
    out = fn((tok_logits, tok_labels))
    assert out["accuracy"] == pytest.approx(2 / 3)
