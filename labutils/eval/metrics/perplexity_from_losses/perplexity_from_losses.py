"""Perplexity from losses · 困惑度: exp of the mean negative log-likelihood per token.

A metric module of LLM Lab, loadable offline with ``evaluate.load(<this directory>)``. Unlike the
hub's ``perplexity``, which downloads a model and runs it, this one takes the losses your own
model already produced, so it costs nothing and needs no network.

    >>> import evaluate
    >>> ppl = evaluate.load("labutils/metrics/perplexity_from_losses")
    >>> ppl.compute(losses=[(2.0, 100), (3.0, 300)])      # (mean loss of a batch, its token count)
    {'perplexity': 15.642631884188171, 'mean_nll': 2.75, 'n_tokens': 400}

Losses are in nats (natural log), as `torch.nn.functional.cross_entropy` and every
`transformers` model return them.
"""
import math

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
A language model gives each token x_t a probability p(x_t | x_<t). Its negative log-likelihood
(NLL) is -ln p(x_t | x_<t), the cross-entropy loss of that token. Over N tokens:

    mean_nll   = (1/N) sum_t -ln p(x_t | x_<t)
    perplexity = exp(mean_nll)

Perplexity is the effective number of equally likely choices the model hesitates between at each
step: 1 for a model that is always sure and right, V for uniform guessing over a vocabulary of V.

Two input forms (pick one per call):
  * per-token NLLs: `losses=[0.3, 2.1, ...]`, one number per token;
  * (loss, n_tokens) pairs: `losses=[(2.31, 512), (2.45, 300), ...]`, where loss is the MEAN NLL
    over the n_tokens tokens of a batch (what `model(**batch).loss` returns). Pairs are weighted by
    their token counts, so mean_nll = sum(loss_i * n_i) / sum(n_i). Averaging per-batch perplexities,
    or per-batch losses without weights, is a common mistake: it is wrong when batches differ in size.
"""

_KWARGS_DESCRIPTION = """
Args:
    losses (`list` of `float`, or `list` of `(float, int)` pairs): per-token NLLs in nats, or
        (mean NLL, number of tokens) for each batch or sequence.
Returns:
    perplexity (`float`): exp(mean_nll); `inf` when mean_nll is too large to exponentiate.
    mean_nll (`float`): token-weighted mean negative log-likelihood (nats per token).
    n_tokens (`int` or `float`): the number of tokens that were averaged.
Examples:
    >>> ppl = evaluate.load("labutils/metrics/perplexity_from_losses")
    >>> ppl.compute(losses=[math.log(2), math.log(8)])       # mean NLL = ln 4
    {'perplexity': 4.0, 'mean_nll': 1.3862943611198906, 'n_tokens': 2}
"""

_CITATION = """
@article{jelinek1977perplexity,
  title={Perplexity---a measure of the difficulty of speech recognition tasks},
  author={Jelinek, Fred and Mercer, Robert L. and Bahl, Lalit R. and Baker, James K.},
  journal={The Journal of the Acoustical Society of America},
  volume={62},
  number={S1},
  pages={S63--S63},
  year={1977}
}
"""

# Two input forms under the one input name `losses`: evaluate picks the first that fits the
# first example, so a number selects per-token NLLs and a list/tuple selects (loss, n_tokens).
_FEATURES = [
    datasets.Features({"losses": datasets.Value("float64")}),
    datasets.Features({"losses": datasets.Sequence(datasets.Value("float64"))}),
]


def perplexity_from_losses(losses):
    """Plain function behind the module: {'perplexity', 'mean_nll', 'n_tokens'}."""
    if len(losses) == 0:
        raise ValueError("Perplexity needs at least one loss.")
    first = losses[0]
    if np.ndim(first) == 0:
        nll = np.asarray(losses, dtype=np.float64)
        counts = np.ones_like(nll)
    else:
        try:
            pairs = np.asarray([tuple(x) for x in losses], dtype=np.float64)
        except (TypeError, ValueError):
            pairs = np.empty((0, 0))
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError("Give either one NLL per token, or (mean loss, n_tokens) pairs; not a mix.")
        nll, counts = pairs[:, 0], pairs[:, 1]
        if np.any(counts < 0):
            raise ValueError("A token count in a (loss, n_tokens) pair is negative; counts must be >= 0.")
    if not np.all(np.isfinite(nll)) or np.any(nll < 0):
        raise ValueError("Losses must be finite and >= 0 (a negative log-likelihood of a token is never negative).")
    total = float(counts.sum())
    if total <= 0:
        raise ValueError("The token counts add up to 0; there is nothing to average.")
    mean_nll = float(np.sum(nll * counts) / total)
    perplexity = math.exp(mean_nll) if mean_nll < 709.0 else float("inf")   # exp(709.8) overflows float64
    n_tokens = int(total) if total == int(total) else total
    return {"perplexity": perplexity, "mean_nll": mean_nll, "n_tokens": n_tokens}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PerplexityFromLosses(evaluate.Metric):
    """Perplexity (困惑度) from losses a model already computed, as an `evaluate` metric."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_FEATURES,
            reference_urls=["https://huggingface.co/docs/transformers/perplexity"],
        )

    def _compute(self, losses):
        return perplexity_from_losses(losses)
