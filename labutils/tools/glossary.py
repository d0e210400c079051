"""The bilingual glossary ``docs/glossary.md`` and the rule that finds the terms notebooks introduce.

**The rule.** In the markdown cells of ``notebooks/NN_*.ipynb`` (headings, ``code`` and ``$maths$`` left out),
a term is introduced bilingually where a parenthesis, ``(...)`` or ``（...）``, holds Chinese text:

- every run of Chinese characters in it (with digits or Latin letters glued to it, ``宏平均F1``; split at ``/``)
  is a Chinese term: ``**perplexity** (困惑度)``, ``a confusion matrix (混淆矩阵)``, ``(**overfitting**, 过拟合)``;
- its English is the bold or italic text right before the parenthesis (``**fine-tuning** (微调)``), else the
  bold or italic text inside it (``(**few-shot**, 少样本)``), else plain English before a comma inside it
  (``(latency, 延迟)``; either may match when a sentence gives both); with several Chinese terms the English is split at ``/`` to pair them
  (``**prompt / prefix tuning**, 提示微调/前缀微调``), and left unknown when the counts differ;
- the reverse form, Chinese then English in parentheses (``**微调** (fine-tuning)``), counts as well;
- not a term: a Chinese run right after ``…`` (a fragment: ``(…先生, …市)``), and what the glossary lists on its
  ``**Not terms**:`` line (Chinese *examples* in a sentence, ``wrong span: 北京 for 北京大学``).

A glossary row ``| English | 中文 | explanation | first notebook |`` covers a term when its 中文 cell (alternatives
separated by ``/`` or ``；``) holds the Chinese term and, where the English is known, its English cell contains it
(or the other way round; compared without case, spaces, hyphens and the endings -s/-es/-ed/-ing:
``fine-tunes`` ≈ ``fine-tuning``), and
the first notebook is the first notebook that introduces the Chinese term. ``python -m labutils.tools.glossary``
prints the terms the glossary lacks, as rows ready to fill in.
"""
from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
GLOSSARY = ROOT / "docs" / "glossary.md"
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TERM = re.compile(rf"[{CJK}](?:[{CJK}A-Za-z0-9]|[–-](?=[{CJK}]))*")
_PAREN = re.compile(r"[(（]([^()（）]*)[)）]")
_BOLD_BEFORE = re.compile(r"(?:\*\*([^*]+)\*\*|(?<!\*)\*([^*\s][^*]*)\*)\s*$")
_BOLD_IN = re.compile(r"\*\*([^*]+)\*\*|(?<!\*)\*([^*\s][^*]*)\*")
_REVERSE = re.compile(rf"(?:\*\*)?([{CJK}][{CJK}A-Za-z0-9]*)(?:\*\*)?\s*[(（]([A-Za-z][A-Za-z0-9 .,'/-]*)[)）]")
_ENUM = re.compile(r"^\([a-z0-9]\)\s*")


@dataclasses.dataclass(frozen=True)
class Term:
    """One bilingual introduction: the Chinese term, its English (None if the sentence does not say), where."""

    zh: str
    en: str | None
    notebook: str
    context: str
    alts: tuple = ()  # other English the sentence gives (``**whom it treats differently** (fairness, 公平性)``)


def _prose(cell_source: str) -> str:
    """A markdown cell without headings, code spans, maths and soft line breaks."""
    lines = [ln for ln in cell_source.split("\n") if not ln.lstrip().startswith("#")]
    text = "\n".join(lines)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$]*\$", "", text)
    text = re.sub(rf"(?<=[{CJK}])\n(?=[{CJK}])", "", text)  # a line wrapped inside a Chinese word
    return re.sub(r"\s+", " ", text)


def _english_before(text: str) -> str | None:
    m = _BOLD_BEFORE.search(text)
    if not m:
        return None
    return _ENUM.sub("", (m.group(1) or m.group(2)).strip()) or None


def _english_inside(content: str) -> str | None:
    m = _BOLD_IN.search(content)
    if m:
        return (m.group(1) or m.group(2)).strip()
    first = re.split(r"[,;:，；：]", content)[0].strip()
    before_zh = re.match(rf"([A-Za-z][A-Za-z0-9 '-]*?)\s+[{CJK}]", first)   # (person 人名)
    if before_zh:
        return before_zh.group(1)
    if first and not re.search(f"[{CJK}]", first) and re.search("[A-Za-z]", first):
        return first
    return None


def terms_in_text(text: str, notebook: str) -> list[Term]:
    """The bilingual terms of one markdown cell (see the module docstring for the rule)."""
    prose, out = _prose(text), []
    for m in _PAREN.finditer(prose):
        content = m.group(1)
        zhs = [t.group(0) for part in content.split("/") for t in _TERM.finditer(part)
               if not part[:t.start()].rstrip().endswith(("…", "..."))]  # (…先生, …市): fragments, not terms
        if not zhs:
            continue
        before, inside = _english_before(prose[:m.start()]), _english_inside(content)
        en = before or inside
        alts = (inside,) if before and inside and len(zhs) == 1 else ()
        if len(zhs) > 1:
            parts = [p.strip() for p in en.split("/")] if en else []
            ens = parts if len(parts) == len(zhs) else [None] * len(zhs)
        else:
            ens = [en]
        context = prose[max(0, m.start() - 40):m.end()].strip()
        out += [Term(zh, e, notebook, context, alts) for zh, e in zip(zhs, ens)]
    for m in _REVERSE.finditer(prose):
        out.append(Term(m.group(1), m.group(2).strip(), notebook, m.group(0)))
    return out


def notebook_terms(notebooks_dir: str | Path | None = None) -> list[Term]:
    """Every bilingual term of every ``NN_*.ipynb`` in order (so the first one of a term is its first notebook)."""
    base = Path(notebooks_dir) if notebooks_dir else ROOT / "notebooks"
    out = []
    for path in sorted(base.glob("[0-9][0-9]_*.ipynb")):
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:  # a notebook being written right now; the notebook tests report it
            continue
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "markdown":
                src = cell.get("source", "")
                out += terms_in_text("".join(src) if isinstance(src, list) else src, path.stem)
    return out


def first_uses(terms: list[Term]) -> dict[str, Term]:
    """``{Chinese term: its first introduction}``, keeping the first English that was given for it."""
    out: dict[str, Term] = {}
    for t in terms:
        if t.zh not in out:
            out[t.zh] = t
        elif out[t.zh].en is None and t.en:
            out[t.zh] = dataclasses.replace(out[t.zh], en=t.en)
    return out


# ------------------------------------------------------------------------------------------ glossary
@dataclasses.dataclass
class Row:
    """One glossary row."""

    en: str
    zh: list[str]
    explanation: str
    first: str


def read_glossary(path: str | Path = GLOSSARY) -> list[Row]:
    """The rows of the glossary's table(s) (lines ``| English | 中文 | explanation | NN |``)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"\d\d", cells[3]):
            zh = [z.strip() for z in re.split(r"[/；]", cells[1]) if z.strip()]
            rows.append(Row(cells[0], zh, cells[2], cells[3]))
    return rows


def _norm(text: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower().replace("³", "3")) if w not in ("the", "a", "an")]
    return "".join(re.sub(r"(ing|es|ed|s)$", "", w) if len(w) >= 4 else w for w in words)


def not_terms(path: str | Path = GLOSSARY) -> set[str]:
    """Chinese text the rule finds that is an example, not a term: the glossary's ``**Not terms**: a · b`` line."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("**Not terms**"):
            return {w.strip() for w in line.split(":", 1)[1].split("·") if w.strip()}
    return set()


def problems(terms: list[Term], rows: list[Row], examples: set[str] = frozenset()) -> list[str]:
    """One line per term the glossary does not cover (missing, English not there, wrong first notebook);
    ``examples`` are Chinese strings the glossary lists as examples, not terms (:func:`not_terms`)."""
    terms = [t for t in terms if t.zh not in examples]
    by_zh: dict[str, list[Row]] = {}
    for r in rows:
        for z in r.zh:
            by_zh.setdefault(z, []).append(r)
    out, firsts = [], first_uses(terms)
    for t in terms:
        hits = by_zh.get(t.zh, [])
        first = firsts[t.zh].notebook[:2]
        if not hits:
            out.append(f"missing: | {t.en or '?'} | {t.zh} | ? | {first} |   ({t.notebook}: “{t.context}”)")
        elif t.en and not any(_norm(e) in _norm(r.en) or _norm(r.en) in _norm(e)
                              for r in hits for e in (t.en, *t.alts)):
            out.append(f"English: {t.zh} is “{t.en}” in {t.notebook}, the glossary says "
                       f"{' / '.join(r.en for r in hits)}")
        elif not any(r.first == first for r in hits):
            out.append(f"first notebook: {t.zh} is first introduced in {first}, the glossary says "
                       f"{', '.join(r.first for r in hits)}")
    return list(dict.fromkeys(out))


if __name__ == "__main__":  # print what the glossary lacks
    there = GLOSSARY.is_file()
    found = problems(notebook_terms(), read_glossary() if there else [], not_terms() if there else set())
    print("\n".join(found) or "The glossary covers every bilingual term of the notebooks.")
    sys.exit(1 if found else 0)
