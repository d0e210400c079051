"""Exact match · 精确匹配: the fraction of predicted strings equal to their reference.

A metric module of LLM Lab, loadable offline with ``evaluate.load(<this directory>)``. Used for
extractive QA, short generated answers and instruction tasks.

    >>> import evaluate
    >>> em = evaluate.load("labutils/metrics/exact_match")
    >>> em.compute(predictions=["The Eiffel Tower!", "Paris"], references=["eiffel tower", "London"], squad=True)
    {'exact_match': 0.5}

A reference may also be a list of acceptable answers (as in SQuAD): the prediction then counts
as correct when it matches any of them.
"""
import re
import string
import unicodedata

import datasets
import evaluate

_DESCRIPTION = """
exact_match = (1/N) sum_i [normalise(prediction_i) == normalise(reference_i)], in [0, 1].

Before comparing, both strings are normalised by the options that are switched on, in this
order (SQuAD's `normalize_answer` order):
  1. ignore_case:        lowercase (`str.lower`).
  2. ignore_punctuation: delete punctuation: ASCII `string.punctuation` (SQuAD's set) and every
                         Unicode punctuation character (category P*, e.g. Chinese ，。！？「」).
  3. ignore_articles:    delete the English articles "a", "an", "the" as whole words.
  4. strip:              trim both ends and squeeze every run of whitespace to one space.
`squad=True` switches all four on: exactly the SQuAD v1.1 evaluation's normalisation, except that
Unicode punctuation is removed too (the official script removes ASCII punctuation only).
Only `strip` is on by default, so "Paris" and " Paris\\n" match but "paris" and "Paris" do not.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): predicted answers.
    references (`list` of `str`, or `list` of `list` of `str`): the answer, or the acceptable
        answers, for each prediction.
    ignore_case (`bool`, defaults to `False`): compare in lowercase.
    ignore_punctuation (`bool`, defaults to `False`): delete punctuation before comparing.
    ignore_articles (`bool`, defaults to `False`): delete "a", "an", "the" before comparing.
    strip (`bool`, defaults to `True`): trim and squeeze whitespace before comparing.
    squad (`bool`, defaults to `False`): switch on all four options (SQuAD normalisation).
Returns:
    exact_match (`float`): fraction of predictions that match, in [0, 1].
Examples:
    >>> em = evaluate.load("labutils/metrics/exact_match")
    >>> em.compute(predictions=["Paris ", "paris"], references=["Paris", "Paris"])
    {'exact_match': 0.5}
    >>> em.compute(predictions=["paris"], references=[["Lyon", "Paris"]], ignore_case=True)
    {'exact_match': 1.0}
"""

_CITATION = """
@inproceedings{rajpurkar-etal-2016-squad,
  title = "{SQ}u{AD}: 100,000+ Questions for Machine Comprehension of Text",
  author = "Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy",
  booktitle = "Proceedings of the 2016 Conference on Empirical Methods in Natural Language Processing",
  year = "2016",
  publisher = "Association for Computational Linguistics",
  url = "https://aclanthology.org/D16-1264",
  pages = "2383--2392",
}
"""

_FEATURES = [
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
    datasets.Features({"predictions": datasets.Value("string"),
                       "references": datasets.Sequence(datasets.Value("string"))}),
]

_ASCII_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", flags=re.IGNORECASE)


def normalize(text, ignore_case=False, ignore_punctuation=False, ignore_articles=False, strip=True):
    """Normalise one string as described above (the function the metric applies to both sides)."""
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = "".join(ch for ch in text
                       if ch not in _ASCII_PUNCT and not unicodedata.category(ch).startswith("P"))
    if ignore_articles:
        text = _ARTICLES.sub(" ", text)
    if strip:
        text = " ".join(text.split())
    return text


def exact_match(predictions, references, ignore_case=False, ignore_punctuation=False, ignore_articles=False,
                strip=True, squad=False):
    """Plain function behind the module: {'exact_match': fraction in [0, 1]}."""
    if len(predictions) != len(references):
        raise ValueError(f"Got {len(predictions)} predictions for {len(references)} references; "
                         f"give one reference (or list of references) per prediction.")
    if len(predictions) == 0:
        raise ValueError("Exact match needs at least one prediction and reference.")
    if squad:
        ignore_case = ignore_punctuation = ignore_articles = strip = True
    options = dict(ignore_case=ignore_case, ignore_punctuation=ignore_punctuation,
                   ignore_articles=ignore_articles, strip=strip)
    hits = 0
    for pred, ref in zip(predictions, references):
        candidates = [ref] if isinstance(ref, str) else list(ref)
        p = normalize(pred, **options)
        hits += any(p == normalize(r, **options) for r in candidates)
    return {"exact_match": hits / len(predictions)}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ExactMatch(evaluate.Metric):
    """Exact match (精确匹配) with optional SQuAD-style normalisation, as an `evaluate` metric."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_FEATURES,
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions, references, ignore_case=False, ignore_punctuation=False,
                 ignore_articles=False, strip=True, squad=False):
        return exact_match(predictions, references, ignore_case=ignore_case,
                           ignore_punctuation=ignore_punctuation, ignore_articles=ignore_articles,
                           strip=strip, squad=squad)
