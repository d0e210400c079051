"""Notebook 12, the service's front door as a plain ASGI middleware: bearer token, body-size limit (413),
concurrency limit (429), UTF-8 check (400), and per-route metrics, before any request reaches FastAPI.

A plain ASGI class (instead of ``@app.middleware("http")``, Starlette's ``BaseHTTPMiddleware``) costs a fraction
of the per-request overhead, and it counts a streamed response as in flight until its last byte is sent.
"""
from __future__ import annotations

import json
import time

OPEN_ROUTES = ("/health", "/openapi.json", "/docs")


async def _send_error(send, status: int, msg: str) -> None:
    body = json.dumps({"error": {"message": msg, "status": status}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: ``Guard(app, metrics=..., token=..., max_body=..., max_concurrency=...)``."""

    def __init__(self, app, metrics, token: str | None = None, max_body: int = 64_000, max_concurrency: int = 64):
        self.app, self.metrics, self.token = app, metrics, token
        self.max_body, self.max_concurrency = int(max_body), int(max_concurrency)
        self.inflight = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        route = scope.get("path", "")
        status = {"code": 500}

        async def send_wrap(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        headers = dict(scope.get("headers") or [])
        try:
            try:
                length = int(headers.get(b"content-length", b"0") or 0)
            except ValueError:
                length = 0
            if self.token and route not in OPEN_ROUTES and \
                    headers.get(b"authorization", b"").decode("latin-1") != f"Bearer {self.token}":
                await _send_error(send_wrap, 401, "Missing or wrong bearer token.")
            elif length > self.max_body:
                await _send_error(send_wrap, 413, f"Request body is larger than {self.max_body} bytes.")
            elif self.inflight >= self.max_concurrency:
                await _send_error(send_wrap, 429, f"Too many requests in flight (limit {self.max_concurrency}); "
                                                  "retry shortly.")
            else:
                self.inflight += 1
                try:
                    await self._forward(scope, receive, send_wrap)
                finally:
                    self.inflight -= 1
        finally:
            self.metrics.observe(route, status["code"], (time.perf_counter() - t0) * 1000)

    async def _forward(self, scope, receive, send):
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                return await _send_error(send, 413, f"Request body is larger than {self.max_body} bytes.")
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return await _send_error(send, 400, "Request body is not valid UTF-8.")
        done = False

        async def replay():
            nonlocal done
            if not done:
                done = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
