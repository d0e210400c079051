"""The bilingual glossary ``docs/glossary.md`` covers every term a notebook introduces in two languages.

Notebooks are read from ``notebooks/`` each time, so new ones (13, 14, 15, …) are checked as soon as they exist.
"""
from __future__ import annotations

from labutils.core.meta import COURSE_MAP
from labutils.tools import glossary as g


def test_every_bilingual_term_of_the_notebooks_is_in_the_glossary():
    terms = g.notebook_terms()
    assert len({t.notebook for t in terms}) >= 13 and len(terms) > 150  # the rule still finds the terms
    found = g.problems(terms, g.read_glossary(), g.not_terms())
    assert not found, ("docs/glossary.md lacks these terms (add the rows; `python -m labutils.tools.glossary` "
                       "prints them):\n" + "\n".join(found))


def test_glossary_rows_are_well_formed():
    rows = g.read_glossary()
    numbers = {stem[:2] for stem, *_ in COURSE_MAP}
    seen: dict[str, str] = {}
    for r in rows:
        assert r.en and r.zh and len(r.explanation) > 10, r
        assert r.first in numbers, r
        for z in r.zh:
            assert z not in seen, f"{z} has two rows ({seen[z]} and {r.en}); give alternatives in one row"
            seen[z] = r.en
    assert [r.first for r in rows] == sorted(r.first for r in rows)  # in course order


def _pairs(md: str) -> list[tuple[str, str | None]]:
    return [(t.zh, t.en) for t in g.terms_in_text(md, "99_test")]


def test_the_rule_on_each_form():
    assert _pairs("the **tokenizer** (分词器) decides") == [("分词器", "tokenizer")]
    assert _pairs("it memorises it (**overfitting**, 过拟合), the") == [("过拟合", "overfitting")]
    assert _pairs("how fast for one user (latency, 延迟)") == [("延迟", "latency")]
    assert _pairs("a confusion matrix (混\n淆矩阵)") == [("混淆矩阵", None)]          # wrapped inside a word
    assert _pairs("**full\n  fine-tuning** (全量微调)") == [("全量微调", "full fine-tuning")]
    assert _pairs("(**prompt / prefix tuning**, 提示微调/前缀微调)") == [("提示微调", "prompt"), ("前缀微调", "prefix tuning")]
    assert _pairs("per-class precision/recall (精确率/召回率)") == [("精确率", None), ("召回率", None)]
    assert _pairs("**macro-F1** (宏平均F1)") == [("宏平均F1", "macro-F1")]
    assert _pairs("**(b) Full fine-tuning** (全量微调): every") == [("全量微调", "Full fine-tuning")]
    assert _pairs("**微调** (fine-tuning) is") == [("微调", "fine-tuning")]             # Chinese first
    assert _pairs("*bf16* (bfloat16, 脑浮点) support") == [("脑浮点", "bf16")]
    assert _pairs("（全角括号 full-width）") == [("全角括号", None)]
    assert _pairs("Types: PER (person 人名), LOC") == [("人名", "person")]
    assert _pairs("names from context (…先生, …市)") == []                               # fragments


def test_headings_code_and_maths_are_not_terms():
    md = "## 3. Gradient checking · 梯度检验\n\nCall `f(\"中文\")` and $x (中文)$; plain (no Chinese) text."
    assert _pairs(md) == []


def test_problems_name_what_is_wrong():
    rows = [g.Row("fine-tuning", ["微调"], "Continue training.", "05")]
    terms = [g.Term("微调", "fine-tunes", "05_x", "…"), g.Term("困惑度", "perplexity", "01_x", "…")]
    assert g.problems(terms, rows) == ["missing: | perplexity | 困惑度 | ? | 01 |   (01_x: “…”)"]
    assert "English" in g.problems([g.Term("微调", "distillation", "05_x", "…")], rows)[0]
    assert "first notebook" in g.problems([g.Term("微调", "fine-tuning", "04_x", "…")], rows)[0]
    assert g.problems([g.Term("北京", None, "13_x", "…")], rows, examples={"北京"}) == []
    both = g.terms_in_text("and **whom it treats differently** (fairness, 公平性)", "14_x")   # either English
    assert g.problems(both, [g.Row("fairness", ["公平性"], "Treats groups alike.", "14")]) == []
    assert g.problems(both, [g.Row("privacy", ["公平性"], "Treats groups alike.", "14")])
    assert "北京" in g.not_terms()                    # the glossary's own list of examples that are not terms
