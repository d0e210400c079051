"""Notebook 09, chatting with a tuned model: one pure turn function (history in, reply and new history out) that
keeps the prompt inside a token budget by dropping the oldest turns, and the view the chat widget shows."""
from __future__ import annotations

import html
from typing import Sequence

import torch

from labutils.core.errors import InstructError


def truncate_history(tokenizer, messages: Sequence[dict], max_tokens: int) -> tuple[list[dict], int]:
    """Drop the oldest user/assistant turns (a system message stays) until the rendered prompt, with the
    generation prompt, has at most ``max_tokens`` tokens. Returns ``(kept messages, messages dropped)``."""
    msgs = list(messages)
    system = [m for m in msgs[:1] if m["role"] == "system"]
    rest = msgs[len(system):]
    dropped = 0

    def n_tokens(ms):
        return len(tokenizer.apply_chat_template(ms, add_generation_prompt=True, tokenize=True, return_dict=True)
                   ["input_ids"])
    while len(rest) > 1 and (n_tokens(system + rest) > max_tokens or rest[0]["role"] != "user"):
        rest = rest[1:]             # the oldest message goes; a kept history always starts with a user turn
        dropped += 1
    if n_tokens(system + rest) > max_tokens:
        raise InstructError(f"The last message alone needs more than max_tokens={max_tokens} tokens; shorten it "
                            "or raise the budget.")
    return system + rest, dropped


def chat_turn(model, tokenizer, history: Sequence[dict], message: str, temperature: float = 0.0,
              max_new_tokens: int = 32, max_context_tokens: int = 256, seed: int = 0) -> dict:
    """One turn of a chat: add ``message``, fit the history into ``max_context_tokens``, answer.

    ``temperature`` 0 is greedy; above 0 it samples (seeded, top-p 0.9). Pure: ``history`` is not changed;
    the result holds ``reply``, ``history`` (the new one), ``prompt`` (the rendered text), ``prompt_tokens``
    and ``dropped_turns``.
    """
    if not message.strip():
        raise InstructError("Type a message first.")
    if temperature < 0 or max_new_tokens < 1:
        raise InstructError("temperature must be ≥ 0 and max_new_tokens ≥ 1.")
    msgs, dropped = truncate_history(tokenizer, [*history, {"role": "user", "content": message}],
                                     max_context_tokens)
    prompt = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(next(model.parameters()).device)
    kw = dict(do_sample=False, temperature=None, top_p=None, top_k=None) if temperature == 0 else dict(
        do_sample=True, temperature=float(temperature), top_p=0.9, top_k=None)
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id, **kw)
    reply = tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    return {"reply": reply, "history": [*msgs, {"role": "assistant", "content": reply}], "prompt": prompt,
            "prompt_tokens": int(enc["input_ids"].shape[1]), "dropped_turns": dropped}


def conversation_html(result: dict) -> str:
    """The conversation of a :func:`chat_turn` result as HTML bubbles, with the prompt's size underneath."""
    rows = []
    for m in result["history"]:
        colour = {"user": "#e8f0fe", "assistant": "#e6f4ea"}.get(m["role"], "#f1f3f4")
        rows.append(f'<div style="background:{colour};padding:4px 8px;margin:3px 0;border-radius:6px">'
                    f'<b>{m["role"]}</b>: {html.escape(m["content"]).replace(chr(10), "<br>")}</div>')
    rows.append(f"<small>prompt {result['prompt_tokens']} tokens, {result['dropped_turns']} old message(s) dropped"
                "</small>")
    return "".join(rows)
