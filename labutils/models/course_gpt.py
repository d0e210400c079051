"""The course GPT (notebook 04 trains it; notebooks 08-12 load it): ``course_gpt()`` loads the saved model of
the current profile and rebuilds it with the same recipe when it is missing. :data:`COURSE_GPT_SETTINGS` is
the one settings table: notebook 04's ``CFG`` reads its training settings from it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from labutils.core.errors import ModelError
from labutils.core.io import atomic_dir
from labutils.models.configs import tiny_gpt_config
from labutils.models.encoder import _hub_offline
from labutils.train.params import count_parameters

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
# Per profile: the model size and the training run, the one table: notebook 04's CFG is built from it, so the
# model the notebook saves is the one a rebuild would make (up to what the learner changed).
COURSE_GPT_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": dict(size="nano", block_size=64, batch_size=16, steps=80, lr=3e-3, warmup=8, dropout=0.0,
                  weight_decay=0.1, grad_clip=1.0, eval_every=20, eval_blocks=32, ckpt_every=40,
                  max_chars=500_000, bpe_vocab=512, bpe_train_chars=300_000, own_text_lr=3e-3),
    # cpu: tuned for time to quality on 2 cores (many small steps at a high rate): kjv char val loss 1.424 after
    # 75 s of training (22.6k tokens/s), where the earlier 128 x 32 x 800 at lr 3e-3 took 212 s to reach 1.45.
    # own_text_lr: notebook 04's rate for a learner's TEXT_FILE. 8e-3 was tuned on the course corpora and does not
    # transfer: on 1.1 MB of movie-review sentences it stalled at val 2.37 where 3e-3 reached 1.74 (same steps).
    "cpu": dict(size="micro", block_size=64, batch_size=24, steps=1100, lr=8e-3, warmup=20, dropout=0.0,
                weight_decay=0.1, grad_clip=1.0, eval_every=100, eval_blocks=64, ckpt_every=100,
                max_chars=None, bpe_vocab=2048, bpe_train_chars=1_000_000, own_text_lr=3e-3),
    "gpu": dict(size="small", block_size=256, batch_size=64, steps=3000, lr=1e-3, warmup=150, dropout=0.1,
                weight_decay=0.1, grad_clip=1.0, eval_every=250, eval_blocks=128, ckpt_every=500,
                max_chars=None, bpe_vocab=4096, bpe_train_chars=2_000_000, own_text_lr=1e-3),
}
COURSE_GPT_INFO = "course_gpt.json"       # written last into a saved model: present = complete


def _course_profile(profile: str | None) -> str:
    from labutils.core.profiles import PROFILES, current
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
    from labutils.core.env import cache_home
    return cache_home("models", "course_gpt", create=True) / f"{_course_name(name)}-{_course_profile(profile)}"


def save_course_gpt(model, tokenizer, name: str = "kjv-char", profile: str | None = None,
                    info: dict | None = None) -> Path:
    """Save a trained GPT and its tokenizer where :func:`course_gpt` looks (safetensors), atomically.

    Everything is written into a temporary directory next to the target, then moved into place with
    ``os.replace``; ``info`` (e.g. the validation loss) is stored in ``course_gpt.json``.
    """
    import json
    import time
    target = course_gpt_dir(name, profile)
    with atomic_dir(target, complete=COURSE_GPT_INFO) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        meta = {"name": name, "profile": _course_profile(profile), "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
                "parameters": count_parameters(model), **(info or {})}
        from labutils.core.results import to_jsonable
        (tmp / COURSE_GPT_INFO).write_text(json.dumps(to_jsonable(meta), indent=1), encoding="utf-8")
    return target


def build_course_gpt(name: str = "kjv-char", profile: str | None = None, progress: bool | None = None):
    """Train the course GPT ``name`` from scratch at the profile's size; returns ``(model, tokenizer, history)``.

    Uses :data:`COURSE_GPT_SETTINGS` and the same code as notebook 04 (``labutils.text`` for the
    data, :func:`labutils.training.pretrain_gpt` for the loop). Seeded, so it is repeatable.
    """
    import torch
    from transformers import GPT2LMHeadModel

    from labutils import train as TR
    from labutils.core.env import device as best_device
    from labutils.core.env import seed_everything
    from labutils.data import tokenizers as T
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
    cfg = tiny_gpt_config(s["size"], len(tok), n_positions=s["block_size"], dropout=s["dropout"],
                          attn_implementation="sdpa")
    model = GPT2LMHeadModel(cfg).to(dev)
    hist = TR.pretrain_gpt(model, train_ids, val_ids, steps=s["steps"], batch_size=s["batch_size"],
                           block_size=s["block_size"], lr=s["lr"], warmup=s["warmup"], eval_every=s["eval_every"],
                           weight_decay=s["weight_decay"], grad_clip=s["grad_clip"], eval_blocks=s["eval_blocks"],
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

    from labutils.core.env import quiet
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


def pretrain_char_gpt(train_text: str, val_text: str, alphabet_texts=(), *, size: str = "nano", steps: int = 300,
                      block_size: int = 64, context: int | None = None, batch_size: int = 24, lr: float = 8e-3,
                      seed: int = 0, progress: bool = True, title: str = "pretraining a small GPT"):
    """A small character-level GPT pretrained in a few lines, for lessons that need a base model of their own
    (notebooks 08 and 09) without depending on notebook 04 having run.

    The tokenizer's alphabet covers ``train_text`` and every text in ``alphabet_texts`` (text the model will meet
    later, so it needs no new tokens); the model has ``context`` positions (default ``block_size``) and is
    trained with :func:`labutils.train.lm.pretrain_gpt` on ``train_text`` only. Returns ``(model, tokenizer,
    history)``, the model in eval mode.
    """
    import torch
    from transformers import GPT2LMHeadModel

    from labutils.core.env import seed_everything
    from labutils.data import tokenizers as T
    from labutils.train.lm import pretrain_gpt
    seed_everything(seed)
    positions = max(context or block_size, block_size)
    tok = T.char_tokenizer([train_text, *alphabet_texts], model_max_length=positions)
    train_ids, val_ids = T.encode_corpus(tok, train_text), T.encode_corpus(tok, val_text)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(tiny_gpt_config(size, len(tok), n_positions=positions, dropout=0.0,
                                            attn_implementation="sdpa"))
    hist = pretrain_gpt(model, train_ids, val_ids, steps=steps, batch_size=batch_size, block_size=block_size, lr=lr,
                        warmup=max(1, steps // 20), eval_every=max(1, steps // 4), eval_blocks=32, live_plot=False,
                        progress=progress, title=title, seed=seed)
    return model.eval(), tok, hist
