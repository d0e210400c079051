"""Notebook 13, a multi-turn chatbot (对话系统) over the chat LM's own template: a system prompt, the history cut
to a token budget (oldest turns first, with a clear message), and retrieval as a tool that the app (not the
135M model) decides to call when a question matches the document store well enough."""
from __future__ import annotations

import html
from typing import Callable, Sequence

import torch

from labutils.chapters.instruct.chat import truncate_history
from labutils.core.errors import LabError

SYSTEM_CHAT = "You are a concise, friendly assistant. Answer in one or two sentences."


class ChatAppError(LabError):
    """Bad input to the chat app (empty message, no room for the reply)."""


def count_tokens(tokenizer, messages: Sequence[dict]) -> int:
    """Tokens of the rendered chat (with the generation prompt), as the model will see it."""
    return len(tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True,
                                             return_dict=True)["input_ids"])


class ChatApp:
    """A chat session: ``send(message)`` returns the reply and what happened (tool call, dropped turns).

    ``search(query) -> (score, text)`` is the retrieval tool; when the message looks like a question and the best
    score is at least ``tool_threshold``, the passage is put into the user turn as context and the call is logged.
    ``max_context_tokens`` is the budget of the prompt; the reply gets ``max_new_tokens`` on top.
    """

    def __init__(self, model, tokenizer, system: str = SYSTEM_CHAT, search: Callable | None = None,
                 tool_threshold: float = 0.5, max_context_tokens: int = 256, max_new_tokens: int = 24):
        if max_new_tokens < 1 or max_context_tokens < 16:
            raise ChatAppError("max_new_tokens must be ≥ 1 and max_context_tokens ≥ 16.")
        self.model, self.tokenizer, self.system, self.search = model, tokenizer, system, search
        self.tool_threshold, self.max_context_tokens, self.max_new_tokens = tool_threshold, max_context_tokens, max_new_tokens
        self.history: list[dict] = []
        self.log: list[dict] = []

    def _tool(self, message: str) -> dict | None:
        if self.search is None or not message.rstrip().endswith("?"):
            return None
        score, text = self.search(message)
        used = score >= self.tool_threshold
        return {"tool": "search", "query": message, "score": float(score), "passage": text, "used": used}

    def send(self, message: str) -> dict:
        """One turn. Returns ``reply``, ``tool`` (or None), ``dropped`` (old messages cut), ``notice`` (a sentence
        when something was cut), ``prompt_tokens`` and ``ms``."""
        import time
        if not message.strip():
            raise ChatAppError("Type a message first.")
        t0 = time.perf_counter()
        tool = self._tool(message)
        content = message
        if tool and tool["used"]:
            content = f"Context: {tool['passage']}\n\nUsing the context if it helps, answer: {message}"
        msgs = [{"role": "system", "content": self.system}, *self.history, {"role": "user", "content": content}]
        kept, dropped = truncate_history(self.tokenizer, msgs, self.max_context_tokens)
        notice = (f"⚠ history cut: the {dropped} oldest message(s) were dropped to keep the prompt within "
                  f"{self.max_context_tokens} tokens." if dropped else "")
        enc = self.tokenizer.apply_chat_template(kept, add_generation_prompt=True, tokenize=True, return_dict=True,
                                                 return_tensors="pt")
        n = enc["input_ids"].shape[1]
        with torch.inference_mode():
            out = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False, temperature=None,
                                      top_p=None, top_k=None, pad_token_id=self.tokenizer.pad_token_id)
        reply = self.tokenizer.decode(out[0, n:], skip_special_tokens=True).strip()
        # the stored history keeps what the user typed; the context passage lives only in that one prompt
        self.history = [m for m in kept[1:-1]] + [{"role": "user", "content": message},
                                                  {"role": "assistant", "content": reply}]
        turn = {"message": message, "reply": reply, "tool": tool, "dropped": dropped, "notice": notice,
                "prompt_tokens": int(n), "ms": (time.perf_counter() - t0) * 1000}
        self.log.append(turn)
        return turn


def transcript_html(log: Sequence[dict]) -> str:
    """The chat's turns as HTML bubbles, with tool calls and truncation notices in between."""
    rows = []
    for t in log:
        if t["notice"]:
            rows.append(f'<div style="color:#b06000"><small>{html.escape(t["notice"])}</small></div>')
        rows.append(f'<div style="background:#e8f0fe;padding:4px 8px;margin:3px 0;border-radius:6px"><b>user</b>: '
                    f'{html.escape(t["message"])}</div>')
        if t["tool"]:
            tl = t["tool"]
            what = "passage added to the prompt" if tl["used"] else "below the threshold, not used"
            rows.append(f'<div style="color:#555"><small>🔎 search(score {tl["score"]:.2f}, {what}): '
                        f'{html.escape(tl["passage"][:120])}</small></div>')
        rows.append(f'<div style="background:#e6f4ea;padding:4px 8px;margin:3px 0;border-radius:6px"><b>assistant'
                    f'</b>: {html.escape(t["reply"])}<br><small>prompt {t["prompt_tokens"]} tokens · '
                    f'{t["ms"]:.0f} ms</small></div>')
    return "".join(rows)
