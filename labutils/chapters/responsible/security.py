"""Notebook 14, security of the model pipeline (模型供应链安全): a checkpoint is code unless proven otherwise.

``torch.save`` writes a pickle, and unpickling may call any importable function: a "model file" can run code
on ``torch.load(..., weights_only=False)``. Shown harmlessly: the payload only writes a marker file into a
directory you choose (a temporary one). ``weights_only=True`` (the default since torch 2.6) refuses it, a scan of
the pickle's imports shows it, and safetensors cannot carry it at all (only tensors and a JSON header).
"""
from __future__ import annotations

import hashlib
import io
import json
import pickletools
import struct
import zipfile
from pathlib import Path

from labutils.chapters.responsible.errors import ResponsibleError

RELEASE_CHECKLIST = [
    ("weights as safetensors, never a pickle", "loading cannot run code; the header lists every tensor"),
    ("sha256 of every file published with the release", "a user can check the download is the file you made"),
    ("model card: data, intended use, limits, evaluation incl. fairness and robustness figures",
     "what it is for, what it was not tested on (Mitchell et al. 2019)"),
    ("licence of the weights and of the training data stated", "what users may do; what you were allowed to do"),
    ("training data scanned for PII and secrets; canary exposure measured", "memorised secrets leak by sampling"),
    ("tokenizer, config and generation settings shipped with the weights", "the same model behaves the same"),
    ("no custom code needed to load (trust_remote_code=False)", "remote code is arbitrary code"),
    ("a prompt-injection and jailbreak test run if it reads untrusted text", "retrieved text can carry instructions"),
    ("dependencies pinned (constraints file), environment reproducible", "the loader is part of the attack surface"),
    ("a contact for reporting problems, and a version number", "so a fix can be announced and applied"),
]

PAYLOAD_TEXT = "this file was written by code inside a model checkpoint"


class MarkerPayload:
    """An object whose unpickling runs code (``__reduce__``): it writes :data:`PAYLOAD_TEXT` to ``marker``.
    Harmless by design, but the mechanism is the one a real attack uses."""

    def __init__(self, marker: str | Path):
        self.marker = str(marker)

    def __reduce__(self):
        code = f"open({self.marker!r}, 'w').write({PAYLOAD_TEXT!r})"
        return (exec, (code,))


def write_malicious_checkpoint(path: str | Path, marker: str | Path) -> Path:
    """A ``torch.save`` file that looks like a state dict (a real tensor under ``"weight"``) and carries a
    :class:`MarkerPayload`. Loading it with ``weights_only=False`` writes ``marker``."""
    import torch
    path = Path(path)
    if Path(marker).exists():
        raise ResponsibleError(f"The marker {marker} exists already; pick a fresh temporary directory.")
    torch.save({"weight": torch.zeros(2, 2), "config": MarkerPayload(marker)}, path)
    return path


def try_load(path: str | Path, weights_only: bool) -> dict:
    """``torch.load(path, weights_only=...)``; returns ``{"loaded": bool, "error": first line or None}``."""
    import torch
    try:
        torch.load(path, weights_only=weights_only)
        return {"loaded": True, "error": None}
    except Exception as exc:  # noqa: BLE001 - the refusal is what we show
        return {"loaded": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}


def pickle_imports(path: str | Path) -> list[str]:
    """Every ``module.name`` a checkpoint's pickle would import (``GLOBAL``/``STACK_GLOBAL`` opcodes), read
    without unpickling (what scanners such as picklescan do). Works on ``torch.save`` zip files and raw pickles."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            if name is None:
                raise ResponsibleError(f"{path.name} is a zip without a data.pkl: not a torch.save file.")
            data = z.read(name)
    else:
        data = path.read_bytes()
    found, strings = [], []
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strings.append(arg)
        elif op.name == "GLOBAL":
            found.append(str(arg).replace(" ", "."))
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append(f"{strings[-2]}.{strings[-1]}")
    return sorted(set(found))


SAFE_IMPORTS = ("collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage",
                "torch.LongStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.IntStorage",
                "torch._utils._rebuild_parameter", "torch.serialization._get_layout", "torch.float32", "torch.device")


def suspicious_imports(path: str | Path) -> list[str]:
    """The imports of :func:`pickle_imports` outside a short allow-list of what plain tensors need."""
    return [g for g in pickle_imports(path) if g not in SAFE_IMPORTS and not g.startswith("torch._utils.")]


def save_safetensors(tensors: dict, path: str | Path, metadata: dict | None = None) -> Path:
    """``safetensors.torch.save_file``; anything that is not a tensor is refused with one sentence."""
    import torch
    from safetensors.torch import save_file
    bad = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ResponsibleError(f"safetensors stores tensors only; {bad} are not tensors (that is the point).")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path),
              metadata={str(k): str(v) for k, v in (metadata or {}).items()})
    return Path(path)


def safetensors_header(path: str | Path) -> dict:
    """The JSON header of a safetensors file (8-byte little-endian length, then JSON): names, dtypes, shapes,
    byte offsets and metadata, read without loading any tensor."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (what a release publishes next to it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
