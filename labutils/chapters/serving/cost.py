"""Notebook 12, deployment choices from measured numbers: cost per 1,000 requests from a measured throughput and
a stated price per core-hour, the capacity a traffic level needs, and the table of variants (size, memory,
latency, throughput, cost) that cloud / on-premises / edge decisions are read from.

The prices are parameters, not facts: pass your provider's. The default ``PRICE_PER_CORE_HOUR`` (USD 0.04) is
an illustrative on-demand price of one general-purpose vCPU-hour, stated so that the arithmetic is visible.
"""
from __future__ import annotations

import math
from typing import Sequence

from labutils.chapters.serving.onnx import ServingError

PRICE_PER_CORE_HOUR = 0.04

ENGINES = [
    ("vLLM", "PagedAttention KV-cache blocks, continuous batching, prefix caching, tensor parallelism; "
             "an OpenAI-compatible server for causal LMs (Kwon et al. 2023)"),
    ("TGI (Text Generation Inference)", "Hugging Face's LM server: continuous batching, tensor parallelism, "
                                       "quantized weights, SSE streaming, Prometheus metrics"),
    ("NVIDIA Triton Inference Server", "any framework (ONNX Runtime, TensorRT, PyTorch) behind one server: "
                                       "dynamic batching, model ensembles, many models per GPU, gRPC and HTTP"),
    ("Ray Serve", "Python-first serving on a cluster: autoscaling replicas, composition of models, "
                  "fractional GPUs, request batching"),
    ("ONNX Runtime (this notebook)", "a fast CPU/GPU/edge runtime for an exported graph; int8 kernels; "
                                     "the service around it is ours (FastAPI + uvicorn)"),
]


def cost_per_1k(rps: float, cores: float = 1.0, price_per_core_hour: float = PRICE_PER_CORE_HOUR) -> float:
    """Cost of 1,000 requests when ``cores`` cores, busy all the time, serve ``rps`` requests/s."""
    if not rps or rps <= 0 or not math.isfinite(rps):
        raise ServingError(f"The throughput must be a positive number of requests/s, got {rps!r}.")
    if cores <= 0 or price_per_core_hour < 0:
        raise ServingError("cores must be positive and the price per core-hour not negative.")
    return price_per_core_hour * cores / 3600.0 / rps * 1000.0


def capacity(rps_per_replica: float, traffic_rps: float, cores_per_replica: float = 2.0,
             price_per_core_hour: float = PRICE_PER_CORE_HOUR, target_utilisation: float = 0.6) -> dict:
    """Replicas needed for ``traffic_rps`` if each replica sustains ``rps_per_replica`` and runs at most at
    ``target_utilisation`` (head-room for bursts keeps p99 down), and what that costs per month (730 h)."""
    if rps_per_replica <= 0 or traffic_rps < 0 or not 0 < target_utilisation <= 1:
        raise ServingError("Throughput must be positive, traffic not negative, utilisation in (0, 1].")
    replicas = max(1, math.ceil(traffic_rps / (rps_per_replica * target_utilisation)))
    per_hour = replicas * cores_per_replica * price_per_core_hour
    return {"replicas": replicas, "cores": replicas * cores_per_replica, "cost_per_hour": per_hour,
            "cost_per_month": per_hour * 730, "utilisation": traffic_rps / (replicas * rps_per_replica),
            "cost_per_1k_at_traffic": per_hour / 3600 / traffic_rps * 1000 if traffic_rps else float("nan")}


def deployment_table(rows: Sequence[dict], cores: float = 2.0,
                     price_per_core_hour: float = PRICE_PER_CORE_HOUR) -> list[dict]:
    """Each variant (``name``, ``size_mb``, ``memory_mb``, ``p50_ms``, ``p99_ms``, ``rps``) plus its cost per
    1,000 requests on ``cores`` cores at the stated price."""
    out = []
    for r in rows:
        row = dict(r)
        rps = r.get("rps")
        row["cost_per_1k_usd"] = cost_per_1k(rps, cores, price_per_core_hour) if rps and rps > 0 else float("nan")
        out.append(row)
    return out


def capacity_figure(rows: Sequence[dict], traffic_rps: float = 500.0, price_per_core_hour: float = PRICE_PER_CORE_HOUR,
                    cores_per_replica: float = 2.0, target_utilisation: float = 0.6):
    """plotly: monthly cost of serving ``traffic_rps`` with each measured variant (bar), replicas in the label."""
    import plotly.graph_objects as go

    names, costs, labels = [], [], []
    for r in rows:
        if not r.get("rps"):
            continue
        c = capacity(r["rps"], traffic_rps, cores_per_replica, price_per_core_hour, target_utilisation)
        names.append(r["name"])
        costs.append(c["cost_per_month"])
        labels.append(f"{c['replicas']} × {cores_per_replica:g} cores")
    fig = go.Figure(go.Bar(x=names, y=costs, text=labels, textposition="outside", marker_color="seagreen"))
    fig.update_layout(title=f"Monthly cost for {traffic_rps:,.0f} req/s at ${price_per_core_hour:.3f}/core-hour "
                            f"(≤ {target_utilisation:.0%} busy)", yaxis_title="USD per month", height=360,
                      margin={"t": 60})
    return fig
