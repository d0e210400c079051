"""ipywidgets front-ends: each one is a thin view over a pure function that tests call directly.

:func:`interactive_view` is the one mechanism: give it a pure function that returns something
displayable (a plotly figure, text, a DataFrame) and the controls for its arguments. A person
gets sliders; papermill/nbval/CI (see :func:`labutils.env.is_headless`) get one static output
computed from the controls' starting values, so stored notebooks stay readable.
"""
from __future__ import annotations

from typing import Any, Callable

from .env import is_headless

__all__ = ["Shown", "interactive_view", "gradient_descent_widget"]


def _value(control: Any) -> Any:
    return control.value if hasattr(control, "value") else control


class Shown:
    """What :func:`interactive_view` returns: the widget box or static result, already displayed.

    It displays as nothing (so a cell ending in a widget call does not show it twice) and passes
    attribute access through to the wrapped object; ``.value`` is the object itself.
    """

    def __init__(self, value: Any):
        self.value = value

    def __getattr__(self, name: str) -> Any:
        if name == "value":
            raise AttributeError(name)
        return getattr(self.value, name)

    def __repr__(self) -> str:
        return f"Shown({type(self.value).__name__})"

    def _ipython_display_(self) -> None:  # already on screen
        return None


def interactive_view(fn: Callable[..., Any], *, title: str | None = None, **controls: Any) -> Shown:
    """Show ``fn(**values)`` with a control for each argument.

    Controls are ipywidgets (``FloatSlider`` etc.) or fixed values. Returns a :class:`Shown`
    holding the widget box when interactive, or the static result when headless (``.value``).
    """
    from IPython.display import HTML, display
    if title:
        display(HTML(f"<b>{title}</b>"))
    if is_headless():
        result = fn(**{k: _value(c) for k, c in controls.items()})
        note = ", ".join(f"{k}={_value(c)!r}" for k, c in controls.items())
        display(HTML(f"<i>Interactive widget (static here: {note}). Open the notebook in "
                     "JupyterLab or Colab to move the controls.</i>"))
        display(result)
        return Shown(result)
    import ipywidgets as W
    out = W.Output()
    active = {k: c for k, c in controls.items() if isinstance(c, W.Widget)}
    fixed = {k: c for k, c in controls.items() if not isinstance(c, W.Widget)}

    def redraw(**values: Any) -> None:
        out.clear_output(wait=True)
        with out:
            try:
                display(fn(**values, **fixed))
            except Exception as err:  # noqa: BLE001 - show the learner a sentence, keep the widget alive
                print(f"⚠ {type(err).__name__}: {err}")

    W.interactive_output(redraw, active)
    box = W.VBox([W.HBox(list(active.values()), layout=W.Layout(flex_flow="row wrap")), out])
    display(box)
    redraw(**{k: c.value for k, c in active.items()})
    return Shown(box)


def gradient_descent_widget():
    """Notebook 00's first widget: gradient descent on a 1-D bowl, learning rate on a slider."""
    import ipywidgets as W
    from .toys import gradient_descent_figure
    return interactive_view(
        gradient_descent_figure,
        title="Gradient descent on f(x) = a·x²: move the learning rate and watch the steps",
        lr=W.FloatLogSlider(value=0.1, base=10, min=-3, max=0.5, step=0.05, description="learning rate",
                            readout_format=".3f", continuous_update=False),
        steps=W.IntSlider(value=20, min=1, max=60, description="steps", continuous_update=False),
        curvature=W.FloatSlider(value=1.0, min=0.2, max=3.0, step=0.1, description="a (curvature)",
                                continuous_update=False),
        start=4.0,
    )


# ---- notebook 01 ----
def optimizer_race_widget(surface: str = "rosenbrock", steps: int = 1000):
    """Notebook 01: SGD, momentum, RMSProp, Adam and AdamW racing on a 2-D loss surface.

    A view over :func:`labutils.nnmath.optimizer_race_figure`; learning rates, β's, AdamW's weight
    decay, the surface and the number of steps are controls.
    """
    import ipywidgets as W
    from .nnmath import SURFACES, optimizer_race_figure
    if surface not in SURFACES:
        raise ValueError(f"Unknown surface {surface!r}; choose one of: {', '.join(SURFACES)}.")
    style = {"description_width": "initial"}

    def log_slider(value, lo, hi, text):
        return W.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=0.05, description=text,
                                readout_format=".2g", continuous_update=False, style=style)

    return interactive_view(
        optimizer_race_figure,
        title="Optimizers racing on a loss surface: move the learning rates and β's",
        surface=W.Dropdown(options=list(SURFACES), value=surface, description="surface"),
        lr_sgd=log_slider(2e-3, -4, 0, "lr SGD/momentum"),
        lr_adaptive=log_slider(5e-2, -3, 0, "lr RMSProp/Adam"),
        beta1=W.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="β₁ (and momentum μ)",
                            continuous_update=False, style=style),
        beta2=W.FloatSlider(value=0.999, min=0.5, max=0.9999, step=0.0001, readout_format=".4f",
                            description="β₂ (and RMSProp α)", continuous_update=False, style=style),
        weight_decay=W.FloatSlider(value=0.1, min=0.0, max=1.0, step=0.05, description="AdamW λ",
                                   continuous_update=False, style=style),
        steps=W.IntSlider(value=steps, min=10, max=3000, step=10, description="steps",
                          continuous_update=False),
    )
# ---- end notebook 01 ----


# ---- notebook 02 ----
def tokenizer_widget(schemes, text: str = "Tokenization turns text into numbers. 分词把文字变成数字 🙂", start: str = "all"):
    """Notebook 02: type text, pick a tokenizer, see coloured tokens, their ids and counts.

    ``schemes`` maps names to :class:`labutils.tokviz.Scheme`; the view is
    :func:`labutils.tokviz.token_view` (``"all"`` shows every tokenizer under the other).
    """
    import ipywidgets as W
    from .tokviz import token_view
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
    from .attention_viz import attention_view
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
# ---- end notebook 03 ----


# ---- notebook 07 ----
def lr_schedule_widget(total_steps: int = 1000, warmup_steps: int = 100, base_lr: float = 5e-5):
    """Notebook 07: draw the common learning-rate schedules (constant, constant with warmup, linear,
    cosine) from their parameters. A view over :func:`labutils.challenges.schedule_figure`."""
    import ipywidgets as W
    from .challenges import SCHEDULES, ChallengeError, schedule_figure
    if not 0 <= warmup_steps <= total_steps:
        raise ChallengeError(f"Need 0 ≤ warmup_steps ≤ total_steps; got {warmup_steps} and {total_steps}.")
    style = {"description_width": "initial"}
    return interactive_view(
        schedule_figure,
        title="Learning-rate schedules: move the warmup, the length and the peak learning rate",
        kinds=W.Dropdown(options=["all", *SCHEDULES], value="all", description="schedule"),
        total_steps=W.IntSlider(value=total_steps, min=10, max=5000, step=10, description="total steps",
                                continuous_update=False, style=style),
        warmup_steps=W.IntSlider(value=warmup_steps, min=0, max=2000, step=10, description="warmup steps",
                                 continuous_update=False, style=style),
        base_lr=W.FloatLogSlider(value=base_lr, base=10, min=-6, max=-1, step=0.1, description="peak lr",
                                 readout_format=".1e", continuous_update=False, style=style),
        num_cycles=W.FloatSlider(value=0.5, min=0.25, max=2.0, step=0.25, description="cosine cycles",
                                 continuous_update=False, style=style),
    )
# ---- end notebook 07 ----


# ---- notebook 05 ----
def fill_mask_widget(model, vocab, text: str = "In the beginning God created the [MASK] and the earth.", top_k: int = 5):
    """Notebook 05: type a sentence with [MASK], see the top-k guesses of a masked language model.

    A view over :func:`labutils.mlm.fill_mask_table` (``model`` a ``BertForMaskedLM``, ``vocab`` the
    :class:`labutils.mlm.TrimmedVocab` it was trained with).
    """
    import ipywidgets as W
    from .mlm import fill_mask_table
    if "[MASK]" not in text:
        raise ValueError("The starting text needs at least one [MASK].")
    return interactive_view(
        lambda text, top_k: fill_mask_table(model, vocab, text, top_k),
        title="Fill in the blank: write [MASK] where the model should guess (several masks are fine)",
        text=W.Text(value=text, description="sentence", continuous_update=False, layout=W.Layout(width="95%")),
        top_k=W.IntSlider(value=top_k, min=1, max=20, description="top k", continuous_update=False),
    )


def neighbours_widget(index_vecs, index_texts, model, tokenizer, query: str = "a dull movie with bad actors",
                      k: int = 5, index_sources=None):
    """Notebook 05: type a sentence, see its nearest neighbours by cosine of sentence embeddings.

    A view over :func:`labutils.mlm.neighbours_table`.
    """
    import ipywidgets as W
    from .mlm import neighbours_table
    if not 1 <= k <= len(index_texts):
        raise ValueError(f"k must be between 1 and {len(index_texts)}, got {k}.")
    return interactive_view(
        lambda query, k: neighbours_table(query, index_vecs, index_texts, model, tokenizer, k, index_sources),
        title="Semantic search: type a sentence, see the most similar sentences in the index",
        query=W.Text(value=query, description="query", continuous_update=False, layout=W.Layout(width="95%")),
        k=W.IntSlider(value=k, min=1, max=min(20, len(index_texts)), description="k", continuous_update=False),
    )
# ---- end notebook 05 ----


# ---- notebook 04 ----
def sampling_view(model, tokenizer, prompt: str, max_new_tokens: int = 200, temperature: float = 0.8,
                  top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0, seed: int = 0):
    """Notebook 04: the prompt (bold) and the model's continuation as HTML (``top_k=0``/``top_p=1``: off)."""
    import html

    from IPython.display import HTML
    from .training import generate_text
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
# ---- end notebook 04 ----


# ---- notebook 06 ----
def classifier_widget(model, tokenizer, sentence: str = "A gorgeous, witty, seductive movie.", max_length: int = 128):
    """Notebook 06: type a sentence, see the fine-tuned classifier's label and class probabilities.

    A view over :func:`labutils.finetune.prediction_figure` (works for any sequence classifier and
    its tokenizer, e.g. the English or the Chinese model).
    """
    import ipywidgets as W
    from .finetune import prediction_figure
    return interactive_view(
        lambda sentence: prediction_figure(model, tokenizer, sentence, max_length=max_length),
        title="Type a sentence: the fine-tuned classifier's label and probabilities",
        sentence=W.Textarea(value=sentence, description="sentence", continuous_update=False,
                            layout=W.Layout(width="95%", height="60px")),
    )
# ---- end notebook 06 ----
