"""Notebook 12, load testing a service from the notebook: an asyncio + ``httpx`` client with bounded count and
time (loopback only), a concurrency sweep, a streaming client that measures time to first token (TTFT) and
inter-token latency (ITL) from server-sent events, and a fuzz of bad requests.

Every function works inside Jupyter too (where an event loop is already running: the client then runs its own
loop in a worker thread). Latencies are wall-clock milliseconds per request, measured at the client.
"""
from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

from labutils.chapters.serving.onnx import ServingError

Request = dict  # {"method": "POST", "url": "/v1/classify", "json": {...}} or with "content" and "headers"


def _loopback(url: str) -> str:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ServingError(f"The load tester only targets loopback (127.0.0.1), not {host!r}.")
    return url.rstrip("/")


def run_async(coro):
    """Run a coroutine to completion, also from inside a running event loop (a notebook): in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = err
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, as ``numpy.percentile``; NaN for no values."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def classify_requests(texts: Sequence[str], per_request: int = 1) -> Callable[[int], Request]:
    """``make_request(i)`` for ``POST /v1/classify``: request i carries ``per_request`` texts, cycling through ``texts``."""
    texts = list(texts)
    if not texts:
        raise ServingError("Give at least one text to send.")

    def make(i: int) -> Request:
        return {"method": "POST", "url": "/v1/classify",
                "json": {"texts": [texts[(i * per_request + j) % len(texts)] for j in range(per_request)]}}
    return make


def summarize(latencies_ms: Sequence[float], statuses: Sequence[Any], seconds: float, concurrency: int) -> dict:
    """requests/s, p50/p95/p99/mean latency (ms) of the successful requests, status counts, 5xx and errors."""
    counts: dict[str, int] = {}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    ok = [lat for lat, s in zip(latencies_ms, statuses) if isinstance(s, int) and 200 <= s < 300]
    n5 = sum(v for k, v in counts.items() if k.isdigit() and 500 <= int(k) < 600)
    return {"concurrency": concurrency, "requests": len(statuses), "ok": len(ok), "seconds": seconds,
            "rps": len(ok) / seconds if seconds > 0 else 0.0,
            "p50_ms": percentile(ok, 50), "p95_ms": percentile(ok, 95), "p99_ms": percentile(ok, 99),
            "mean_ms": sum(ok) / len(ok) if ok else float("nan"), "status": counts, "n_5xx": n5,
            "n_errors": sum(v for k, v in counts.items() if not k.isdigit())}


async def _load(url, make_request, concurrency, n_requests, time_limit_s, timeout, warmup, headers):
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    lat: list[float] = []
    status: list[Any] = []
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout, headers=headers or {}) as client:
        async def one(i):
            req = dict(make_request(i))
            t0 = time.perf_counter()
            try:
                r = await client.request(req.pop("method", "POST"), req.pop("url"), **req)
                code: Any = r.status_code
            except httpx.HTTPError as err:
                code = type(err).__name__
            return (time.perf_counter() - t0) * 1000, code

        await asyncio.gather(*(one(-1 - k) for k in range(warmup)))  # connections open, caches warm
        counter = iter(range(n_requests))
        start = time.perf_counter()
        deadline = start + time_limit_s

        async def worker():
            for i in counter:
                if time.perf_counter() >= deadline:
                    break
                ms, code = await one(i)
                lat.append(ms)
                status.append(code)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return summarize(lat, status, seconds, concurrency)


def load_test(url: str, make_request: Callable[[int], Request], concurrency: int = 16, n_requests: int = 1000,
              time_limit_s: float = 10.0, timeout: float = 30.0, warmup: int | None = None,
              headers: dict | None = None) -> dict:
    """Send up to ``n_requests`` requests (``make_request(i)`` → method/url/json) from ``concurrency`` workers
    over keep-alive connections, for at most ``time_limit_s`` seconds; loopback only.

    Returns requests/s (successful only), p50/p95/p99/mean ms, ``status`` counts, ``n_5xx`` and ``n_errors``
    (connection failures, timeouts). ``warmup`` requests (default: one per worker) are sent first and not counted.
    """
    if int(concurrency) < 1 or int(n_requests) < 1:
        raise ServingError("concurrency and n_requests must be at least 1.")
    warmup = int(concurrency) if warmup is None else int(warmup)
    return run_async(_load(_loopback(url), make_request, int(concurrency), int(n_requests), float(time_limit_s),
                           float(timeout), warmup, headers))


def concurrency_sweep(url: str, make_request: Callable[[int], Request], levels: Sequence[int] = (1, 4, 16, 32),
                      n_requests: int = 1000, time_limit_s: float = 5.0, **kw) -> list[dict]:
    """:func:`load_test` at each concurrency level; one row per level."""
    return [load_test(url, make_request, c, n_requests, time_limit_s, **kw) for c in levels]


def sweep_figure(rows: Sequence[dict], title: str = "Load test: throughput and latency vs concurrency"):
    """plotly: requests/s (bars, left axis) and p50/p95/p99 latency (lines, right axis) against concurrency."""
    import plotly.graph_objects as go

    x = [str(r["concurrency"]) for r in rows]
    fig = go.Figure()
    fig.add_bar(x=x, y=[r["rps"] for r in rows], name="requests/s", marker_color="lightsteelblue")
    for q, dash in (("p50", "solid"), ("p95", "dash"), ("p99", "dot")):
        fig.add_scatter(x=x, y=[r[f"{q}_ms"] for r in rows], name=f"{q} ms", yaxis="y2", mode="lines+markers",
                        line={"dash": dash})
    fig.update_layout(title=title, xaxis_title="concurrent clients", yaxis_title="requests/s",
                      yaxis2={"title": "latency (ms)", "overlaying": "y", "side": "right", "rangemode": "tozero"},
                      legend={"orientation": "h", "y": -0.25}, height=380, margin={"t": 50})
    return fig


def stream_chat(url: str, messages: Sequence[dict] | str, max_tokens: int = 32, token: str | None = None,
                timeout: float = 120.0) -> dict:
    """One streaming ``POST /v1/chat/completions``: time to first token (TTFT), inter-token latency (ITL), text.

    TTFT is the time from sending to the first content chunk; ITL the gaps between later chunks (one chunk per
    token here). Returns ``ttft_ms``, ``itl_p50_ms``, ``itl_mean_ms``, ``tokens``, ``total_ms``, ``tokens_per_s``, ``text``.
    """
    import httpx

    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    body = {"messages": list(messages), "max_tokens": int(max_tokens), "stream": True}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    times, pieces, done = [], [], False
    t0 = time.perf_counter()
    with httpx.stream("POST", _loopback(url) + "/v1/chat/completions", json=body, headers=headers,
                      timeout=timeout) as r:
        if r.status_code != 200:
            raise ServingError(f"The chat endpoint answered {r.status_code}: {r.read().decode(errors='replace')}")
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                break
            delta = json.loads(data)["choices"][0]["delta"]
            if delta.get("content"):
                times.append(time.perf_counter())
                pieces.append(delta["content"])
    total = (time.perf_counter() - t0) * 1000
    gaps = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    return {"ttft_ms": (times[0] - t0) * 1000 if times else float("nan"), "itl_p50_ms": percentile(gaps, 50),
            "itl_mean_ms": sum(gaps) / len(gaps) if gaps else float("nan"), "tokens": len(pieces),
            "total_ms": total, "tokens_per_s": len(pieces) / (total / 1000) if total else 0.0,
            "text": "".join(pieces), "done": done}


def fuzz_cases(seed: int = 0, n_random: int = 20, huge_bytes: int = 200_000) -> list[tuple[str, bytes, dict]]:
    """Bad request bodies, named: malformed JSON, wrong types, empty and huge inputs, invalid UTF-8, unknown
    fields, too many texts, too many tokens, random bytes. Each is ``(name, body, extra headers)``."""
    rng = random.Random(seed)
    msg = lambda content, **kw: json.dumps({"messages": [{"role": "user", "content": content}], **kw}).encode()  # noqa: E731
    cases = [
        ("empty body", b"", {}), ("malformed JSON", b'{"texts": ["unclosed', {}), ("JSON null", b"null", {}),
        ("JSON list", b"[1, 2]", {}), ("texts not a list", b'{"texts": "a string"}', {}),
        ("texts of numbers", b'{"texts": [1, 2, 3]}', {}), ("no texts", b'{"texts": []}', {}),
        ("empty text", b'{"texts": [""]}', {}), ("whitespace text", b'{"texts": ["   "]}', {}),
        ("too many texts", json.dumps({"texts": ["ok"] * 65}).encode(), {}),
        ("text too long", json.dumps({"texts": ["x" * 5000]}).encode(), {}),
        ("huge body (413)", json.dumps({"texts": ["y" * huge_bytes]}).encode(), {}),
        ("invalid UTF-8", b'{"texts": ["\xff\xfe\xfa"]}', {}),
        ("unknown field", b'{"texts": ["ok"], "temperature": 2}', {}),
        ("nested junk", b'{"texts": [["deep", ["deeper"]]]}', {}),
        ("wrong content type", b"texts=ok", {"content-type": "application/x-www-form-urlencoded"}),
        ("chat: bad role", msg("hi").replace(b'"user"', b'"robot"'), {}),
        ("chat: no messages", b'{"messages": []}', {}),
        ("chat: max_tokens negative", msg("hi", max_tokens=-1), {}),
        ("chat: max_tokens huge", msg("hi", max_tokens=100_000), {}),
        ("chat: max_tokens a word", msg("hi", max_tokens="many"), {}),
        ("chat: too many prompt tokens", json.dumps({"messages": [{"role": "user", "content": "hello " * 660}] * 3}
                                                    ).encode(), {}),
    ]
    for k in range(n_random):
        cases.append((f"random bytes {k}", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))), {}))
    return cases


def fuzz(url: str, seed: int = 0, n_random: int = 20, paths: Sequence[str] = ("/v1/classify", "/v1/chat/completions"),
         valid: Request | None = None, token: str | None = None, timeout: float = 60.0) -> dict:
    """Send every :func:`fuzz_cases` body to each path, then one valid request.

    Returns ``status`` counts, ``n_5xx``, ``n_errors`` (connection failures), ``cases`` (name, path, status)
    and ``valid_after`` (True when the valid request afterwards answered 200)."""
    import httpx

    base = _loopback(url)
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    rows, statuses = [], []
    with httpx.Client(base_url=base, timeout=timeout, headers=auth) as c:
        for name, body, extra in fuzz_cases(seed, n_random):
            for path in paths:
                headers = {"content-type": "application/json", **extra}
                try:
                    code: Any = c.post(path, content=body, headers=headers).status_code
                except httpx.HTTPError as err:
                    code = type(err).__name__
                statuses.append(code)
                rows.append({"case": name, "path": path, "status": code})
        valid = valid or {"method": "POST", "url": "/v1/classify", "json": {"texts": ["a fine, warm film"]}}
        req = dict(valid)
        try:
            after = c.request(req.pop("method", "POST"), req.pop("url"), **req).status_code
        except httpx.HTTPError:
            after = None
    s = summarize([0.0] * len(statuses), statuses, 1.0, 1)
    return {"status": s["status"], "n_5xx": s["n_5xx"], "n_errors": s["n_errors"], "n": len(statuses),
            "cases": rows, "valid_after": after == 200}
