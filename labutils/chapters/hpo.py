"""Notebook 07, hyperparameter search: random search over a log-uniform space (Bergstra & Bengio 2012) on the
frozen-feature head, and a parallel-coordinates view of the trials."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from labutils.chapters.heads import fit_head
from labutils.core.errors import ChallengeError

# ============================================================================ hyperparameter search
#: The random-search space: (kind, low, high) — "log" samples log-uniformly, "int" uniformly, "choice" from a list.
SEARCH_SPACE: dict[str, tuple] = {
    "lr": ("log", 1e-4, 3e-1),
    "weight_decay": ("log", 1e-5, 1.0),
    "epochs": ("int", 3, 60),
    "hidden": ("choice", (0, 64, 256)),
    "dropout": ("uniform", 0.0, 0.5),
}


def sample_config(rng: np.random.Generator, space: Mapping[str, tuple] | None = None) -> dict:
    """One random configuration from ``space`` (default :data:`SEARCH_SPACE`)."""
    space = SEARCH_SPACE if space is None else space
    cfg: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec[0]
        if kind == "log":
            cfg[name] = float(math.exp(rng.uniform(math.log(spec[1]), math.log(spec[2]))))
        elif kind == "uniform":
            cfg[name] = float(rng.uniform(spec[1], spec[2]))
        elif kind == "int":
            cfg[name] = int(rng.integers(spec[1], spec[2] + 1))
        elif kind == "choice":
            cfg[name] = spec[1][int(rng.integers(len(spec[1])))]
        else:
            raise ChallengeError(f"Unknown kind {kind!r} for {name}; use log, uniform, int or choice.")
    return cfg


def random_search(X, y, X_val, y_val, n_trials: int = 20, seed: int = 0, space: Mapping[str, tuple] | None = None,
                  batch_size: int = 64, progress: bool = True):
    """Random search over head hyperparameters, scored on the validation set.

    Returns a pandas DataFrame, one row per trial (the sampled values, ``val_acc``, ``train_acc``,
    ``seconds``), best first. The test set is not touched here.
    """
    import pandas as pd

    from labutils.core.progress import tqdm
    rng = np.random.default_rng(seed)
    rows = []
    for trial in tqdm(range(n_trials), desc="random search", disable=not progress):
        cfg = sample_config(rng, space)
        res = fit_head(X, y, X_val, y_val, batch_size=batch_size, seed=seed + trial, **cfg)
        rows.append({"trial": trial, **cfg, "val_acc": res.history["val_accuracy"][-1],
                     "train_acc": res.history["train_eval_accuracy"][-1], "seconds": res.seconds})
    return pd.DataFrame(rows).sort_values("val_acc", ascending=False).reset_index(drop=True)


def parallel_coordinates_figure(df, columns: Sequence[str] = ("lr", "weight_decay", "epochs", "hidden", "dropout"),
                                score: str = "val_acc", log_columns: Sequence[str] = ("lr", "weight_decay")):
    """A plotly parallel-coordinates plot of a search table, lines coloured by ``score`` (log axes as log10)."""
    import plotly.graph_objects as go
    dims = []
    for c in columns:
        vals = np.asarray(df[c], dtype=float)
        if c in log_columns:
            dims.append(dict(label=f"log10 {c}", values=np.log10(vals)))
        else:
            dims.append(dict(label=c, values=vals))
    dims.append(dict(label=score, values=np.asarray(df[score], dtype=float)))
    fig = go.Figure(go.Parcoords(line=dict(color=np.asarray(df[score], dtype=float), colorscale="Viridis",
                                           showscale=True), dimensions=dims))
    fig.update_layout(title=f"Random search: each line is one trial, colour = {score}", template="plotly_white",
                      height=420, margin=dict(l=60, r=40, t=70, b=30))
    return fig
