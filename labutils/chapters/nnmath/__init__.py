"""Notebook 01, the maths of neural networks: activations, losses and backprop by hand with gradient checks
(``backprop``), optimizers racing on loss surfaces (``optimizers``), L1/L2, dropout and early stopping
(``regularization``). NumPy first; torch only where a result is checked against it."""
from __future__ import annotations

from labutils.chapters.nnmath.backprop import (  # noqa: F401
    ACTIVATIONS,
    activation,
    activation_figure,
    bce_with_logits,
    binary_cross_entropy,
    char_ngram_cross_entropy,
    gradcheck_autograd,
    gradcheck_fd,
    init_mlp,
    log_softmax,
    logsumexp,
    mlp_backward,
    mlp_forward,
    mlp_loss_and_grads,
    mse_loss,
    numerical_gradient,
    rel_error,
    softmax,
    softmax_cross_entropy,
    softmax_naive,
    torch_loss_and_grads,
    zen_of_python,
)
from labutils.chapters.nnmath.optimizers import (  # noqa: F401
    OPTIMIZERS,
    SGD,
    SURFACES,
    Adam,
    AdamW,
    Params,
    RMSProp,
    Surface,
    compare_with_torch,
    make_optimizer,
    optimizer_race,
    optimizer_race_figure,
    run_on_surface,
    torch_optimizer,
)
from labutils.chapters.nnmath.regularization import (  # noqa: F401
    dropout,
    early_stopping,
    fit_linear_regularized,
    l1_penalty,
    l2_penalty,
    make_curve_data,
    make_sparse_regression,
    train_mlp_regression,
    weight_decay_comparison,
)

__all__ = [
    'ACTIVATIONS', 'activation', 'activation_figure', 'init_mlp', 'mlp_forward', 'mlp_backward', 'mse_loss',
    'softmax_naive', 'logsumexp', 'log_softmax', 'softmax', 'softmax_cross_entropy', 'binary_cross_entropy',
    'bce_with_logits', 'mlp_loss_and_grads', 'numerical_gradient', 'rel_error', 'gradcheck_fd',
    'torch_loss_and_grads', 'gradcheck_autograd', 'zen_of_python', 'char_ngram_cross_entropy', 'Params',
    'SGD', 'RMSProp', 'Adam', 'AdamW', 'OPTIMIZERS', 'make_optimizer', 'torch_optimizer',
    'compare_with_torch', 'Surface', 'SURFACES', 'run_on_surface', 'optimizer_race', 'optimizer_race_figure',
    'l1_penalty', 'l2_penalty', 'make_sparse_regression', 'fit_linear_regularized', 'weight_decay_comparison',
    'dropout', 'make_curve_data', 'train_mlp_regression', 'early_stopping',
]
