"""Notebook 02's widget: one sentence under several tokenizers."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view

# ---- end notebook 01 ----


# ---- notebook 02 ----
def tokenizer_widget(schemes, text: str = "Tokenization turns text into numbers. 分词把文字变成数字 🙂", start: str = "all"):
    """Notebook 02: type text, pick a tokenizer, see coloured tokens, their ids and counts.

    ``schemes`` maps names to :class:`labutils.tokviz.Scheme`; the view is
    :func:`labutils.tokviz.token_view` (``"all"`` shows every tokenizer under the other).
    """
    import ipywidgets as W

    from labutils.viz.tokens import token_view
    names = ["all", *schemes]
    if start not in names:
        raise ValueError(f"Unknown tokenizer {start!r}; choose one of: {', '.join(names)}.")
    return interactive_view(
        lambda text, tokenizer: token_view(text, tokenizer, schemes),
        title="Tokenizer playground: type text, pick a tokenizer (hover a token for its id; red = unknown)",
        text=W.Textarea(value=text, description="text", continuous_update=False,
                        layout=W.Layout(width="95%", height="70px")),
        tokenizer=W.Dropdown(options=names, value=start, description="tokenizer"),
    )
