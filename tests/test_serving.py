"""Notebook 12: ONNX export/parity/int8 and the FastAPI service (validation, limits, auth, streaming, fuzz)."""
from __future__ import annotations

import pytest
from conftest import fake_classify

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from labutils.chapters.serving import export_onnx, tiny_classifier
    m, tok = tiny_classifier()
    enc = tok(["hello world", "a longer sentence here, padded"], padding=True, return_tensors="pt")
    d = tmp_path_factory.mktemp("onnx")
    return m, tok, enc, export_onnx(m, enc, d / "m.onnx"), d


def test_export_parity_dynamic_axes(tiny):
    from labutils.chapters.serving import ort_session, parity
    m, tok, enc, path, _ = tiny
    s = ort_session(path, intra_threads=1, opt_level="all")
    assert parity(m, s, enc) < 1e-4
    enc3 = tok(["x", "y z", "w"], padding=True, return_tensors="pt")  # other batch and length
    assert parity(m, s, enc3) < 1e-4


def test_quantize_int8_on_dynamo_graph(tiny):
    from labutils.chapters.serving import onnx_size_mb, ort_session, parity, quantize_dynamic_int8
    m, _, enc, path, d = tiny
    q = quantize_dynamic_int8(path, d / "q.onnx")
    assert onnx_size_mb(q) < onnx_size_mb(path) / 2.5
    assert parity(m, ort_session(q), enc) < 0.05
    assert not (d / "q.clean.onnx").exists()


def test_session_errors(tmp_path):
    from labutils.chapters.serving import ServingError, ort_session, quantize_dynamic_int8
    with pytest.raises(ServingError):
        ort_session(tmp_path / "none.onnx")
    with pytest.raises(ServingError):
        quantize_dynamic_int8(tmp_path / "none.onnx", tmp_path / "q.onnx")


def test_session_bad_level(tiny):
    from labutils.chapters.serving import ServingError, ort_session
    with pytest.raises(ServingError, match="optimisation level"):
        ort_session(tiny[3], opt_level="max")


@pytest.fixture(scope="module")
def chat_parts(tiny_chat_lm):
    return tiny_chat_lm


@pytest.fixture()
def client(chat_parts):
    from fastapi.testclient import TestClient

    from labutils.chapters.serving.app import build_app
    app = build_app(classify_fn=fake_classify, chat_model=chat_parts[0], chat_tokenizer=chat_parts[1],
                    max_body=2000)
    with TestClient(app) as c:
        yield c


def test_health_openapi_classify_metrics(client):
    assert client.get("/health").status_code == 200
    assert "/v1/classify" in client.get("/openapi.json").json()["paths"]
    r = client.post("/v1/classify", json={"texts": ["good film"]})
    assert r.status_code == 200 and r.json()["results"][0]["label"] == "positive"
    m = client.get("/metrics").json()
    assert m["counts"]["/v1/classify 200"] == 1


def test_validation_and_limits(client):
    r = client.post("/v1/classify", json={"texts": "notalist"})
    assert r.status_code == 422 and r.json()["error"]["message"].endswith(".")
    assert client.post("/v1/classify", json={"texts": [""]}).status_code == 422
    assert client.post("/v1/classify", json={"texts": ["a"], "x": 1}).status_code == 422
    assert client.post("/v1/classify", content=b'{"texts": ["x' + b"a" * 5000 + b'"]}').status_code == 413
    assert client.post("/v1/classify", content=b'{"texts": ["\xff\xfe"]}',
                       headers={"content-type": "application/json"}).status_code == 400


def test_auth():
    from fastapi.testclient import TestClient

    from labutils.chapters.serving.app import build_app
    with TestClient(build_app(classify_fn=fake_classify, token="s3cret")) as c:
        assert c.get("/health").status_code == 200
        assert c.post("/v1/classify", json={"texts": ["good"]}).status_code == 401
        ok = c.post("/v1/classify", json={"texts": ["good"]}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_concurrency_limit_429():
    from fastapi.testclient import TestClient

    from labutils.chapters.serving.app import build_app
    with TestClient(build_app(classify_fn=fake_classify, max_concurrency=0)) as c:
        assert c.post("/v1/classify", json={"texts": ["good"]}).status_code == 429


def test_chat_and_streaming(client):
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    assert client.post("/v1/chat/completions", json={**body, "max_tokens": 100000}).status_code == 422
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as s:
        lines = [x for x in s.iter_lines() if x.startswith("data: ")]
    assert lines[-1] == "data: [DONE]" and len(lines) >= 3


def test_fuzz_zero_5xx(client):
    import random
    rng = random.Random(0)
    bodies = [b"", b"{", b"null", b"[]", b'{"texts": 5}', b'{"texts": [1, 2]}', b'{"texts": []}',
              b'{"texts": ["' + b"x" * 3000 + b'"]}', b'\xff\xfe\xfd', b'{"texts": ["ok"], "extra": true}',
              b'{"messages": [{"role": "robot", "content": "x"}]}', b'{"messages": []}',
              b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": -1}',
              b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": "many"}']
    bodies += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(30)]
    codes = []
    for b in bodies:
        for path in ("/v1/classify", "/v1/chat/completions"):
            codes.append(client.post(path, content=b, headers={"content-type": "application/json"}).status_code)
    assert all(400 <= c < 500 for c in codes), sorted(set(codes))
    assert client.post("/v1/classify", json={"texts": ["good"]}).status_code == 200


def test_dynamic_batcher_batches():
    import asyncio

    from labutils.chapters.serving.app import DynamicBatcher, Metrics

    async def go():
        m = Metrics()
        b = DynamicBatcher(lambda xs: [x * 2 for x in xs], max_batch=8, max_wait_ms=20, metrics=m)
        await b.start()
        out = await asyncio.gather(*(b.submit(i) for i in range(8)))
        await b.stop()
        return out, m.batches
    out, batches = asyncio.run(go())
    assert out == [2 * i for i in range(8)] and max(batches) > 1


def test_serve_cli_subprocess_answers_and_stops():
    """`python -m labutils serve classifier` starts a real uvicorn on loopback; /health answers; it stops cleanly."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "labutils", "serve", "classifier", "--tiny", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, ok = time.time() + 180, False
        while time.time() < deadline and proc.poll() is None:
            try:
                ok = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                break
            time.sleep(0.5)
        assert ok, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no answer in 180 s"
        r = httpx.post(f"http://127.0.0.1:{port}/v1/classify", json={"texts": ["fine"]}, timeout=10)
        assert r.status_code == 200 and len(r.json()["results"] if "results" in r.json() else r.json()) >= 1
        assert httpx.post(f"http://127.0.0.1:{port}/v1/classify", content=b"{bad", timeout=10).status_code < 500
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None
