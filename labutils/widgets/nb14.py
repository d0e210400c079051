"""Notebook 14's widgets: a PII redactor (a view over :func:`labutils.chapters.responsible.pii.redaction_html`) and an
attribution explorer (a view over :func:`labutils.chapters.responsible.attribution.explain`)."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view

PII_EXAMPLE = ("Write to alice@example.com or call +86 138 1234 5678 / (415) 555-0134. "
               "身份证号 11010119900307803X。 Or: alice at example dot com.")


def _redaction(text: str, kinds: str = "all"):
    from IPython.display import HTML

    from labutils.chapters.responsible.pii import redaction_html
    return HTML(redaction_html(text, None if kinds == "all" else [kinds]))


def pii_redactor_widget(text: str = PII_EXAMPLE):
    """Notebook 14: type any text; the detected PII is highlighted and redacted (choose one type or all)."""
    import ipywidgets as W

    from labutils.chapters.responsible.pii import PATTERNS
    return interactive_view(
        _redaction, title="PII detector and redactor",
        text=W.Textarea(value=text, layout=W.Layout(width="90%", height="80px"), continuous_update=False),
        kinds=W.Dropdown(options=["all", *PATTERNS], value="all", description="types"))


def _attribution(model, tokenizer, text: str, n_steps: int = 16):
    from IPython.display import HTML

    from labutils.chapters.responsible.attribution import explain, explanation_html
    return HTML(explanation_html(explain(model, tokenizer, text, n_steps=n_steps)))


def attribution_widget(model, tokenizer, sentences: list[str]):
    """Notebook 14: pick or type a sentence; each method colours the tokens that pushed the prediction."""
    import ipywidgets as W
    return interactive_view(
        _attribution, title="Attribution explorer", model=model, tokenizer=tokenizer,
        text=W.Combobox(value=sentences[0], options=list(sentences), layout=W.Layout(width="90%"),
                        continuous_update=False),
        n_steps=W.IntSlider(value=16, min=2, max=64, step=2, description="IG steps", continuous_update=False))
