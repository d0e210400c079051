"""Entity-level precision, recall and F1 for BIO tags · 实体级评测 (命名实体识别 NER).

A metric module of LLM Lab, loadable offline with ``evaluate.load(<this directory>)``. It
re-implements the scoring of the CoNLL-2000 script ``conlleval`` (the default mode of the
``seqeval`` package and of the hub metric ``seqeval``) in plain Python, and adds a strict mode.

    >>> import evaluate
    >>> ner = evaluate.load("labutils/metrics/seqeval")
    >>> ner.compute(predictions=[["B-PER", "I-PER", "O"]], references=[["B-PER", "I-PER", "O"]])["overall_f1"]
    1.0

An entity (chunk) counts as correct only when its type, first token and last token all match.
"""
import datasets
import evaluate

_DESCRIPTION = """
Tags follow the BIO scheme (also called IOB2): `B-X` begins an entity of type X, `I-X` continues
it, `O` is outside any entity. Entity spans are read from each sentence with one of two rules:

mode="conlleval" (default, lenient; what conlleval and seqeval's default mode do):
    an entity of type X starts at `B-X`, and also at an `I-X` that does not continue an entity
    of type X (after `O`, at the start of the sentence, or after an entity of another type);
    it ends before the next `O`, `B-`, or tag of another type, or at the end of the sentence.
    So `O I-PER I-PER` holds one PER entity, and `B-PER I-LOC` holds a PER and a LOC.
mode="strict" (IOB2 as written; seqeval's `mode="strict"`):
    an entity starts only at `B-X` and continues over the `I-X` right after it; an `I-X` that does
    not continue a `B-X`/`I-X` of type X is invalid and belongs to no entity.

Then, with TP = predicted entities that equal a reference entity (same sentence, type, start, end):
    overall_precision = TP / number of predicted entities
    overall_recall    = TP / number of reference entities
    overall_f1        = 2 P R / (P + R)
    overall_accuracy  = correct tags / all tags   (token level, `O` included)
and the same precision/recall/f1 per entity type, with `number` = reference entities of that type.
A 0/0 takes the value `zero_division` (default 0.0).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `str`): predicted tags, one list per sentence.
    references (`list` of `list` of `str`): reference tags, same lengths as the predictions.
    mode (`str`, defaults to `"conlleval"`): "conlleval" (lenient) or "strict"; see the description.
    zero_division (`float`, defaults to `0.0`): value used for 0/0.
Returns:
    overall_precision, overall_recall, overall_f1, overall_accuracy (`float`), and
    per_type (`dict`): {type: {"precision", "recall", "f1", "number"}} for each type in the references
    or predictions, sorted by type.
Examples:
    >>> ner = evaluate.load("labutils/metrics/seqeval")
    >>> out = ner.compute(predictions=[["B-PER", "I-PER", "O", "B-LOC"]],
    ...                   references=[["B-PER", "I-PER", "O", "B-ORG"]])
    >>> out["overall_f1"], out["per_type"]["PER"]["f1"]
    (0.5, 1.0)
"""

_CITATION = """
@inproceedings{tjong-kim-sang-buchholz-2000-introduction,
  title = "Introduction to the {C}o{NLL}-2000 Shared Task: Chunking",
  author = "Tjong Kim Sang, Erik F. and Buchholz, Sabine",
  booktitle = "Fourth Conference on Computational Natural Language Learning and the Second Learning Language in Logic Workshop",
  year = "2000",
  url = "https://aclanthology.org/W00-0726",
  pages = "127--132",
}
@misc{seqeval,
  title={{seqeval}: A Python framework for sequence labeling evaluation},
  url={https://github.com/chakki-works/seqeval},
  note={Software available from https://github.com/chakki-works/seqeval},
  author={Hiroki Nakayama},
  year={2018},
}
"""

MODES = ("conlleval", "strict")


def _split(tag):
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', None). Types may contain '-' (B-MISC-X -> MISC-X)."""
    if tag == "O":
        return "O", None
    prefix, sep, etype = tag.partition("-")
    if prefix not in ("B", "I") or not sep or not etype:
        raise ValueError(f"Tag {tag!r} is not BIO: use 'O', 'B-<type>' or 'I-<type>' (e.g. 'B-PER').")
    return prefix, etype


def get_entities(tags, mode="conlleval"):
    """Entity spans of one sentence as a list of ``(type, start, end)``, ``end`` inclusive.

    >>> get_entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    [('PER', 0, 1), ('LOC', 3, 3), ('LOC', 4, 4), ('ORG', 5, 5)]
    >>> get_entities(["O", "I-LOC", "I-LOC", "B-PER"], mode="strict")
    [('PER', 3, 3)]
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, not {mode!r}.")
    entities = []
    current = None                      # [type, start] of the entity being read, or None
    for i, tag in enumerate(tags):
        prefix, etype = _split(tag)
        continues = current is not None and prefix == "I" and etype == current[0]
        if current is not None and not continues:
            entities.append((current[0], current[1], i - 1))
            current = None
        if prefix == "B" or (prefix == "I" and not continues and mode == "conlleval"):
            current = [etype, i]
        # strict mode: an I- that continues nothing starts nothing either
    if current is not None:
        entities.append((current[0], current[1], len(tags) - 1))
    return entities


def _prf(tp, n_pred, n_true, zero_division):
    p = tp / n_pred if n_pred else zero_division
    r = tp / n_true if n_true else zero_division
    f = 2 * p * r / (p + r) if (p + r) else 0.0     # as seqeval: F from P and R, 0 when both are 0
    return float(p), float(r), float(f)


def seqeval(predictions, references, mode="conlleval", zero_division=0.0):
    """Plain function behind the module."""
    if len(predictions) != len(references):
        raise ValueError(f"Got {len(predictions)} predicted sentences for {len(references)} references; "
                         f"give one tag list per sentence.")
    pred_set, true_set = set(), set()
    correct_tags = total_tags = 0
    for s, (pred, ref) in enumerate(zip(predictions, references)):
        if len(pred) != len(ref):
            raise ValueError(f"Sentence {s} has {len(pred)} predicted tags but {len(ref)} reference tags; "
                             f"give one tag per token.")
        pred_set.update((s,) + e for e in get_entities(pred, mode))
        true_set.update((s,) + e for e in get_entities(ref, mode))
        correct_tags += sum(p == r for p, r in zip(pred, ref))
        total_tags += len(ref)
    if total_tags == 0:
        raise ValueError("seqeval needs at least one tag.")

    tp_set = pred_set & true_set
    per_type = {}
    for etype in sorted({e[1] for e in pred_set | true_set}):
        tp = sum(e[1] == etype for e in tp_set)
        n_pred = sum(e[1] == etype for e in pred_set)
        n_true = sum(e[1] == etype for e in true_set)
        p, r, f = _prf(tp, n_pred, n_true, zero_division)
        per_type[etype] = {"precision": p, "recall": r, "f1": f, "number": n_true}
    p, r, f = _prf(len(tp_set), len(pred_set), len(true_set), zero_division)
    return {"overall_precision": p, "overall_recall": r, "overall_f1": f,
            "overall_accuracy": correct_tags / total_tags, "per_type": per_type}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Seqeval(evaluate.Metric):
    """Entity-level NER scores (conlleval rules) as an `evaluate` metric."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Sequence(datasets.Value("string")),
                "references": datasets.Sequence(datasets.Value("string")),
            }),
            codebase_urls=["https://github.com/chakki-works/seqeval"],
            reference_urls=["https://www.clips.uantwerpen.be/conll2000/chunking/output.html"],
        )

    def _compute(self, predictions, references, mode="conlleval", zero_division=0.0):
        return seqeval(predictions, references, mode=mode, zero_division=zero_division)
