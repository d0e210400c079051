"""labutils.nnmath (notebook 01): hand-written maths checked against finite differences and torch."""
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from labutils import widgets
from labutils.chapters import nnmath as nm


@pytest.mark.parametrize("name", list(nm.ACTIVATIONS))
def test_activation_derivatives_match_finite_differences_and_autograd(name):
    import torch
    import torch.nn.functional as F
    f, df = nm.activation(name)
    x = np.linspace(-5, 5, 101) + 0.013  # avoid ReLU's kink at exactly 0
    h = 1e-6
    assert np.allclose(df(x), (f(x + h) - f(x - h)) / (2 * h), atol=1e-8)
    t = torch.tensor(x, requires_grad=True)
    fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "gelu": F.gelu}[name]
    (g,) = torch.autograd.grad(fn(t).sum(), t)
    assert np.allclose(f(x), fn(t).detach().numpy(), atol=1e-14)
    assert np.allclose(df(x), g.numpy(), atol=1e-14)


def test_sigmoid_is_stable_for_huge_inputs():
    with np.errstate(over="raise", invalid="raise"):
        s = nm.activation("sigmoid")[0](np.array([-1000.0, 0.0, 1000.0]))
    assert s.tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="choose one of"):
        nm.activation("swish")


def test_activation_figure():
    fig = nm.activation_figure(("relu", "gelu"))
    assert isinstance(fig, go.Figure) and len(fig.data) == 4


@pytest.mark.parametrize("act,loss", [("tanh", "ce"), ("gelu", "mse"), ("sigmoid", "ce")])
def test_backprop_passes_gradient_checks(act, loss):
    rng = np.random.default_rng(0)
    params = nm.init_mlp([3, 5, 4, 2], seed=0)
    X = rng.standard_normal((6, 3))
    y = rng.integers(0, 2, 6) if loss == "ce" else rng.standard_normal((6, 2))
    assert max(nm.gradcheck_fd(params, X, y, act, loss).values()) < 1e-6
    assert max(nm.gradcheck_autograd(params, X, y, act, loss).values()) < 1e-12
    # the loss values agree too
    ours = nm.mlp_loss_and_grads(params, X, y, act, loss)[0]
    assert ours == pytest.approx(nm.torch_loss_and_grads(params, X, y, act, loss)[0], abs=1e-13)


def test_gradient_check_catches_a_wrong_derivative(monkeypatch):
    rng = np.random.default_rng(1)
    params = nm.init_mlp([3, 4, 2], seed=1)
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    f, _ = nm.ACTIVATIONS["tanh"]
    monkeypatch.setitem(nm.ACTIVATIONS, "tanh", (f, lambda z: 1 - np.tanh(z)))  # a typical slip
    assert max(nm.gradcheck_fd(params, X, y, "tanh").values()) > 1e-2


def test_numerical_gradient_restores_parameters_and_is_exact_on_a_quadratic():
    p = {"w": np.array([1.0, -2.0, 3.0])}
    before = p["w"].copy()
    g = nm.numerical_gradient(lambda q: float((q["w"] ** 2).sum()), p)
    assert np.array_equal(p["w"], before)
    assert np.allclose(g["w"], 2 * before, atol=1e-8)


def test_init_mlp_and_input_errors():
    p = nm.init_mlp([3, 7, 2])
    assert [p[k].shape for k in p] == [(3, 7), (7,), (7, 2), (2,)]
    with pytest.raises(ValueError):
        nm.init_mlp([3])
    with pytest.raises(ValueError, match="W1"):
        nm.mlp_forward({"W2": np.zeros((2, 2))}, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="'ce' or 'mse'"):
        nm.mlp_loss_and_grads(p, np.zeros((1, 3)), np.zeros(1, dtype=int), loss="hinge")
    with pytest.raises(ValueError):
        nm.rel_error(np.zeros(2), np.zeros(3))
    assert nm.rel_error(np.zeros(2), np.zeros(2)) == 0.0


def test_log_softmax_is_stable_where_naive_softmax_overflows():
    z = np.array([[1000.0, 1001.0, 1002.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(nm.softmax_naive(z)).all()
    assert np.allclose(nm.log_softmax(z), nm.log_softmax(z - 1000.0))
    assert nm.softmax(z).sum() == pytest.approx(1.0)
    assert nm.logsumexp(np.array([0.0, 0.0])) == pytest.approx(math.log(2))


def test_losses_match_torch_and_cross_entropy_gradient_is_p_minus_y():
    import torch
    import torch.nn.functional as F
    rng = np.random.default_rng(2)
    z, y = rng.standard_normal((4, 3)) * 5, np.array([0, 2, 1, 1])
    loss, grad = nm.softmax_cross_entropy(z, y)
    assert loss == pytest.approx(F.cross_entropy(torch.tensor(z), torch.tensor(y)).item(), abs=1e-13)
    expected = (nm.softmax(z) - np.eye(3)[y]) / 4
    assert np.allclose(grad, expected)
    zb, yb = rng.standard_normal(5) * 4, np.array([1.0, 0, 1, 0, 1])
    ref = F.binary_cross_entropy_with_logits(torch.tensor(zb), torch.tensor(yb)).item()
    assert nm.bce_with_logits(zb, yb) == pytest.approx(ref, abs=1e-13)
    assert nm.binary_cross_entropy(1 / (1 + np.exp(-zb)), yb) == pytest.approx(ref, abs=1e-12)
    assert nm.bce_with_logits(np.array([800.0]), np.array([0.0])) == pytest.approx(800.0)
    with pytest.raises(ValueError):
        nm.softmax_cross_entropy(z, y[:2])
    with pytest.raises(ValueError):
        nm.mse_loss(np.zeros(2), np.zeros(3))


def test_char_ngram_cross_entropy():
    text = nm.zen_of_python().lower()
    assert text.startswith("the zen of python")
    train, test = text[:600], text[600:]
    vocab = len(set(train) | set(test))
    uniform = nm.char_ngram_cross_entropy(train, test, context=-1)
    assert uniform == pytest.approx(math.log(vocab))
    unigram = nm.char_ngram_cross_entropy(train, test, context=0, alpha=0.1)
    bigram = nm.char_ngram_cross_entropy(train, test, context=1, alpha=0.1)
    assert bigram < unigram < uniform
    with pytest.raises(ValueError):
        nm.char_ngram_cross_entropy("", "abc")


@pytest.mark.parametrize("name,hyper", [
    ("SGD", dict(lr=0.1)), ("Momentum", dict(lr=0.05, momentum=0.8)), ("RMSProp", dict(lr=0.01, alpha=0.9)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99))), ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3)), ("SGD", dict(lr=0.1, weight_decay=0.1, momentum=0.5)),
])
def test_optimizers_match_torch_step_for_step(name, hyper):
    rng = np.random.default_rng(3)
    params = nm.init_mlp([3, 5, 2], seed=3)
    X, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    diffs = nm.compare_with_torch(name, params, lambda p: nm.mlp_loss_and_grads(p, X, y)[1], steps=15, **hyper)
    assert diffs.shape == (15,) and diffs.max() < 1e-12


def test_compare_with_torch_detects_a_different_update():
    # our SGD with momentum against torch's plain SGD must drift apart
    import torch
    params = {"w": np.array([1.0, -1.0])}
    grad_fn = lambda p: {"w": 2 * p["w"]}  # noqa: E731
    ours = nm.SGD(0.1, momentum=0.9)
    p = {"w": params["w"].copy()}
    t = torch.tensor(params["w"].copy(), requires_grad=True)
    topt = torch.optim.SGD([t], lr=0.1)
    for _ in range(5):
        ours.step(p, grad_fn(p))
        t.grad = torch.from_numpy(2 * t.detach().numpy())
        topt.step()
    assert np.abs(p["w"] - t.detach().numpy()).max() > 1e-2


def test_adam_first_step_is_lr_times_sign_and_bias_correction():
    opt = nm.Adam(lr=0.1)
    p = {"w": np.array([1.0, -3.0])}
    opt.step(p, {"w": np.array([5.0, -0.001])})
    # with bias correction the first step is lr * g/|g| (up to eps), whatever the gradient's size
    assert np.allclose(p["w"], [0.9, -2.9], atol=1e-6)


def test_optimizer_arguments_are_validated():
    with pytest.raises(ValueError):
        nm.SGD(lr=0)
    with pytest.raises(ValueError):
        nm.SGD(lr=0.1, momentum=1.0)
    with pytest.raises(ValueError):
        nm.Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError):
        nm.RMSProp(lr=0.1, alpha=1.5)
    with pytest.raises(ValueError, match="choose one of"):
        nm.make_optimizer("Lion", lr=0.1)
    with pytest.raises(ValueError):
        nm.torch_optimizer("Lion", [], lr=0.1)


@pytest.mark.parametrize("name", list(nm.SURFACES))
def test_surface_gradients_match_finite_differences(name):
    s = nm.SURFACES[name]
    h = 1e-6
    for x, y in [(0.3, -0.7), (-1.2, 1.1), (2.0, 0.4)]:
        fd = [(s.f(x + h, y) - s.f(x - h, y)) / (2 * h), (s.f(x, y + h) - s.f(x, y - h)) / (2 * h)]
        assert np.allclose(s.grad(x, y), fd, rtol=1e-6, atol=1e-5)
    assert s.f(*s.minimum) == pytest.approx(0.0, abs=1e-12)


def test_optimizer_race_converges_diverges_and_draws():
    race = nm.optimizer_race("ill_bowl", lr_sgd=0.05, lr_adaptive=0.1, steps=300)
    assert all(not r["diverged"] for r in race.values())
    assert race["SGD"]["loss"] < 1e-6 and race["RMSProp"]["dist"] < 1e-3
    blown = nm.optimizer_race("rosenbrock", lr_sgd=0.05, steps=200, names=("SGD",))
    assert blown["SGD"]["diverged"]
    with pytest.raises(ValueError):
        nm.optimizer_race("himmelblau")
    fig = nm.optimizer_race_figure("beale", steps=50)
    assert isinstance(fig, go.Figure) and len(fig.data) == 1 + 5 + 1
    assert any("diverged" in t.name for t in nm.optimizer_race_figure("rosenbrock", lr_sgd=0.05, steps=100).data[1:])


def test_optimizer_race_widget_headless(monkeypatch):
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    fig = widgets.optimizer_race_widget("ill_bowl", steps=30).value
    assert isinstance(fig, go.Figure) and "30 steps" in fig.layout.title.text
    with pytest.raises(ValueError):
        widgets.optimizer_race_widget("nope")


def test_l1_gives_exact_zeros_and_l2_does_not():
    X, y, w = nm.make_sparse_regression(n=60, d=20, k=3, noise=0.1, seed=0)
    w_l1 = nm.fit_linear_regularized(X, y, l1=0.1)
    w_l2 = nm.fit_linear_regularized(X, y, l2=0.5)
    assert (w_l1 == 0).sum() >= 10 and (w_l2 == 0).sum() == 0
    assert set(np.flatnonzero(w_l1)) >= set(np.flatnonzero(w))
    assert np.abs(nm.fit_linear_regularized(X, y, steps=2000) - w).max() < 0.1
    assert nm.l1_penalty(np.array([1.0, -2.0]), 0.5)[0] == 1.5
    assert nm.l2_penalty(np.array([1.0, -2.0]), 0.5)[1].tolist() == [0.5, -1.0]
    with pytest.raises(ValueError):
        nm.make_sparse_regression(d=3, k=4)


def test_decoupled_weight_decay_equals_l2_for_sgd_but_not_for_adam():
    rng = np.random.default_rng(4)
    params = nm.init_mlp([2, 6, 1], seed=4)
    X, y = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    out = nm.weight_decay_comparison(params, lambda p: nm.mlp_loss_and_grads(p, X, y, loss="mse")[1],
                                     lr=0.01, weight_decay=0.1, steps=40)
    assert out["sgd_diff"] < 1e-12 and out["adam_diff"] > 1e-3


def test_dropout_inverted_scaling_preserves_the_mean():
    rng = np.random.default_rng(5)
    x = np.ones(200_000)
    inv = nm.dropout(x, 0.3, rng=rng)
    assert abs(inv.mean() - 1) < 0.01 and set(np.unique(inv).round(6)) == {0.0, round(1 / 0.7, 6)}
    assert abs(nm.dropout(x, 0.3, rng=rng, inverted=False).mean() - 0.7) < 0.01
    assert nm.dropout(x, 0.3, train=False) is not None and nm.dropout(x, 0.3, train=False).mean() == 1.0
    with pytest.raises(ValueError):
        nm.dropout(x, 1.0)


def test_early_stopping_logic():
    assert nm.early_stopping([3, 2, 1, 1.5, 2, 2.5, 3], patience=2) == (2, 4)
    assert nm.early_stopping([3, 2, 1], patience=5) == (2, 2)
    assert nm.early_stopping([1, 1, 1], patience=2) == (0, 2)  # ties are not improvements
    with pytest.raises(ValueError):
        nm.early_stopping([], patience=2)
    with pytest.raises(ValueError):
        nm.early_stopping([1.0], patience=0)


def test_small_mlp_overfits_few_points():
    xt, yt, xv, yv = nm.make_curve_data(n_train=16, n_val=100, seed=0)
    hist = nm.train_mlp_regression(xt, yt, xv, yv, hidden=32, epochs=600, lr=0.01)
    assert len(hist["train_loss"]) == 601
    best, stop = nm.early_stopping(hist["val_loss"], patience=100)
    assert hist["train_loss"][-1] < hist["train_loss"][best]         # training keeps improving
    assert hist["val_loss"][-1] > hist["val_loss"][best] + 0.01      # validation gets worse after the best epoch
    assert best < stop
