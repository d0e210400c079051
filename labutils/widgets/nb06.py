"""Notebook 06's widget: the fine-tuned classifier's probabilities for a sentence you type."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view

# ---- end notebook 04 ----


# ---- notebook 06 ----
def classifier_widget(model, tokenizer, sentence: str = "A gorgeous, witty, seductive movie.", max_length: int = 128):
    """Notebook 06: type a sentence, see the fine-tuned classifier's label and class probabilities.

    A view over :func:`labutils.finetune.prediction_figure` (works for any sequence classifier and
    its tokenizer, e.g. the English or the Chinese model).
    """
    import ipywidgets as W

    from labutils.chapters.finetune.report import prediction_figure
    return interactive_view(
        lambda sentence: prediction_figure(model, tokenizer, sentence, max_length=max_length),
        title="Type a sentence: the fine-tuned classifier's label and probabilities",
        sentence=W.Textarea(value=sentence, description="sentence", continuous_update=False,
                            layout=W.Layout(width="95%", height="60px")),
    )
