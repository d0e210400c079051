"""Notebook 15, the pipeline's names and sizes in one place: the stages in order, their titles, the valid methods,
languages and base models, the sizes per profile, and the version of the stored results' layout."""
from __future__ import annotations

STAGES = ("data", "baseline", "finetune", "test", "export", "compress", "serve", "card")
TITLES = {"data": "data checks", "baseline": "TF-IDF baseline", "finetune": "fine-tuning", "test": "test (once)",
          "export": "ONNX export", "compress": "int8 compression", "serve": "service + load test",
          "card": "model card"}
METHODS = ("full", "lora")
LANGUAGES = ("en", "zh")
MODELS = ("minilm", "tiny")

# Sizes per profile. n_*: rows per split (None: all); steps: at most this many optimizer steps (None: `epochs`);
# eval_every/patience: early stopping on validation accuracy; load_*: the bounded load test.
SETTINGS = {
    "smoke": dict(n_train=96, n_val=48, n_test=64, max_length=32, batch_size=16, epochs=1, steps=12, eval_every=4,
                  patience=2, lr_full=1e-4, lr_lora=2e-3, head_lr=3e-3, lora_r=8, concurrency=4,
                  load_requests=200, load_s=1.0, errors=10),
    "cpu": dict(n_train=4800, n_val=500, n_test=None, max_length=64, batch_size=16, epochs=1, steps=None,
                eval_every=60, patience=3, lr_full=1e-4, lr_lora=2e-3, head_lr=3e-3, lora_r=8, concurrency=8,
                load_requests=2000, load_s=3.0, errors=20),
    "gpu": dict(n_train=None, n_val=None, n_test=None, max_length=128, batch_size=32, epochs=3, steps=None,
                eval_every=200, patience=3, lr_full=5e-5, lr_lora=1e-3, head_lr=3e-3, lora_r=16, concurrency=16,
                load_requests=5000, load_s=4.0, errors=20),
}
VERSION = 2   # the layout of the stage results; a run written by another version is not resumed
