"""Notebook 09, prompting and instruction tuning: prompts, verbalizers and contextual calibration (``prompts``),
zero-shot classification with an encoder (``encoder_zeroshot``), chat templates (``templates``), a small base
GPT (``base``), supervised fine-tuning with the prompt masked (``sft``), DPO (``dpo``) and a chat turn (``chat``)."""
from __future__ import annotations

from labutils.chapters.instruct import base, chat, dpo, encoder_zeroshot, prompts, sft, templates  # noqa: F401
from labutils.core.errors import InstructError  # noqa: F401
