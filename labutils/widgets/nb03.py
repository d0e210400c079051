"""Notebook 03's widget: attention weights of a real encoder and of the scratch GPT, by layer and head."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view

# ---- end notebook 02 ----


# ---- notebook 03 ----
def attention_widget(sources, sentence: str = "The cat sat on the mat because it was tired.", start: str | None = None,
                     layer: int = 0, head: int = 0):
    """Notebook 03: pick a model, a layer and a head, type a sentence, see the attention heatmap.

    ``sources`` maps names to :class:`labutils.attention_viz.AttentionSource` (e.g. the bundled MiniLM
    and the from-scratch GPT); the view is :func:`labutils.attention_viz.attention_view`. ``start``,
    ``layer`` and ``head`` choose what shows first.
    """
    import ipywidgets as W

    from labutils.viz.attention import attention_view
    names = list(sources)
    start = names[0] if start is None else start
    if start not in sources:
        raise ValueError(f"Unknown model {start!r}; choose one of: {', '.join(names)}.")
    first = sources[start]
    if not (0 <= layer < first.n_layers and 0 <= head < first.n_heads):
        raise ValueError(f"{first.name} has layers 0–{first.n_layers - 1} and heads 0–{first.n_heads - 1}; "
                         f"got layer={layer}, head={head}.")
    model = W.Dropdown(options=names, value=start, description="model")
    layer = W.IntSlider(value=layer, min=0, max=first.n_layers - 1, description="layer", continuous_update=False)
    head = W.IntSlider(value=head, min=0, max=first.n_heads - 1, description="head", continuous_update=False)

    def fit_sliders(change):  # each model has its own number of layers and heads
        src = sources[change["new"]]
        layer.value, head.value = min(layer.value, src.n_layers - 1), min(head.value, src.n_heads - 1)
        layer.max, head.max = src.n_layers - 1, src.n_heads - 1
    model.observe(fit_sliders, names="value")
    return interactive_view(
        lambda model, sentence, layer, head: attention_view(sources[model], sentence, layer, head),
        title="Attention explorer: pick a model, layer and head; type a sentence (rows = queries, columns = keys)",
        model=model, layer=layer, head=head,
        sentence=W.Text(value=sentence, description="sentence", continuous_update=False,
                        layout=W.Layout(width="95%")),
    )
