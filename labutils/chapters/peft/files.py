"""Notebook 08, adapters as files: ``save_pretrained`` writes only the adapter; reload it onto a base, merge it,
keep several on one base and switch with ``set_adapter``; :func:`load_adapter_checked` turns peft's error for an
adapter that does not fit the base into one sentence."""
from __future__ import annotations

import json
from pathlib import Path

from labutils.core.errors import PeftError


def dir_bytes(path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def adapter_config(path) -> dict:
    """The ``adapter_config.json`` of a saved adapter (one sentence if there is none)."""
    cfg = Path(path) / "adapter_config.json"
    if not cfg.is_file():
        raise PeftError(f"{path} holds no adapter (no adapter_config.json); save one with model.save_pretrained(dir).")
    return json.loads(cfg.read_text(encoding="utf-8"))


def _module_names(model) -> set[str]:
    return {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}


def load_adapter_checked(base, path, adapter_name: str = "default", is_trainable: bool = False):
    """``PeftModel.from_pretrained(base, path)`` (or ``base.load_adapter`` when ``base`` is already a
    ``PeftModel``), with a one-sentence :class:`PeftError` when the adapter does not fit the base: its target
    modules are missing, or its matrices have other shapes."""
    import peft
    cfg = adapter_config(path)
    targets = cfg.get("target_modules") or []
    if isinstance(targets, str):    # a regular expression: peft checks it itself
        targets = []
    have = _module_names(base)
    missing = sorted(t for t in targets if t.rsplit(".", 1)[-1] not in have)
    trained_on = "/".join(Path(str(cfg.get("base_model_name_or_path") or "another model")).parts[-2:])
    if missing:
        raise PeftError(f"The adapter in {Path(path).name} targets {', '.join(missing)}, which "
                        f"{type(getattr(base, 'base_model', base)).__name__ if isinstance(base, peft.PeftModel) else type(base).__name__} "
                        f"does not have: it was trained for {trained_on}, load it onto that base.")
    try:
        if isinstance(base, peft.PeftModel):
            base.load_adapter(str(path), adapter_name=adapter_name, is_trainable=is_trainable)
            return base
        return peft.PeftModel.from_pretrained(base, str(path), adapter_name=adapter_name, is_trainable=is_trainable)
    except (RuntimeError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()
        detail = next((line.strip() for line in first if "size mismatch" in line), first[0] if first else "")
        raise PeftError(f"The adapter in {Path(path).name} does not fit this base model "
                        f"({detail[:160]}); load it onto the model it was trained for "
                        f"({trained_on}).") from None
