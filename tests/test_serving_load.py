"""Notebook 12: the server subprocess lifecycle, the load tester, the streaming client, the fuzz, the KV cache and
continuous-batching helpers, ORT timing helpers, the served-classifier cache, the cost table and the widget."""
from __future__ import annotations

import math
import threading
import time

import pytest
from conftest import fake_classify

pytest.importorskip("onnxruntime")


# ---------------------------------------------------------------- an in-process uvicorn server (fast, real HTTP)
@pytest.fixture(scope="module")
def tiny_lm(tiny_chat_lm):
    return tiny_chat_lm


@pytest.fixture(scope="module")
def live_url(tiny_lm):
    import uvicorn

    from labutils.chapters.serving.app import build_app
    from labutils.chapters.serving.server import free_port
    port = free_port()
    app = build_app(classify_fn=fake_classify, chat_model=tiny_lm[0], chat_tokenizer=tiny_lm[1], max_body=20_000)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    t.join(timeout=10)


def test_load_test_counts_and_percentiles(live_url):
    from labutils.chapters.serving import classify_requests, load_test
    r = load_test(live_url, classify_requests(["good film", "bad film"]), concurrency=4, n_requests=60,
                  time_limit_s=10)
    assert r["requests"] == 60 and r["ok"] == 60 and r["status"] == {"200": 60}
    assert r["n_5xx"] == 0 and r["n_errors"] == 0 and r["rps"] > 0
    assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]


def test_load_test_time_limit_bounds_the_run(live_url):
    from labutils.chapters.serving import classify_requests, load_test
    r = load_test(live_url, classify_requests(["good"]), concurrency=2, n_requests=10**6, time_limit_s=0.5)
    assert r["seconds"] < 5 and r["requests"] < 10**6


def test_load_test_counts_5xx_separately(live_url):
    from labutils.chapters.serving.load import summarize
    s = summarize([1.0, 2.0, 3.0, 4.0], [200, 503, 500, "ConnectError"], 1.0, 2)
    assert s["n_5xx"] == 2 and s["n_errors"] == 1 and s["ok"] == 1 and s["rps"] == 1.0


def test_sweep_and_figure(live_url):
    from labutils.chapters.serving import classify_requests, concurrency_sweep, sweep_figure
    rows = concurrency_sweep(live_url, classify_requests(["good"]), levels=(1, 3), n_requests=20, time_limit_s=5)
    assert [r["concurrency"] for r in rows] == [1, 3] and all(r["ok"] == 20 for r in rows)
    fig = sweep_figure(rows)
    assert len(fig.data) == 4


def test_loopback_only():
    from labutils.chapters.serving import ServingError, classify_requests, load_test
    with pytest.raises(ServingError, match="loopback"):
        load_test("http://example.com:80", classify_requests(["x"]), 1, 1)


def test_percentile_matches_numpy():
    import numpy as np

    from labutils.chapters.serving import percentile
    xs = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 95, 99, 100):
        assert math.isclose(percentile(xs, q), float(np.percentile(xs, q)))
    assert math.isnan(percentile([], 50))


def test_stream_chat_measures_ttft_and_itl(live_url):
    from labutils.chapters.serving import stream_chat
    r = stream_chat(live_url, "hi", max_tokens=6)
    assert r["done"] and r["tokens"] >= 1 and r["ttft_ms"] > 0
    assert r["tokens"] == 1 or r["itl_p50_ms"] > 0


def test_fuzz_gives_no_5xx_and_valid_after(live_url):
    from labutils.chapters.serving import fuzz, fuzz_cases
    names = [c[0] for c in fuzz_cases(n_random=0)]
    for kind in ("malformed JSON", "invalid UTF-8", "huge body (413)", "unknown field", "chat: max_tokens huge",
                 "chat: too many prompt tokens", "empty body", "texts of numbers"):
        assert kind in names
    r = fuzz(live_url, n_random=5)
    assert r["n_5xx"] == 0 and r["n_errors"] == 0, r["status"]
    assert r["valid_after"] is True and r["n"] == 2 * len(fuzz_cases(n_random=5))
    assert "413" in r["status"] and "400" in r["status"] and "422" in r["status"]


def test_run_async_inside_a_running_loop():
    import asyncio

    from labutils.chapters.serving.load import run_async

    async def inner():
        return 42

    async def outer():  # as in a notebook: a loop is already running in this thread
        return run_async(inner())
    assert asyncio.run(outer()) == 42


def test_dynamic_batcher_two_workers():
    import asyncio

    from labutils.chapters.serving.app import DynamicBatcher, Metrics

    async def go():
        m = Metrics()
        b = DynamicBatcher(lambda xs: (time.sleep(0.01), [x + 1 for x in xs])[1], max_batch=4, max_wait_ms=5,
                           metrics=m, workers=2)
        await b.start()
        out = await asyncio.gather(*(b.submit(i) for i in range(20)))
        await b.stop()
        return out, m.batches
    out, batches = asyncio.run(go())
    assert out == [i + 1 for i in range(20)] and sum(batches) == 20 and max(batches) <= 4


# ---------------------------------------------------------------- the real subprocess
def test_running_server_subprocess_stops_also_on_error():
    import httpx

    from labutils.chapters.serving import ServerProcess, running_server
    from labutils.chapters.serving.server import server_pid_alive
    s = ServerProcess(["classifier", "--tiny"]).start()
    try:
        url = s.wait_ready(180)
        assert httpx.get(url + "/health").json()["classifier"] is True
        assert s.rss_mb() and s.rss_mb() > 10
    finally:
        s.stop()
    assert not server_pid_alive(s.proc.pid) and not s.running
    seen = {}
    with pytest.raises(RuntimeError):
        with running_server(["classifier", "--tiny"]) as url:
            seen["url"] = url
            assert httpx.post(url + "/v1/classify", json={"texts": ["fine"]}).status_code == 200
            raise RuntimeError("a failing cell")
    with pytest.raises(httpx.HTTPError):
        httpx.get(seen["url"] + "/health", timeout=2)


def test_running_server_reports_a_bad_start():
    from labutils.chapters.serving import ServingError, running_server
    with pytest.raises(ServingError, match="exited"):
        with running_server(["nonsense"], timeout=60):
            pass
    with pytest.raises(ServingError, match="port"):
        with running_server(["classifier", "--port", "1"]):
            pass


# ---------------------------------------------------------------- KV cache and continuous batching
def test_kv_cache_same_tokens_and_faster(tiny_lm):
    import torch

    from labutils.chapters.serving import greedy_decode, kv_cache_sweep, kv_figure
    model, _ = tiny_lm
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    assert greedy_decode(model, ids, 8, True) == greedy_decode(model, ids, 8, False)
    rows = kv_cache_sweep(model, ids, lengths=(4, 16))
    assert [r["new_tokens"] for r in rows] == [4, 16] and all(r["same_tokens"] for r in rows)
    assert all(r["cache_tok_s"] > 0 and r["no_cache_tok_s"] > 0 for r in rows)
    assert len(kv_figure(rows).data) == 2


def test_kv_cache_sweep_refuses_too_long(tiny_lm):
    import torch

    from labutils.chapters.serving import ServingError, kv_cache_sweep
    with pytest.raises(ServingError, match="positions"):
        kv_cache_sweep(tiny_lm[0], torch.tensor([[1, 2, 3]]), lengths=(600,))


def test_static_vs_continuous_batching(tiny_lm):
    from labutils.chapters.serving import batching_timeline, continuous_batching, make_workload, static_batching
    model, _ = tiny_lm
    lengths = [5, 20, 8, 3, 12, 2, 9, 4]
    prompts = [[10 + i, 20 + i, 30] for i in range(len(lengths))]
    st = static_batching(model, prompts, lengths, batch_size=4)
    co = continuous_batching(model, prompts, lengths, batch_size=4)
    assert st["decode_steps"] == 20 + 12 and st["wasted_slot_steps"] == 4 * 32 - sum(lengths)
    assert co["decode_steps"] < st["decode_steps"] and co["slot_utilisation"] > st["slot_utilisation"]
    assert [len(o) for o in st["outputs"]] == lengths == [len(o) for o in co["outputs"]]
    assert st["useful_tokens"] == co["useful_tokens"] == sum(lengths)
    same = sum(a == b for a, b in zip(st["outputs"], co["outputs"]))
    assert same >= len(lengths) - 1  # left padding + positions: the same tokens whatever the batch
    assert len(batching_timeline(st, co, lengths, 4).data) > len(lengths)
    w = make_workload(50, 2, 30, seed=1)
    assert w == make_workload(50, 2, 30, seed=1) and all(2 <= n <= 30 for n in w)


def test_batching_input_errors(tiny_lm):
    from labutils.chapters.serving import ServingError, static_batching
    with pytest.raises(ServingError):
        static_batching(tiny_lm[0], [[1, 2]], [3, 4])
    with pytest.raises(ServingError):
        static_batching(tiny_lm[0], [[1, 2]], [3], batch_size=0)


# ---------------------------------------------------------------- ORT timing, the served classifier, cost
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from labutils.chapters.serving import export_classifier, tiny_classifier
    m, tok = tiny_classifier()
    return m, tok, export_classifier(m, tok, tmp_path_factory.mktemp("clf") / "c", labels=["neg", "pos"], int8=True)


def test_export_classifier_writes_labels_and_int8(exported):
    from labutils.chapters.serving import read_labels
    _, _, info = exported
    assert info["onnx"].is_file() and info["int8"].is_file() and read_labels(info["onnx"]) == ["neg", "pos"]


def test_bench_helpers(exported):
    from labutils.chapters.serving import (
        eager_vs_ort,
        fixed_inputs,
        latency_figure,
        ort_session,
        session_sweep,
        time_ms,
    )
    m, tok, info = exported
    x = fixed_inputs(tok, ["a b c", "a much longer sentence than the first one is"], batch=3, seq=12)
    assert tuple(x["input_ids"].shape) == (3, 12)
    assert time_ms(lambda: sum(range(1000)), repeats=5) > 0
    rows = eager_vs_ort(m, {"ort": ort_session(info["onnx"], intra_threads=1)}, tok, ["hello there"], (1, 2), (8,),
                        repeats=3)
    assert len(rows) == 2 and all(r["ort_speedup"] > 0 for r in rows)
    assert len(latency_figure(rows, names=("eager", "ort")).data) == 4
    sweep = session_sweep(info["onnx"], x, opt_levels=("basic", "all"), threads=(1,), repeats=3)
    assert [r["opt_level"] for r in sweep] == ["basic", "all"] and all(r["ms"] > 0 for r in sweep)


def test_onnx_classify_fn_chunks_equal_one_batch(exported):
    from labutils.chapters.serving import ort_session
    from labutils.chapters.serving.app import onnx_classify_fn
    _, tok, info = exported
    s = ort_session(info["onnx"], intra_threads=1)
    texts = ["short", "a rather longer sentence with several words in it", "mid length text", "x y"]
    a = onnx_classify_fn(s, tok, labels=["neg", "pos"], chunk=1)(texts)
    b = onnx_classify_fn(s, tok, labels=["neg", "pos"], chunk=16)(texts)
    assert [r["label"] for r in a] == [r["label"] for r in b]
    assert all(abs(x["score"] - y["score"]) < 1e-4 for x, y in zip(a, b))


def test_served_classifier_tiny_cached(tmp_path, monkeypatch):
    from labutils.chapters.serving import served_classifier
    monkeypatch.setenv("LABUTILS_HOME", str(tmp_path))
    info = served_classifier(profile="smoke", tiny=True)
    assert info["source"] == "tiny random" and info["onnx"].is_file()
    mtime = info["onnx"].stat().st_mtime
    assert served_classifier(profile="smoke", tiny=True)["onnx"].stat().st_mtime == mtime  # cached, not re-exported


def test_cost_helpers():
    from labutils.chapters.serving import ServingError, capacity, capacity_figure, cost_per_1k, deployment_table
    assert math.isclose(cost_per_1k(250, 2, 0.04), 0.04 * 2 / 3600 / 250 * 1000)
    with pytest.raises(ServingError):
        cost_per_1k(0)
    c = capacity(100, 500, cores_per_replica=2, price_per_core_hour=0.05, target_utilisation=0.5)
    assert c["replicas"] == 10 and math.isclose(c["cost_per_hour"], 1.0) and math.isclose(c["utilisation"], 0.5)
    rows = deployment_table([{"name": "a", "rps": 100.0}, {"name": "b", "rps": None}], cores=2, price_per_core_hour=0.04)
    assert rows[0]["cost_per_1k_usd"] > 0 and math.isnan(rows[1]["cost_per_1k_usd"])
    fig = capacity_figure(rows, traffic_rps=1000)
    assert list(fig.data[0].x) == ["a"]


def test_capacity_widget_headless(monkeypatch):
    import plotly.graph_objects as go

    from labutils import widgets
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    fig = widgets.capacity_widget([{"name": "int8", "rps": 150.0}, {"name": "fp32", "rps": 60.0}]).value
    assert isinstance(fig, go.Figure) and len(fig.data[0].x) == 2
