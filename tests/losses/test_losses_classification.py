"""CE / RCE / SCE / MAE / NCE / NCE+RCE / GCE against direct formulas, their gradients, limits and semantics."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisy_seg.losses import (
    build_loss,
    cross_entropy,
    generalized_cross_entropy,
    mean_absolute_error,
    nce_rce,
    normalized_cross_entropy,
    reverse_cross_entropy,
    symmetric_cross_entropy,
)

FLOOR = 1e-4


def np_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference_per_sample(name, z, y, **kw):
    """Per-sample losses computed by hand, one sample at a time, straight from the definitions."""
    p = np_softmax(z)
    out = []
    for i in range(len(y)):
        onehot = np.zeros(p.shape[1])
        onehot[y[i]] = 1.0
        ce = -np.log(p[i, y[i]])
        floor = kw.get("label_floor", FLOOR)
        rce = -np.sum(p[i] * np.log(np.clip(onehot, floor, 1.0)))
        if name == "ce":
            out.append(ce)
        elif name == "rce":
            out.append(rce)
        elif name == "sce":
            out.append(kw["alpha"] * ce + kw["beta"] * rce)
        elif name == "mae":
            out.append(np.sum(np.abs(p[i] - onehot)))
        elif name == "nce":
            out.append(ce / np.sum(-np.log(p[i])))
        elif name == "nce_rce":
            out.append(kw["alpha"] * ce / np.sum(-np.log(p[i])) + kw["beta"] * rce)
        elif name == "gce":
            out.append((1.0 - p[i, y[i]] ** kw["q"]) / kw["q"])
    return np.array(out)


FUNCTIONS = {
    "ce": (cross_entropy, {}),
    "rce": (reverse_cross_entropy, {"label_floor": 1e-3}),
    "sce": (symmetric_cross_entropy, {"alpha": 0.8, "beta": 0.2}),
    "mae": (mean_absolute_error, {}),
    "nce": (normalized_cross_entropy, {}),
    "nce_rce": (nce_rce, {"alpha": 2.0, "beta": 0.5}),
    "gce": (generalized_cross_entropy, {"q": 0.4}),
}


def random_batch(n=13, c=6, seed=0, scale=3.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g, dtype=dtype) * scale, torch.randint(0, c, (n,), generator=g)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_matches_direct_formula(name):
    fn, kw = FUNCTIONS[name]
    z, y = random_batch(dtype=torch.float64)
    got = fn(z, y, reduction="none", **kw).numpy()
    np.testing.assert_allclose(got, reference_per_sample(name, z.numpy(), y.numpy(), **kw), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_reductions_and_weight(name):
    fn, kw = FUNCTIONS[name]
    z, y = random_batch()
    w = torch.rand(len(y)) * 3
    per = fn(z, y, reduction="none", **kw)
    assert per.shape == y.shape
    torch.testing.assert_close(fn(z, y, reduction="sum", **kw), per.sum())
    torch.testing.assert_close(fn(z, y, **kw), per.mean())
    torch.testing.assert_close(fn(z, y, reduction="none", weight=w, **kw), per * w)
    # "mean" divides by N, not by the sum of the weights
    torch.testing.assert_close(fn(z, y, weight=w, **kw), (per * w).sum() / len(y))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradcheck_float64(name):
    fn, kw = FUNCTIONS[name]
    z, y = random_batch(n=5, c=4, dtype=torch.float64)
    w = torch.rand(5, dtype=torch.float64) + 0.5
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: fn(t, y, weight=w, **kw), (z,))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_dense_equals_flattened_classification(name):
    fn, kw = FUNCTIONS[name]
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (2, 3, 4), generator=g)
    flat = fn(z.permute(0, 2, 3, 1).reshape(-1, 5), y.reshape(-1), reduction="none", **kw)
    torch.testing.assert_close(fn(z, y, reduction="none", **kw), flat.reshape(2, 3, 4))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_ignore_index_contributes_nothing(name):
    fn, kw = FUNCTIONS[name]
    g = torch.Generator().manual_seed(4)
    z = torch.randn(2, 5, 3, 4, generator=g)
    y = torch.randint(0, 5, (2, 3, 4), generator=g)
    y[0, 1] = 255
    ignored = y == 255
    z1 = z.clone().requires_grad_(True)
    loss = fn(z1, y, **kw)
    loss.backward()
    assert torch.all(z1.grad.permute(0, 2, 3, 1)[ignored] == 0)
    z2 = z.clone()
    z2.permute(0, 2, 3, 1)[ignored] = 1e3  # anything at ignored pixels
    torch.testing.assert_close(fn(z2, y, **kw), loss.detach())
    per = fn(z, y, reduction="none", **kw)
    assert torch.all(per[ignored] == 0)
    torch.testing.assert_close(loss.detach(), per.sum() / (~ignored).sum())


def test_ce_registry_is_bitwise_torch_cross_entropy():
    g = torch.Generator().manual_seed(5)
    z = torch.randn(512, 81, generator=g) * 4
    y = torch.randint(0, 81, (512,), generator=g)
    assert torch.equal(build_loss("ce")(z, y), F.cross_entropy(z, y, reduction="mean"))
    assert torch.equal(cross_entropy(z, y, reduction="none"), F.cross_entropy(z, y, reduction="none"))
    z1, z2 = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
    build_loss("ce")(z1, y).backward()
    F.cross_entropy(z2, y).backward()
    assert torch.equal(z1.grad, z2.grad)


def test_empty_batch_and_all_ignored_give_zero_with_graph():
    z = torch.zeros(0, 5, requires_grad=True)
    y = torch.zeros(0, dtype=torch.long)
    for name, (fn, kw) in FUNCTIONS.items():
        loss = fn(z, y, **kw)
        assert loss.item() == 0.0, name
        loss.backward()
    zd = torch.randn(1, 5, 2, 2, requires_grad=True)
    yd = torch.full((1, 2, 2), 255)
    for name, (fn, kw) in FUNCTIONS.items():
        loss = fn(zd, yd, **kw)
        assert loss.item() == 0.0, name
        loss.backward()
        assert torch.all(zd.grad == 0), name


def test_sce_rce_term_is_floored_mae():
    z, y = random_batch(dtype=torch.float64)
    p_y = F.softmax(z, 1).gather(1, y[:, None]).squeeze(1)
    expected = -math.log(FLOOR) * (1 - p_y)
    torch.testing.assert_close(symmetric_cross_entropy(z, y, alpha=0.0, beta=1.0, reduction="none"), expected)
    torch.testing.assert_close(reverse_cross_entropy(z, y, reduction="none"), expected)
    ce = F.cross_entropy(z, y, reduction="none")
    torch.testing.assert_close(symmetric_cross_entropy(z, y, alpha=1.5, beta=0.0, reduction="none"), 1.5 * ce)


def test_gce_limits():
    z, y = random_batch(dtype=torch.float64)
    ce = F.cross_entropy(z, y, reduction="none")
    # (1 - p^q)/q = CE - q CE^2 / 2 + ...: relative gap ~ q * CE / 2
    torch.testing.assert_close(generalized_cross_entropy(z, y, q=1e-4, reduction="none"), ce, rtol=1e-3, atol=1e-6)
    p_y = F.softmax(z, 1).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(generalized_cross_entropy(z, y, q=1.0, reduction="none"), 1 - p_y)
    # tiny q in float32 must not cancel to 0 (the expm1 path)
    small = generalized_cross_entropy(z.float(), y, q=1e-6, reduction="none")
    torch.testing.assert_close(small, ce.float(), rtol=1e-4, atol=1e-6)


def test_nce_is_in_unit_interval_and_mae_is_twice_rce_over_log_floor():
    z, y = random_batch(n=50, dtype=torch.float64)
    nce = normalized_cross_entropy(z, y, reduction="none")
    assert torch.all((nce > 0) & (nce <= 1))
    torch.testing.assert_close(
        mean_absolute_error(z, y, reduction="none"),
        2 * reverse_cross_entropy(z, y, reduction="none") / -math.log(FLOOR),
    )


def test_analytic_gradients():
    z, y = random_batch(dtype=torch.float64)
    p = F.softmax(z, 1)
    onehot = F.one_hot(y, z.shape[1]).double()
    p_y = (p * onehot).sum(1, keepdim=True)
    n = len(y)
    cases = [
        (lambda t: cross_entropy(t, y), (p - onehot) / n),
        (lambda t: reverse_cross_entropy(t, y), -math.log(FLOOR) * p_y * (p - onehot) / n),
        (lambda t: mean_absolute_error(t, y), 2 * p_y * (p - onehot) / n),
        (lambda t: generalized_cross_entropy(t, y, q=0.3), p_y**0.3 * (p - onehot) / n),
    ]
    for loss_fn, expected in cases:
        t = z.clone().requires_grad_(True)
        loss_fn(t).backward()
        torch.testing.assert_close(t.grad, expected)


def test_integer_targets_of_any_width():
    z, y = random_batch()
    torch.testing.assert_close(
        symmetric_cross_entropy(z, y.int(), alpha=1.0, beta=0.1), symmetric_cross_entropy(z, y, alpha=1.0, beta=0.1)
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda z, y: cross_entropy(z, y.float()), "integer"),
        (lambda z, y: cross_entropy(z.long(), y), "floating"),
        (lambda z, y: cross_entropy(z, y[:-1]), "does not match"),
        (lambda z, y: cross_entropy(z[:, :1], y.clamp(max=0)), "at least 2 classes"),
        (lambda z, y: cross_entropy(z, y, ignore_index=3), "real class"),
        (lambda z, y: cross_entropy(z, y, weight=torch.ones(len(y) + 1)), "weight shape"),
        # options are checked once, when the loss is built
        (lambda z, y: build_loss("ce", reduction="avg"), "reduction"),
        (lambda z, y: build_loss("sce", alpha=-1.0, beta=1.0), "alpha"),
        (lambda z, y: build_loss("sce", alpha=1.0, beta=1.0, label_floor=1.0), "label_floor"),
        (lambda z, y: build_loss("rce", label_floor=0.0), "label_floor"),
        (lambda z, y: build_loss("gce", q=0.0), "q must"),
        (lambda z, y: build_loss("gce", q=1.01), "q must"),
        (lambda z, y: build_loss("nce_rce", beta=-0.5), "beta"),
    ],
)
def test_invalid_inputs_raise_one_line_value_error(call, message):
    z, y = random_batch()
    with pytest.raises(ValueError, match=message) as info:
        call(z, y)
    assert "\n" not in str(info.value)
