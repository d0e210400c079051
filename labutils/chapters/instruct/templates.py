"""Notebook 09, chat templates (对话模板): what ``apply_chat_template`` produces, shown with its special tokens
visible, a ChatML-like template written for the course GPT's tokenizer, and a second (Alpaca-style) template
to measure what breaks when inference uses another format than training."""
from __future__ import annotations

import html
import re

from labutils.core.errors import InstructError

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
# ChatML (OpenAI; SmolLM2 uses it too): every turn is <|im_start|>role\ncontent<|im_end|>\n
CHATML_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# The same conversation in the Alpaca style (no special tokens): the "other" template of the mismatch test
ALPACA_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] + '\n\n' }}"
    "{% elif m['role'] == 'user' %}{{ '### Instruction:\n' + m['content'] + '\n\n' }}"
    "{% else %}{{ '### Response:\n' + m['content'] + '\n\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}")


def add_chat_tokens(tokenizer, model=None, template: str = CHATML_TEMPLATE):
    """Give a tokenizer (the course GPT's) the ChatML special tokens and a chat template; grow ``model``'s
    embeddings to match. ``<|im_end|>`` becomes the end-of-sequence token, so generation stops there.

    New embedding rows start at the mean of the old ones (transformers' default), so they do not dominate.
    """
    n_added = tokenizer.add_special_tokens({"additional_special_tokens": [IM_START, IM_END]})
    tokenizer.eos_token = IM_END
    if tokenizer.pad_token is None:
        tokenizer.pad_token = IM_END
    tokenizer.chat_template = template
    if model is not None:
        if len(tokenizer) > model.get_input_embeddings().weight.shape[0] or n_added:
            model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
        model.config.eos_token_id = tokenizer.eos_token_id
        model.config.pad_token_id = tokenizer.pad_token_id
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.eos_token_id = tokenizer.eos_token_id
            model.generation_config.pad_token_id = tokenizer.pad_token_id
    return tokenizer


def extend_alphabet(tokenizer, texts, model=None) -> list[str]:
    """Add the characters of ``texts`` that a character tokenizer does not know (digits, Chinese ...) as tokens;
    returns them. Without this they would all become ``<|unk|>``."""
    unk = tokenizer.unk_token_id
    new = sorted({c for t in texts for c in t
                  if tokenizer.convert_tokens_to_ids(c) in (None, unk) and not c.isspace()})
    if new:
        tokenizer.add_tokens(new)
        if model is not None:
            model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return new


def render(tokenizer, messages, add_generation_prompt: bool = True, template: str | None = None) -> str:
    """The prompt string a chat template makes of ``messages`` (``template`` overrides the tokenizer's)."""
    if not getattr(tokenizer, "chat_template", None) and template is None:
        raise InstructError("This tokenizer has no chat template; pass template= or call add_chat_tokens first.")
    return tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False,
                                         chat_template=template)


def show_template(tokenizer, messages, add_generation_prompt: bool = True, template: str | None = None) -> str:
    """HTML of the rendered prompt: special tokens in colour, newlines as ⏎, and its token count."""
    text = render(tokenizer, messages, add_generation_prompt, template)
    n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    specials = sorted({s for s in tokenizer.all_special_tokens if s and s in text}, key=len, reverse=True)
    pieces = re.split("(" + "|".join(map(re.escape, specials)) + ")", text) if specials else [text]
    out = []
    for p in pieces:
        if p in specials:
            out.append(f'<span style="background:#ffe08a;color:#7a4b00;border-radius:3px">{html.escape(p)}</span>')
        else:
            out.append(html.escape(p).replace("\n", '<span style="color:#999">⏎</span>\n'))
    return (f'<pre style="white-space:pre-wrap;font-size:12px;border:1px solid #ddd;padding:6px">{"".join(out)}</pre>'
            f"<small>{n} tokens</small>")
