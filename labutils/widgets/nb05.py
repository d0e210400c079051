"""Notebook 05's widgets: fill a [MASK] with the tiny BERT; nearest neighbours in MiniLM's embedding space."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view

# ---- end notebook 07 ----


# ---- notebook 05 ----
def fill_mask_widget(model, vocab, text: str = "In the beginning God created the [MASK] and the earth.", top_k: int = 5):
    """Notebook 05: type a sentence with [MASK], see the top-k guesses of a masked language model.

    A view over :func:`labutils.mlm.fill_mask_table` (``model`` a ``BertForMaskedLM``, ``vocab`` the
    :class:`labutils.mlm.TrimmedVocab` it was trained with).
    """
    import ipywidgets as W

    from labutils.chapters.mlm.masking import fill_mask_table
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

    from labutils.chapters.mlm.transfer import neighbours_table
    if not 1 <= k <= len(index_texts):
        raise ValueError(f"k must be between 1 and {len(index_texts)}, got {k}.")
    return interactive_view(
        lambda query, k: neighbours_table(query, index_vecs, index_texts, model, tokenizer, k, index_sources),
        title="Semantic search: type a sentence, see the most similar sentences in the index",
        query=W.Text(value=query, description="query", continuous_update=False, layout=W.Layout(width="95%")),
        k=W.IntSlider(value=k, min=1, max=min(20, len(index_texts)), description="k", continuous_update=False),
    )
