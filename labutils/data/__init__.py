"""The offline data sets of the course: ``lu.data.load(name)``, ``list_datasets()``, ``prepare_all()``.

Each source family has its own module (``english``: KJV and movie-review sentiment; ``chinese``: People's
Daily and Chinese reviews; ``dialogue``: chatterbot conversations and QA pairs; ``poems``: Tang poems;
``instructions``: the generated instruction set); ``registry`` holds the catalogue, the atomic
prepare step and the loaders; ``tokenizers`` the character and BPE tokenizers of the course GPT.
Notebook 02 introduces the data sets; every later notebook loads from here.
"""
from __future__ import annotations

from labutils.core.errors import DataError, TextDataError
from labutils.data.instructions import (
    INSTRUCTION_TASKS,
    check_instruction_answer,
    generate_instructions,
    solve_instruction,
)
from labutils.data.packages import NER_LABELS, SEED, SENTIMENT_LABELS
from labutils.data.registry import corpus_text, info, list_datasets, load, prepare_all

__all__ = [
    "DataError", "TextDataError", "load", "list_datasets", "prepare_all", "corpus_text", "info",
    "check_instruction_answer", "solve_instruction", "generate_instructions",
    "NER_LABELS", "SENTIMENT_LABELS", "INSTRUCTION_TASKS", "SEED",
]
