"""A real service for notebook 12: FastAPI app with validation, limits, metrics, auth and dynamic batching.

:func:`build_app` takes a ``classify_fn(list[str]) -> list[dict]`` and/or a chat model + tokenizer, so tests
inject tiny ones. Endpoints: ``GET /health``, ``GET /metrics``, ``POST /v1/classify``,
``POST /v1/chat/completions`` (OpenAI-compatible, ``stream=true`` gives server-sent events); ``/openapi.json`` on.
Bad input → 4xx with one sentence (never 5xx); bodies over ``max_body`` → 413; more than ``max_concurrency``
requests in flight → 429; a ``token`` requires ``Authorization: Bearer <token>``.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field

LAT_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(min_length=1, max_length=64)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(pattern="^(system|user|assistant)$")
    content: str = Field(max_length=4000)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = "chat-lm"
    messages: list[ChatMessage] = Field(min_length=1, max_length=32)
    max_tokens: int = Field(default=32, ge=1, le=256)
    stream: bool = False
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)


class Metrics:
    """Request counts by route and status, and a latency histogram (ms) by route."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.hist: dict[str, list[int]] = {}
        self.batches: list[int] = []

    def observe(self, route: str, status: int, ms: float) -> None:
        key = f"{route} {status}"
        self.counts[key] = self.counts.get(key, 0) + 1
        h = self.hist.setdefault(route, [0] * (len(LAT_BUCKETS_MS) + 1))
        i = next((k for k, b in enumerate(LAT_BUCKETS_MS) if ms <= b), len(LAT_BUCKETS_MS))
        h[i] += 1

    def as_dict(self) -> dict:
        return {"counts": dict(self.counts), "latency_buckets_ms": list(LAT_BUCKETS_MS),
                "latency_hist": {k: list(v) for k, v in self.hist.items()},
                "batch_sizes": {str(k): self.batches.count(k) for k in sorted(set(self.batches))}}


class DynamicBatcher:
    """Collect single requests from an asyncio queue into batches of up to ``max_batch`` or ``max_wait_ms``,
    run ``fn(list_of_items) -> list_of_results`` in a worker thread, and hand each caller its own result.

    ``workers`` batches may run at once (each in its own thread; as Triton's "instance count"): while one batch
    computes, the next one is collected and can start on another core."""

    def __init__(self, fn: Callable[[list], list], max_batch: int = 16, max_wait_ms: float = 5.0, metrics=None,
                 workers: int = 1):
        self.fn, self.max_batch, self.max_wait = fn, int(max_batch), max_wait_ms / 1000
        self.workers = max(1, int(workers))
        self.queue: asyncio.Queue | None = None
        self.tasks: list = []
        self.metrics = metrics

    async def start(self):
        self.queue = asyncio.Queue()
        self.tasks = [asyncio.create_task(self._loop()) for _ in range(self.workers)]

    async def stop(self):
        for t in self.tasks:
            t.cancel()

    async def submit(self, item):
        if self.queue is None:
            await self.start()
        fut = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((item, fut))
        return await fut

    async def _collect(self) -> list:
        batch = [await self.queue.get()]
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                batch.append(self.queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            await asyncio.sleep(min(left, 0.0005))
        return batch

    async def _loop(self):
        while True:
            batch = await self._collect()
            if self.metrics is not None:
                self.metrics.batches.append(len(batch))
            try:
                results = await asyncio.to_thread(self.fn, [b[0] for b in batch])
                for (_, f), r in zip(batch, results):
                    if not f.done():
                        f.set_result(r)
            except Exception as err:  # noqa: BLE001 - handed to each caller
                for _, f in batch:
                    if not f.done():
                        f.set_exception(err)


def _chat_prompt(tokenizer, messages):
    msgs = [m.model_dump() for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    return "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant:"


def _generate_stream(model, tokenizer, prompt: str, max_tokens: int, use_cache: bool = True):
    """Greedy decoding, one token at a time (yielded as text pieces), with or without the KV cache."""
    import torch

    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    eos = getattr(tokenizer, "eos_token_id", None)
    past, cur = None, ids
    with torch.no_grad():
        for _ in range(max_tokens):
            out = model(input_ids=cur if use_cache else ids, past_key_values=past, use_cache=use_cache)
            nxt = out.logits[:, -1, :].argmax(-1, keepdim=True)
            if eos is not None and int(nxt) == eos:
                break
            ids = torch.cat([ids, nxt], dim=1)
            if use_cache:
                past, cur = out.past_key_values, nxt
            yield tokenizer.decode(nxt[0])


def build_app(classify_fn: Callable[[list[str]], list[dict]] | None = None, chat_model=None, chat_tokenizer=None,
              token: str | None = None, max_body: int = 64_000, max_concurrency: int = 64, batching: bool = True,
              max_batch: int = 16, max_wait_ms: float = 5.0, max_text_chars: int = 2000, batch_workers: int = 2):
    """The FastAPI app. ``classify_fn`` maps a list of texts to ``[{"label": ..., "score": ...}, ...]``."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    metrics = Metrics()
    batcher = DynamicBatcher(classify_fn, max_batch, max_wait_ms, metrics, workers=batch_workers) \
        if (classify_fn and batching) else None
    app = FastAPI(title="LLM Lab service", version="1.0")
    app.state.metrics = metrics

    def err(status: int, msg: str):
        return JSONResponse({"error": {"message": msg, "status": status}}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad(request, exc):
        e = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        return err(422, f"Invalid request at {loc}: {e.get('msg', 'malformed body')}.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        return err(exc.status_code, str(exc.detail).rstrip(".") + ".")

    @app.exception_handler(Exception)
    async def _any(request, exc):  # a bug must not look like a crash to the client; logged in metrics
        return err(500, "Internal error while serving the request.")

    from labutils.chapters.serving.guard import Guard
    app.add_middleware(Guard, metrics=metrics, token=token, max_body=max_body, max_concurrency=max_concurrency)

    @app.on_event("startup")
    async def _start():
        if batcher:
            await batcher.start()

    @app.get("/health")
    async def health():
        return {"status": "ok", "classifier": classify_fn is not None, "chat": chat_model is not None}

    @app.get("/metrics")
    async def get_metrics():
        return metrics.as_dict()

    @app.post("/v1/classify")
    async def classify(req: ClassifyRequest):
        if classify_fn is None:
            return err(404, "This server has no classifier; start it with 'serve classifier'.")
        bad = [i for i, t in enumerate(req.texts) if not t.strip() or len(t) > max_text_chars]
        if bad:
            return err(422, f"Text {bad[0]} is empty or longer than {max_text_chars} characters.")
        if batcher and len(req.texts) == 1:
            results = [await batcher.submit(req.texts[0])]
        else:
            results = await asyncio.to_thread(classify_fn, req.texts)
        return {"results": results}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest):
        if chat_model is None:
            return err(404, "This server has no chat model; start it with 'serve lm'.")
        prompt = _chat_prompt(chat_tokenizer, req.messages)
        n_prompt = len(chat_tokenizer(prompt)["input_ids"])
        if n_prompt > 1024:
            return err(422, f"The prompt has {n_prompt} tokens; the limit is 1024.")
        cid, created = f"chatcmpl-{int(time.time() * 1000)}", int(time.time())
        if req.stream:
            def events():
                head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model}
                yield "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": {"role": "assistant"},
                                                                  "finish_reason": None}]}) + "\n\n"
                for piece in _generate_stream(chat_model, chat_tokenizer, prompt, req.max_tokens):
                    yield "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": {"content": piece},
                                                                      "finish_reason": None}]}) + "\n\n"
                yield "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": {},
                                                                  "finish_reason": "stop"}]}) + "\n\n"
                yield "data: [DONE]\n\n"
            return StreamingResponse(events(), media_type="text/event-stream")
        pieces = await asyncio.to_thread(lambda: list(_generate_stream(chat_model, chat_tokenizer, prompt,
                                                                       req.max_tokens)))
        return {"id": cid, "object": "chat.completion", "created": created, "model": req.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                             "finish_reason": "stop" if len(pieces) < req.max_tokens else "length"}],
                "usage": {"prompt_tokens": n_prompt, "completion_tokens": len(pieces),
                          "total_tokens": n_prompt + len(pieces)}}

    return app


def onnx_classify_fn(session, tokenizer, labels: list[str] | None = None, max_length: int = 128, chunk: int = 8):
    """``classify_fn`` over an ONNX Runtime session: tokenize, run, softmax, top label per text.

    A batch is sorted by token length and run in chunks of at most ``chunk`` texts of similar length, each padded
    only to its own longest text: padding a short sentence to the length of a long one is wasted arithmetic.
    """
    import numpy as np

    pad = tokenizer.pad_token_id or 0

    def fn(texts: list[str]) -> list[dict]:
        ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        probs: list = [None] * len(ids)
        for start in range(0, len(order), max(1, chunk)):
            part = order[start:start + max(1, chunk)]
            L = max(len(ids[i]) for i in part)
            x = np.full((len(part), L), pad, dtype=np.int64)
            m = np.zeros((len(part), L), dtype=np.int64)
            for r, i in enumerate(part):
                x[r, :len(ids[i])] = ids[i]
                m[r, :len(ids[i])] = 1
            logits = session.run(["logits"], {"input_ids": x, "attention_mask": m})[0]
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            for r, i in enumerate(part):
                probs[i] = p[r]
        names = labels or [f"LABEL_{i}" for i in range(len(probs[0]))]
        return [{"label": names[int(r.argmax())], "score": float(r.max())} for r in probs]

    return fn


def classifier_app_fn(onnx_path: str | None = None, int8: bool = False, tiny: bool = False, threads: int = 1):
    """``(classify_fn, source)`` for ``serve classifier``: the given ONNX file (labels from its ``labels.json``),
    else :func:`~labutils.chapters.serving.models.served_classifier` (notebook 06's classifier or a tiny one)."""
    from labutils.chapters.serving.models import read_labels, served_classifier
    from labutils.chapters.serving.onnx import ort_session
    from labutils.models.encoder import load_tokenizer

    if onnx_path is None:
        info = served_classifier(int8=int8, tiny=tiny)
        onnx_path, source = str(info["onnx"]), info["source"]
    else:
        source = onnx_path
    session = ort_session(onnx_path, intra_threads=threads, spin=False)
    return onnx_classify_fn(session, load_tokenizer(), labels=read_labels(onnx_path)), source


def serve(kind: str, port: int = 8000, host: str = "127.0.0.1", token: str | None = None, onnx_path: str | None = None,
          batching: bool = True, int8: bool = False, tiny: bool = False, threads: int = 1, max_batch: int = 16,
          max_wait_ms: float = 5.0, batch_workers: int = 2) -> None:
    """Load the model(s) and run uvicorn on ``host:port`` (loopback by default).

    ``classifier``: ``onnx_path``, else notebook 06's classifier of the current profile exported to ONNX
    (``int8``: its ONNX Runtime int8 model), else a tiny random one (``tiny`` forces it); ``lm``: the chat LM;
    ``all``: both in one process. ``batching`` switches dynamic batching (``max_batch``, ``max_wait_ms``).
    """
    import uvicorn

    from labutils.chapters.serving.onnx import ServingError
    if kind not in ("classifier", "lm", "all"):
        raise ServingError(f"Unknown service {kind!r}; choose 'classifier', 'lm' or 'all'.")
    parts: dict = {}
    if kind in ("classifier", "all"):
        fn, source = classifier_app_fn(onnx_path, int8=int8, tiny=tiny, threads=threads)
        parts["classify_fn"] = fn
        print(f"serving classifier: {source}", flush=True)
    if kind in ("lm", "all"):
        from labutils.models.chat import chat_lm
        model, tok = chat_lm(device="cpu")
        parts.update(chat_model=model.eval(), chat_tokenizer=tok)
    app = build_app(token=token, batching=batching, max_batch=max_batch, max_wait_ms=max_wait_ms,
                    batch_workers=batch_workers, **parts)
    from labutils.chapters.serving.server import watch_parent
    watch_parent()
    uvicorn.run(app, host=host, port=int(port), log_level="warning")
