"""Notebook 10's helpers: the memory calculator, accumulation, launchers, DDP and the sharded jobs (2 gloo ranks)."""
import json
import socket

import pytest
import torch

from labutils.chapters import parallel as P
from labutils.chapters.parallel import ddp_train as D
from labutils.chapters.parallel import sharded as S
from labutils.models import tiny_gpt_config


def test_per_parameter_bytes_and_zero():
    assert sum(P.per_parameter_bytes("mixed", "adam").values()) == 16       # the ZeRO paper's 16 bytes
    assert sum(P.per_parameter_bytes("fp32", "adam").values()) == 16
    assert P.per_parameter_bytes("fp32", "sgd")["optimizer"] == 0
    m = {z: P.training_memory(1000, precision="mixed", zero_stage=z, n_devices=4) for z in range(4)}
    assert m[0]["total_static"] == 16000
    assert m[1]["optimizer"] == 12000 / 4 and m[1]["gradients"] == 2000
    assert m[2]["gradients"] == 500 and m[3]["weights"] == 500
    with pytest.raises(P.ParallelError):
        P.training_memory(10, zero_stage=4)
    with pytest.raises(P.ParallelError):
        P.per_parameter_bytes("fp8")


def test_calculator_matches_measured_peak():
    torch.manual_seed(0)
    conf = tiny_gpt_config("nano", vocab_size=512, activation_function="gelu_pytorch_tanh")
    from transformers import GPT2LMHeadModel
    for ckpt in (False, True):
        model = GPT2LMHeadModel(conf)
        if ckpt:
            model.gradient_checkpointing_enable()
        opt = torch.optim.AdamW(model.parameters())
        x = torch.randint(0, 512, (4, 64))
        measured = P.measure_step_memory(model, opt, x)["peak"]
        calc = P.gpt_step_memory(conf, 4, 64, checkpointing=ckpt)["peak"]
        assert abs(calc - measured) / measured < 0.05, (ckpt, calc, measured)


def test_memory_figure_and_widget():
    fig = P.memory.memory_figure(n_params_m=10, precision="fp32", zero_stage=3, n_devices=2)
    assert len(fig.data[0].y) == 5
    from labutils.widgets import memory_widget
    assert memory_widget() is not None


def test_accumulation():
    torch.manual_seed(0)
    from transformers import GPT2LMHeadModel
    model = GPT2LMHeadModel(tiny_gpt_config("nano", vocab_size=64, n_positions=32))
    ids = torch.randint(0, 64, (8, 32))
    d = P.accumulation_diffs(model, ids, None, 4)
    assert d["divide by k"]["max_abs_diff"] < 1e-6
    assert abs(d["no division"]["norm_ratio"] - 4) < 1e-4
    pid, mask = P.padded_batch(ids, [32, 4, 20, 3, 32, 9, 12, 32])
    d = P.accumulation_diffs(model, pid, mask, 4)
    assert d["token-weighted"]["max_abs_diff"] < 1e-6 < d["divide by k"]["max_abs_diff"]
    with pytest.raises(P.ParallelError):
        P.accumulated_grad(model, ids, None, 3)


def test_formulas():
    assert P.ring_bytes_per_rank(1000, 2) == 1000 and P.ring_bytes_per_rank(1000, 8) == 1750
    assert P.bubble_fraction(4, 12) == 0.2
    w = S.mlp_weights(8)
    assert S.mlp(torch.zeros(2, 8), w).shape == (2, 8)


def test_launch_errors():
    with pytest.raises(P.ParallelError):
        P.check_world_size(0)
    with pytest.raises(P.ParallelError):
        P.check_world_size(2.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(P.ParallelError, match="already in use"):
            P.check_port(s.getsockname()[1])


@pytest.fixture(scope="module")
def run_cfg(tmp_path_factory):
    d = tmp_path_factory.mktemp("ddp")
    torch.manual_seed(0)
    path = D.write_blocks(torch.randint(0, 128, (32 * 32,)), 32, 32, d / "blocks.safetensors")
    return dict(data=str(path), size="nano", vocab=128, block=32, batch=2, steps=3, lr=3e-3, seed=0, check_step=2), d


def test_ddp_spawn_equals_reference_and_crash(run_cfg):
    cfg, d = run_cfg
    P.spawn(D.spawn_worker, 2, dict(cfg, out=str(d / "ddp")), timeout=120)
    torch.set_num_threads(1)
    ref, hist, _ = D.train_reference(cfg, 2)
    assert D.compare_with_reference(d / "ddp", ref)["weights"] < 1e-5
    logged = json.loads((d / "ddp" / "result.json").read_text())
    assert max(abs(a - b) for a, b in zip(logged["train_loss"], hist["train_loss"])) < 1e-4
    with pytest.raises(P.ParallelError, match="crashed on purpose"):
        P.spawn(D.spawn_worker, 2, dict(cfg, out=str(d / "crash"), crash_at=1), timeout=120)
    assert not any(p.name.startswith(".tmp") for p in (d / "crash").iterdir())


def test_sharded_jobs(run_cfg):
    cfg, d = run_cfg
    (d / "jobs").mkdir()
    P.spawn(S.jobs_worker, 2, dict(cfg, out=str(d / "jobs"), pp_size="nano", pp_batch=4, micro_batches=2,
                                   jobs=["collectives", "fsdp", "tensor_parallel", "pipeline"]), timeout=120)
    res = json.loads((d / "jobs" / "results.json").read_text())
    r0 = res[0]
    assert r0["collectives"]["ring_vs_all_reduce_max_diff"] == 0
    assert r0["collectives"]["ring_bytes_sent"] == r0["collectives"]["ring_bytes_formula"]
    assert r0["fsdp"]["max_diff"] < 1e-5
    assert r0["tensor_parallel"]["max_diff"] < 1e-5
    assert r0["pipeline"]["max_diff"] < 1e-5


def test_parse_args_accepts_both_spellings():
    a = D.parse_args(["--data", "d", "--out", "o", "--check-step", "5", "--crash_at", "2"])
    assert a["check_step"] == 5 and a["crash_at"] == 2


def test_torchrun_launches_the_module(run_cfg):
    cfg, d = run_cfg
    args = [x for k, v in cfg.items() for x in (f"--{k.replace('_', '-')}", v)]
    P.torchrun("labutils.chapters.parallel.ddp_train", args + ["--out", d / "tr"], nproc=2, timeout=120)
    ref = D.train_reference(cfg, 2, stop_after=cfg["check_step"])[0]
    assert D.compare_with_reference(d / "tr", ref, "checkpoint_check.safetensors")["weights"] < 1e-5
    with pytest.raises(P.ParallelError, match="planned for 3"):
        P.torchrun("labutils.chapters.parallel.ddp_train", args + ["--out", d / "tr3", "--expect-world", 3],
                   nproc=2, timeout=120)


def test_root_cause_prefers_the_crash_over_its_collateral(tmp_path):
    import pickle
    from types import SimpleNamespace

    from labutils.chapters.parallel import launch
    files = []
    for i, msg in enumerate(["RuntimeError: [gloo] Connection closed by peer [127.0.0.1]:9454.",
                             "RuntimeError: rank 1 crashed on purpose"]):
        f = tmp_path / f"e{i}"
        f.write_bytes(pickle.dumps(f"Traceback (most recent call last):\n  ...\n{msg}"))
        files.append(str(f))
    ctx = SimpleNamespace(error_files=files + [str(tmp_path / "missing")])
    assert launch._root_cause(ctx, "fallback") == "RuntimeError: rank 1 crashed on purpose"
    assert launch._root_cause(SimpleNamespace(error_files=[]), "a\nlast line") == "last line"
