"""Notebook 13's widgets: an entity highlighter (type a Chinese sentence, pick a tagger, see PER/LOC/ORG) and a
chatbot (a fixed history, your message, the retrieval tool on or off, a token budget). Views over
:func:`entity_view` and :func:`chatbot_view`, which unit tests call."""
from __future__ import annotations

from typing import Callable, Sequence

from labutils.viz.interactive import interactive_view


def entity_view(taggers: dict[str, Callable], text: str, tagger: str):
    """HTML of ``text`` with the entities that ``taggers[tagger](chars) -> BIO tags`` finds (pure, no state)."""
    from IPython.display import HTML

    from labutils.chapters.applications.ner import NERError, highlight_html
    if tagger not in taggers:
        raise NERError(f"Unknown tagger {tagger!r}; choose one of {', '.join(taggers)}.")
    chars = [c for c in text.strip()]
    if not chars:
        return HTML("<i>Type a sentence.</i>")
    return HTML(highlight_html(chars, taggers[tagger](chars)))


def entity_widget(taggers: dict[str, Callable], text: str = "江泽民主席在北京会见了联合国秘书长安南。"):
    """Notebook 13: type a sentence and switch between taggers (``{name: fn(chars) -> BIO tags}``)."""
    import ipywidgets as W
    style = {"description_width": "initial"}
    return interactive_view(
        entity_view, title="Entity highlighter · 实体高亮 (PER red, LOC green, ORG blue)", taggers=dict(taggers),
        text=W.Textarea(value=text, description="text", continuous_update=False, style=style),
        tagger=W.Dropdown(options=list(taggers), value=list(taggers)[-1], description="tagger", style=style),
    )


def chatbot_view(model, tokenizer, message: str, history: Sequence[dict] = (), search: Callable | None = None,
                 use_tool: bool = True, max_context_tokens: int = 256, max_new_tokens: int = 24):
    """The transcript after one more turn of a fresh :class:`~labutils.chapters.applications.chat.ChatApp` that
    starts from ``history`` (pure: greedy decoding, nothing kept between calls)."""
    from IPython.display import HTML

    from labutils.chapters.applications.chat import ChatApp, transcript_html
    app = ChatApp(model, tokenizer, search=search if use_tool else None, max_context_tokens=max_context_tokens,
                  max_new_tokens=max_new_tokens)
    app.history = [dict(m) for m in history]
    turn = app.send(message)
    earlier = "".join(f"<div style='color:#777'><small>{m['role']}: {m['content'][:80]}</small></div>"
                      for m in history)
    return HTML(earlier + transcript_html([turn]))


def chatbot_widget(model, tokenizer, search: Callable | None = None, history: Sequence[dict] = (),
                   message: str = "What is gravitation?", max_context_tokens: int = 256):
    """Notebook 13: chat with the RAG chatbot; the retrieval tool and the token budget are controls."""
    import ipywidgets as W
    style = {"description_width": "initial"}
    return interactive_view(
        chatbot_view, title="Chatbot with a retrieval tool (the earlier turns are fixed; yours is the last)",
        model=model, tokenizer=tokenizer, history=tuple(history), search=search,
        message=W.Text(value=message, description="message", continuous_update=False, style=style),
        use_tool=W.Checkbox(value=True, description="retrieval tool"),
        max_context_tokens=W.IntSlider(value=max_context_tokens, min=64, max=1024, step=16, description="token budget",
                                       continuous_update=False, style=style),
        max_new_tokens=W.IntSlider(value=24, min=4, max=96, description="max new tokens", continuous_update=False,
                                   style=style),
    )
