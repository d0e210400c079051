"""Checkpoints (检查点) that resume exactly (notebook 04): model, optimizer, scheduler and RNG state in one
safetensors file, written atomically with :func:`labutils.core.io.atomic_path`; loading never unpickles code."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import torch

from labutils.core.io import atomic_path

CHECKPOINT_FILE = "checkpoint.safetensors"


# ------------------------------------------------------------------------------ checkpoints
def _rng_state(generator: torch.Generator | None) -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    if generator is not None:
        tensors["rng.batches"] = generator.get_state()
    py = random.getstate()
    meta = {"python_rng": [py[0], list(py[1]), py[2]]}
    try:
        import numpy as np
        st = np.random.get_state()
        tensors["rng.numpy"] = torch.from_numpy(st[1].astype("int64"))
        meta["numpy_rng"] = [st[0], int(st[2]), int(st[3]), float(st[4])]
    except ImportError:  # pragma: no cover
        pass
    return tensors, meta


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict, generator: torch.Generator | None) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if states:
            torch.cuda.set_rng_state_all(states)
    if generator is not None and "rng.batches" in tensors:
        generator.set_state(tensors["rng.batches"])
    if "python_rng" in meta:
        v, state, gauss = meta["python_rng"]
        random.setstate((v, tuple(state), gauss))
    if "numpy_rng" in meta and "rng.numpy" in tensors:
        import numpy as np
        name, pos, has_gauss, cached = meta["numpy_rng"]
        np.random.set_state((name, tensors["rng.numpy"].numpy().astype("uint32"), pos, has_gauss, cached))


def save_checkpoint(path: str | os.PathLike, model, optimizer=None, scheduler=None, step: int = 0,
                    generator: torch.Generator | None = None, extra: dict | None = None) -> Path:
    """Write everything a run needs to continue exactly into one safetensors file, atomically.

    ``path`` is a directory (the file is ``checkpoint.safetensors`` inside) or a ``.safetensors``
    file. Tensors: the model's state (a tied tensor stored once), the optimizer's state tensors,
    and the RNG states (torch, CUDA, NumPy, the batch ``generator``). Everything else (optimizer
    hyper-parameters, scheduler state, step, ``extra``) goes into the file's JSON metadata. The file
    is first written under a temporary name in the same directory, then moved into place with
    ``os.replace``, so a crash never leaves a half-written checkpoint.
    """
    from safetensors.torch import save_file
    path = Path(path)
    target = path if path.suffix == ".safetensors" else path / CHECKPOINT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    by_ptr: dict[tuple, str] = {}
    for name, t in model.state_dict().items():
        key = (t.data_ptr(), t.dtype, tuple(t.shape), t.storage_offset())
        if t.numel() and key in by_ptr:
            aliases[name] = by_ptr[key]
            continue
        by_ptr[key] = name
        tensors[f"model.{name}"] = t.detach().to("cpu").contiguous().clone()
    meta: dict[str, Any] = {"step": int(step), "aliases": aliases, "extra": extra or {}}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict[str, dict] = {}
        for idx, state in sd["state"].items():
            for k, v in state.items():
                if torch.is_tensor(v):
                    tensors[f"optim.{idx}.{k}"] = v.detach().to("cpu").contiguous().clone()
                else:
                    scalars.setdefault(str(idx), {})[k] = v
        meta["optimizer"] = {"param_groups": sd["param_groups"], "scalars": scalars}
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()          # _WarmupCosine keeps plain numbers: JSON
    rng, rng_meta = _rng_state(generator)
    tensors.update(rng)
    meta.update(rng_meta)
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata={"labutils": json.dumps(meta)})
    return target


def checkpoint_info(path: str | os.PathLike | None) -> dict | None:
    """The metadata (``step``, ``extra``, ...) of the checkpoint at ``path``, or None if there is none."""
    if path is None:
        return None
    from safetensors import safe_open
    path = Path(path)
    target = path if path.suffix == ".safetensors" else path / CHECKPOINT_FILE
    if not target.is_file():
        return None
    with safe_open(str(target), framework="pt") as fh:
        return json.loads(fh.metadata()["labutils"])


def load_checkpoint(path: str | os.PathLike, model, optimizer=None, scheduler=None,
                    generator: torch.Generator | None = None, restore_rng: bool = True) -> dict:
    """Load a :func:`save_checkpoint` file into ``model`` (and optimizer, scheduler, RNGs).

    Returns the metadata dict (``step``, ``extra``, ...). Raises ``FileNotFoundError`` if there is
    no checkpoint at ``path``.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file
    path = Path(path)
    target = path if path.suffix == ".safetensors" else path / CHECKPOINT_FILE
    if not target.is_file():
        raise FileNotFoundError(f"No checkpoint at {target}.")
    with safe_open(str(target), framework="pt") as fh:
        meta = json.loads(fh.metadata()["labutils"])
    tensors = load_file(str(target))
    device = next(model.parameters()).device
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    for name, source in meta.get("aliases", {}).items():
        state[name] = state[source]
    model.load_state_dict(state)
    if optimizer is not None and "optimizer" in meta:
        opt_state: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, idx, name = k.split(".", 2)
                opt_state.setdefault(int(idx), {})[name] = v
        for idx, scalars in meta["optimizer"].get("scalars", {}).items():
            opt_state.setdefault(int(idx), {}).update(scalars)
        optimizer.load_state_dict({"state": opt_state, "param_groups": meta["optimizer"]["param_groups"]})
        for st in optimizer.state.values():          # optimizer state follows the model's device
            for k, v in st.items():
                if torch.is_tensor(v) and k != "step":
                    st[k] = v.to(device)
    if scheduler is not None and "scheduler" in meta:
        scheduler.load_state_dict(meta["scheduler"])
    if restore_rng:
        _set_rng_state(tensors, meta, generator)
    return meta
