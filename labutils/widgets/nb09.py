"""Notebook 09's widget: chat with a tuned model through its chat template (history, temperature, max tokens,
context budget). A view over :func:`chat_view`, which a unit test calls."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view


def chat_view(model, tokenizer, message: str, temperature: float = 0.0, max_new_tokens: int = 32,
              max_context_tokens: int = 256, history=(), seed: int = 0):
    """The conversation after one more turn, as HTML (a pure function of its arguments, seeded)."""
    from IPython.display import HTML

    from labutils.chapters.instruct.chat import chat_turn, conversation_html
    result = chat_turn(model, tokenizer, list(history), message, temperature=temperature,
                       max_new_tokens=max_new_tokens, max_context_tokens=max_context_tokens, seed=seed)
    return HTML(conversation_html(result))


def chat_widget(model, tokenizer, message: str = "Convert the text to uppercase.\nthe quiet river",
                history=(), max_context_tokens: int = 256):
    """Notebook 09: type a message, move temperature, max new tokens and the context budget; the earlier
    ``history`` turns are dropped, oldest first, when they no longer fit."""
    import ipywidgets as W
    style = {"description_width": "initial"}
    return interactive_view(
        chat_view, title="Chat with the tuned model (the history is fixed; your message is the last turn)",
        model=model, tokenizer=tokenizer, history=tuple(history),
        message=W.Textarea(value=message, description="message", continuous_update=False, style=style),
        temperature=W.FloatSlider(value=0.0, min=0.0, max=1.5, step=0.1, description="temperature",
                                  continuous_update=False, style=style),
        max_new_tokens=W.IntSlider(value=32, min=1, max=128, description="max new tokens",
                                   continuous_update=False, style=style),
        max_context_tokens=W.IntSlider(value=max_context_tokens, min=64, max=1024, step=16,
                                       description="context budget", continuous_update=False, style=style),
    )
