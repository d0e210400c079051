"""Notebook 14, the model under study: notebook 06's fine-tuned MiniLM sentiment classifier of this profile, or,
when notebook 06 has not run in this cache, a quick fine-tune of the same recipe (``ft.train_classifier``),
cached under ``cache_home("14_responsible")`` so it is trained once."""
from __future__ import annotations

from labutils.chapters.responsible.errors import ResponsibleError


def sentiment_classifier(profile: str | None = None, steps: int = 30, n_train: int = 512, max_length: int = 64,
                         progress: bool = True):
    """``(model, tokenizer, source)``: the classifier in eval mode on the CPU, loaded with eager attention (so it
    returns attention maps). ``source`` says where it came from (``"notebook 06 (cpu)"`` or ``"trained here"``)."""
    from transformers import AutoModelForSequenceClassification

    from labutils.chapters import finetune as ft
    from labutils.core.env import cache_home
    from labutils.core.profiles import current
    from labutils.models.encoder import load_encoder, load_tokenizer
    p = profile or current()
    path = ft.classifier_dir(profile=p)
    source = f"notebook 06 ({p})"
    if not (path / "config.json").is_file():
        path = cache_home("14_responsible", f"classifier-{p}")
        source = "trained here (notebook 06 has not run in this cache)"
        if not (path / "config.json").is_file():
            if steps < 1:
                raise ResponsibleError(f"steps must be at least 1, not {steps}.")
            import datasets

            from labutils.data import load
            raw = load("sentiment_en")
            model, tok = load_encoder(task="sequence-classification", num_labels=2)
            names = raw["train"].features["label"].names
            model.config.id2label = dict(enumerate(names))
            model.config.label2id = {n: i for i, n in enumerate(names)}
            enc = ft.tokenize_dataset(datasets.DatasetDict(train=ft.take(raw["train"], n_train, seed=0)), tok,
                                      max_length=max_length)
            ft.train_classifier(model, enc["train"], max_steps=steps, lr=1e-4, head_lr=3e-3, batch_size=16,
                                progress=progress, device="cpu")
            ft.save_classifier(model.cpu(), tok, path)
    model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager").eval()
    return model, load_tokenizer(), source
