"""labutils.training (the loop and its pieces) and the course-GPT section of labutils.models."""
import math

import pytest
import torch
from transformers import GPT2LMHeadModel

from labutils import models
from labutils import train as TR
from labutils.train.lm import _lm_loss


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """These models are tiny: one thread is faster than two, and far faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_model(seed=0, vocab=40, ctx=16):
    torch.manual_seed(seed)
    cfg = models.tiny_gpt_config("nano", vocab, n_positions=ctx, n_embd=32, attn_implementation="sdpa")
    return GPT2LMHeadModel(cfg)


def fake_ids(n=4000, vocab=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    # a repeating pattern with noise: learnable, so the loss falls quickly
    base = torch.arange(n) % 7 + 3
    noise = torch.randint(0, vocab - 1, (n,), generator=g)
    return torch.where(torch.rand(n, generator=g) < 0.1, noise, base)


def test_get_batch_shift_and_seed():
    ids = torch.arange(100)
    x, y = TR.get_batch(ids, 4, 8, torch.Generator().manual_seed(1))
    assert x.shape == y.shape == (4, 8) and torch.equal(y, x + 1)
    x2, _ = TR.get_batch(ids, 4, 8, torch.Generator().manual_seed(1))
    assert torch.equal(x, x2)
    with pytest.raises(TR.TrainingError):
        TR.get_batch(torch.arange(5), 2, 8)


def test_unigram_baseline_matches_formula():
    train = torch.tensor([0, 0, 1, 2])
    val = torch.tensor([0, 3])
    p = torch.tensor([3, 2, 2, 1], dtype=torch.float64) / 8      # counts + 1 over N + V
    want = -(math.log(p[0]) + math.log(p[3])) / 2
    assert TR.unigram_baseline_loss(train, val, 4) == pytest.approx(want)


def test_param_groups_decay_only_matrices_and_count_tied_once():
    m = tiny_model()
    decay, no_decay = TR.param_groups(m, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    n = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert n == models.count_parameters(m)
    assert all(p.dim() == 2 for p in decay["params"])
    ids = {id(p) for p in decay["params"]}
    assert id(m.transformer.wte.weight) not in ids and id(m.transformer.wpe.weight) not in ids
    assert id(m.transformer.h[0].attn.c_attn.weight) in ids


def test_lr_schedule_shape_and_lambdalr_agree():
    lrs = [TR.lr_schedule(s, 10, 100, 1e-3, 1e-4) for s in range(100)]
    assert lrs[0] == 0.0 and lrs[5] == pytest.approx(5e-4) and lrs[9] == pytest.approx(9e-4)   # warm-up: step/warmup
    assert lrs[10] == pytest.approx(1e-3) and lrs[-1] > 1e-4 and min(lrs[10:]) >= 1e-4
    assert TR.lr_schedule(55, 10, 100, 1e-3, 1e-4) == pytest.approx(1e-4 + 0.5 * 9e-4)   # half-way: the middle
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = TR.warmup_cosine(opt, 10, 100, 1e-3, 1e-4)
    seen = []
    for _ in range(100):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx(lrs)
    with pytest.raises(TR.TrainingError):
        TR.lr_schedule(0, 5, 0, 1e-3)


def test_checkpoint_round_trip_with_tied_weights(tmp_path):
    m = tiny_model(1)
    opt = TR.make_optimizer(m, 1e-3)
    sched = TR.warmup_cosine(opt, 2, 10, 1e-3)
    x, y = TR.get_batch(fake_ids(), 4, 16, torch.Generator().manual_seed(0))
    _lm_loss(m, x, y).backward()
    opt.step()
    sched.step()
    path = TR.save_checkpoint(tmp_path / "ck", m, opt, sched, step=1, extra={"note": "hi"})
    assert path.name == TR.CHECKPOINT_FILE and not list(path.parent.glob(".tmp-*"))
    m2 = tiny_model(2)
    opt2 = TR.make_optimizer(m2, 1e-3)
    sched2 = TR.warmup_cosine(opt2, 2, 10, 1e-3)
    meta = TR.load_checkpoint(tmp_path / "ck", m2, opt2, sched2)
    assert meta["step"] == 1 and meta["extra"] == {"note": "hi"} and TR.checkpoint_info(tmp_path / "ck")["step"] == 1
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert m2.lm_head.weight.data_ptr() == m2.transformer.wte.weight.data_ptr()   # still tied
    assert sched2.last_epoch == sched.last_epoch and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    with pytest.raises(FileNotFoundError):
        TR.load_checkpoint(tmp_path / "none", m2)


def test_resume_is_exact(tmp_path):
    ids, val = fake_ids(), fake_ids(800, seed=1)
    kw = dict(steps=8, batch_size=4, block_size=16, lr=3e-3, eval_every=4, live_plot=False, progress=False)
    full = TR.pretrain_gpt(tiny_model(), ids, val, **kw)
    first = TR.pretrain_gpt(tiny_model(), ids, val, ckpt_dir=tmp_path, stop_at=3, **kw)
    assert len(first["train_loss"]) == 3
    resumed_model = tiny_model(seed=5)                       # different init: everything must come from the file
    rest = TR.pretrain_gpt(resumed_model, ids, val, ckpt_dir=tmp_path, **kw)
    assert rest["resumed_from"] == 3
    assert rest["train_loss"] == full["train_loss"]          # bitwise, step by step
    assert rest["final_val_loss"] == full["final_val_loss"]
    # a finished checkpoint is not resumed: a new call starts over
    again = TR.pretrain_gpt(tiny_model(), ids, val, ckpt_dir=tmp_path, **kw)
    assert again["resumed_from"] is None and again["train_loss"] == full["train_loss"]


def test_pretrain_learns_and_reports():
    ids, val = fake_ids(), fake_ids(800, seed=1)
    m = tiny_model()
    h = TR.pretrain_gpt(m, ids, val, steps=30, batch_size=8, block_size=16, lr=1e-2, warmup=5, eval_every=10,
                        live_plot=False, progress=False)
    assert h["final_val_loss"] < TR.unigram_baseline_loss(ids, val, 40)
    assert h["train_loss"][-1] < h["train_loss"][0] and len(h["train_loss"]) == 30
    assert h["tokens_per_second"] > 0 and h["mfu"] is None and h["eval_step"] == [10, 20, 30]
    assert h["lr"][0] < h["lr"][2]                           # warm-up
    assert TR.perplexity(m, val, 16) == pytest.approx(math.exp(TR.estimate_loss(m, val, 16, max_blocks=256)))
    with pytest.raises(TR.TrainingError):
        TR.pretrain_gpt(m, ids, val, steps=1, block_size=64, live_plot=False, progress=False)


def test_sampling_distribution_matches_transformers_processors():
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )
    torch.manual_seed(0)
    logits = torch.randn(3, 50) * 3
    prev = torch.randint(0, 50, (3, 7))
    procs = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.3), TemperatureLogitsWarper(0.7),
                                 TopKLogitsWarper(20), TopPLogitsWarper(0.8)])
    want = procs(prev, logits.clone()).softmax(-1)
    got = TR.sampling_distribution(logits, 0.7, 20, 0.8, 1.3, prev)
    assert torch.allclose(got, want, atol=1e-6)
    greedy = TR.sampling_distribution(logits[0], temperature=0)
    assert greedy.sum() == 1 and greedy.argmax() == logits[0].argmax()
    top1 = TR.sampling_distribution(logits[0], top_k=1)
    assert torch.equal(top1, greedy)
    for bad in (dict(temperature=-1), dict(top_k=0), dict(top_p=1.5), dict(repetition_penalty=0)):
        with pytest.raises(TR.TrainingError):
            TR.sampling_distribution(logits, **bad)


def test_generate_text_greedy_matches_generate_and_rejects_long_prompts():
    from labutils.data import tokenizers as T
    tok = T.char_tokenizer("abcdefghij klmnop\n")
    m = tiny_model(vocab=len(tok), ctx=16).eval()
    out = TR.generate_text(m, tok, "abc", max_new_tokens=10, temperature=0, stop_at_eos=False)
    ids = tok("abc", return_tensors="pt")["input_ids"]
    ref = m.generate(ids, max_new_tokens=10, do_sample=False, pad_token_id=tok.eos_token_id,
                     eos_token_id=None)
    assert out == tok.decode(ref[0, 3:].tolist())
    long = TR.generate_ids(m, ids, 30, temperature=1.0, top_k=5)
    assert long.shape == (1, 33)                             # slides past the 16-token context
    assert TR.generate_text(m, tok, "abc", 8, seed=3) == TR.generate_text(m, tok, "abc", 8, seed=3)
    with pytest.raises(TR.TrainingError, match="at most 16"):
        TR.generate_text(m, tok, "a" * 40, 5)
    assert isinstance(TR.generate_text(m, tok, "a" * 40, 5, truncate=True), str)


def test_efficiency_helpers_on_cpu():
    m = tiny_model()
    assert TR.peak_flops("cpu") is None and TR.estimate_mfu(m, 1e4, 16, "cpu") is None
    assert TR.training_flops_per_token(1000, 2, 32, 16) == 6000 + 12 * 2 * 16 * 32
    assert TR.measure_tokens_per_second(m, fake_ids(), 4, 16, steps=2, warmup=1) > 0
    assert TR.amp_dtype("cpu") is None and TR.amp_dtype("cpu", "bf16") == torch.bfloat16
    with pytest.raises(TR.TrainingError):
        TR.amp_dtype("cpu", "fp8")


# ------------------------------------------------------------------------------ course GPT
@pytest.fixture
def quick_smoke(monkeypatch, tmp_home):
    monkeypatch.setitem(models.COURSE_GPT_SETTINGS, "smoke", dict(
        models.COURSE_GPT_SETTINGS["smoke"], size="nano", block_size=32, batch_size=8, steps=6, lr=3e-3, warmup=2,
        eval_every=3, eval_blocks=8, max_chars=30_000, bpe_vocab=300))
    return tmp_home


def test_course_gpt_rebuilds_saves_and_loads(quick_smoke, capsys):
    model, tok = models.course_gpt("kjv-char", profile="smoke")
    line = capsys.readouterr().out
    assert "not found" in line and line.count("\n") == 1
    path = models.course_gpt_dir("kjv-char", "smoke")
    assert (path / "model.safetensors").is_file() and (path / models.COURSE_GPT_INFO).is_file()
    assert str(path).startswith(str(quick_smoke))
    assert model.config.n_positions == 32 and len(tok) == model.config.vocab_size and not model.training
    assert model.course_info["built_by"].startswith("labutils")
    again, tok2 = models.course_gpt("kjv-char", profile="smoke")      # now from disk, silently
    assert capsys.readouterr().out == ""
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    text = TR.generate_text(again, tok2, "And God", 10, temperature=0)
    assert isinstance(text, str) and len(text) == 10


def test_save_course_gpt_replaces_atomically(quick_smoke):
    from labutils.data import tokenizers as T
    tok = T.char_tokenizer("abc\n")
    m = tiny_model(vocab=len(tok))
    path = models.save_course_gpt(m, tok, "zh-char", "smoke", info={"final_val_loss": 1.5})
    path2 = models.save_course_gpt(m, tok, "zh-char", "smoke", info={"final_val_loss": 1.2})
    assert path == path2 and not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    loaded, _ = models.course_gpt("zh-char", "smoke")
    assert loaded.course_info["final_val_loss"] == 1.2


def test_course_gpt_errors_and_hub_fallback(quick_smoke, monkeypatch, capsys):
    with pytest.raises(models.ModelError, match="kjv-char"):
        models.course_gpt("shakespeare")
    with pytest.raises(models.ModelError):
        models.course_gpt("kjv-char", profile="tpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    m, tok = models.load_causal_lm("gpt2", profile="smoke")
    out = capsys.readouterr().out
    assert "HF_HUB_OFFLINE" in out and isinstance(m, GPT2LMHeadModel)


def test_sampling_widget_headless(monkeypatch):
    from labutils import widgets
    from labutils.data import tokenizers as T
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    tok = T.char_tokenizer("abcdefghij klmnop\n")
    m = tiny_model(vocab=len(tok), ctx=16).eval()
    html = widgets.sampling_view(m, tok, "abc", max_new_tokens=5, temperature=0).data
    assert html.startswith("<pre") and "<b>abc</b>" in html
    shown = widgets.sampling_widget(m, tok, "a" * 40, max_new_tokens=5)   # long prompt: truncated, no error
    assert "<pre" in shown.value.data


def test_notebook_04_trains_with_the_one_settings_table():
    """Notebook 04's CFG is built from COURSE_GPT_SETTINGS, so course_gpt() rebuilds the model the notebook saved."""
    import json
    from pathlib import Path

    import labutils as lu
    nb = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / "04_pretraining_a_gpt.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if "CFG = lu.settings(" in "".join(c["source"]))
    code = cell.replace("\nCFG\n", "\n").rstrip().removesuffix("CFG")
    space = {"lu": lu, "TEXT_FILE": None}
    exec(code, space)
    for profile, recipe in models.COURSE_GPT_SETTINGS.items():
        table = space["CFG"].table[profile]
        assert {k: table[k] for k in recipe} == recipe, profile
    own = {"lu": lu, "TEXT_FILE": "my.txt"}            # a learner's own text trains at own_text_lr
    exec(code, own)
    for profile, recipe in models.COURSE_GPT_SETTINGS.items():
        assert own["CFG"].table[profile]["lr"] == recipe["own_text_lr"], profile
