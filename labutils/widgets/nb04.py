"""Notebook 04's widget: sample from the course GPT with temperature, top-k and top-p."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view

# ---- end notebook 05 ----


# ---- notebook 04 ----
def sampling_view(model, tokenizer, prompt: str, max_new_tokens: int = 200, temperature: float = 0.8,
                  top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0, seed: int = 0):
    """Notebook 04: the prompt (bold) and the model's continuation as HTML (``top_k=0``/``top_p=1``: off)."""
    import html

    from IPython.display import HTML

    from labutils.train.sampling import generate_text
    text = generate_text(model, tokenizer, prompt, max_new_tokens, temperature, top_k or None,
                         None if top_p >= 1.0 else top_p, repetition_penalty, seed=seed, truncate=True)
    body = f"<b>{html.escape(prompt)}</b>{html.escape(text)}"
    return HTML(f"<pre style='white-space:pre-wrap;font-size:13px'>{body}</pre>")


def sampling_widget(model, tokenizer, prompt: str = "And God said", max_new_tokens: int = 200):
    """Notebook 04: a prompt box and sliders (temperature, top-k, top-p, repetition penalty, seed)
    sampling from the model just trained; a view over :func:`sampling_view`."""
    import ipywidgets as W
    style = {"description_width": "initial"}
    return interactive_view(
        lambda **kw: sampling_view(model, tokenizer, **kw),
        title="Sample from your GPT: type a prompt, move the sliders (top-k 0 and top-p 1 switch them off)",
        prompt=W.Text(value=prompt, description="prompt", continuous_update=False, layout=W.Layout(width="95%")),
        max_new_tokens=W.IntSlider(value=max_new_tokens, min=10, max=500, step=10, description="new tokens",
                                   continuous_update=False, style=style),
        temperature=W.FloatSlider(value=0.8, min=0.0, max=2.0, step=0.05, description="temperature",
                                  continuous_update=False, style=style),
        top_k=W.IntSlider(value=0, min=0, max=100, description="top-k", continuous_update=False, style=style),
        top_p=W.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p",
                            continuous_update=False, style=style),
        repetition_penalty=W.FloatSlider(value=1.0, min=1.0, max=2.0, step=0.05, description="repetition penalty",
                                         continuous_update=False, style=style),
        seed=W.IntSlider(value=0, min=0, max=20, description="seed", continuous_update=False, style=style),
    )
