"""Notebook 15's widget: a confidence threshold for the served classifier. Above it the model answers, below it the
text goes to a person; the curves show accuracy on the answered texts and coverage. A view over
:func:`labutils.chapters.capstone.views.selective_figure` (pure: test probabilities and labels in, a figure out)."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view


def threshold_widget(probs, labels, threshold: float = 0.8):
    """Notebook 15: move the confidence threshold; the title says what share the model answers, how accurately,
    and how many test texts would go to a person (probabilities from the pipeline's test stage)."""
    import ipywidgets as W

    from labutils.chapters.capstone.views import selective_figure
    return interactive_view(
        selective_figure,
        title="Answer or hand over? A confidence threshold on the test predictions",
        probs=probs, labels=labels,
        threshold=W.FloatSlider(value=float(threshold), min=0.5, max=0.99, step=0.01, description="threshold",
                                continuous_update=False, style={"description_width": "initial"}),
    )
