"""Region-aware loss: per-pixel formula, and the confusion EMA (train-mode only, honours ignore_index)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisy_seg.losses import RegionAwareLoss, build_loss, confusion_ema_update, region_aware_loss


def batch(seed=0, n=2, c=4, h=3, w=5):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, c, (n, h, w), generator=g)
    y[0, 0] = 255
    return z, y


def random_confusion(c, seed=1):
    m = torch.rand(c, c, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 0.1
    return m / m.sum(0, keepdim=True)  # columns are distributions P(true | pred = i)


def test_matches_per_pixel_loop():
    z, y = batch()
    W = random_confusion(4)
    got = region_aware_loss(z, y, W, background_index=0, reduction="none").numpy()
    p = F.softmax(z, 1).numpy()
    Wn = W.numpy()
    for n, i, j in np.ndindex(*y.shape):
        label = int(y[n, i, j])
        if label == 255:
            assert got[n, i, j] == 0
            continue
        omega = 1.0 if label != 0 else 0.4
        agreement = sum(p[n, k, i, j] * Wn[k, label] for k in range(4))
        expected = omega * max(0.0, 1.0 - agreement) / 4 + 0.7 * omega * -np.log(p[n, label, i, j])
        np.testing.assert_allclose(got[n, i, j], expected, rtol=1e-12)


def test_identity_matrix_reduces_to_scaled_mae_plus_ce():
    z, y = batch()
    valid = y != 255
    ce = F.cross_entropy(z, y, ignore_index=255, reduction="none")
    p_y = torch.exp(-ce)
    omega = torch.where(y == 2, 0.4, 1.0).double()
    expected = omega * ((1 - p_y) / 4 + 0.7 * ce)
    got = region_aware_loss(z, y, torch.eye(4, dtype=torch.float64), background_index=2)
    torch.testing.assert_close(got, expected[valid].mean())
    w = torch.rand(y.shape, dtype=torch.float64)
    got_w = region_aware_loss(z, y, torch.eye(4, dtype=torch.float64), background_index=2, weight=w)
    torch.testing.assert_close(got_w, (expected * w)[valid].sum() / valid.sum())


def test_confusion_update_formula_and_unseen_columns():
    # 1 image, 4 pixels; class 3 is never predicted, so its column must keep its value.
    logits = torch.zeros(1, 4, 1, 5)
    predicted = torch.tensor([0, 0, 1, 1, 2])
    logits[0, predicted, 0, torch.arange(5)] = 5.0
    targets = torch.tensor([[[0, 1, 1, 255, 2]]])
    old = random_confusion(4).float()
    new = confusion_ema_update(old, logits, targets, momentum=0.9)
    batch_estimate = torch.zeros(4, 4)
    batch_estimate[0, 0] = batch_estimate[1, 0] = 0.5  # pred 0: labels {0, 1}
    batch_estimate[1, 1] = 1.0  # pred 1: label 1 (the other pixel is ignored)
    batch_estimate[2, 2] = 1.0
    expected = old.clone()
    expected[:, :3] = 0.9 * old[:, :3] + 0.1 * batch_estimate[:, :3]
    torch.testing.assert_close(new, expected)
    torch.testing.assert_close(new.sum(0), torch.ones(4))  # columns stay distributions


def test_module_updates_only_in_training_and_ignores_void():
    loss_fn = build_loss("region_aware", num_classes=4, momentum=0.5)
    assert isinstance(loss_fn, RegionAwareLoss)
    assert torch.equal(loss_fn.confusion, torch.eye(4))
    logits = torch.zeros(1, 4, 1, 3)
    logits[0, 1] = 5.0  # everything predicted as class 1
    targets = torch.tensor([[[2, 255, 255]]])
    loss_fn.eval()
    loss_fn(logits, targets)
    assert torch.equal(loss_fn.confusion, torch.eye(4))
    loss_fn.train()
    loss_fn(logits, targets)
    expected = torch.eye(4)
    expected[:, 1] = torch.tensor([0.0, 0.5, 0.5, 0.0])  # only the one non-void pixel counted
    torch.testing.assert_close(loss_fn.confusion, expected)
    assert "confusion" in loss_fn.state_dict()


def test_loss_uses_matrix_before_update_and_backward_after_update_works():
    z, y = batch(c=3)
    loss_fn = RegionAwareLoss(num_classes=3, momentum=0.0)
    t = z.float().requires_grad_(True)
    loss = loss_fn(t, y)
    torch.testing.assert_close(loss, region_aware_loss(z.float(), y, torch.eye(3)))
    assert not torch.equal(loss_fn.confusion, torch.eye(3))
    loss.backward()  # the in-place buffer update must not invalidate the graph
    assert torch.all(torch.isfinite(t.grad))


def test_momentum_one_over_1_01_is_the_seeds_update_on_predicted_columns():
    """carpartssegment's region_wei_loss: W <- (W + 0.01 B) / 1.01 with B = sklearn's confusion_matrix(y, pred,
    normalize="pred"); the same with momentum=1/1.01 on the predicted columns, while a column not predicted keeps
    its value here and decays towards 0 in the seed (the module docstring's differences)."""
    from sklearn.metrics import confusion_matrix

    g = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 4, 6, 6, generator=g, dtype=torch.float64)
    logits[:, 3] -= 100.0  # class 3 is never predicted
    targets = torch.randint(0, 4, (2, 6, 6), generator=g)
    old = random_confusion(4)
    seed_batch = confusion_matrix(
        targets.reshape(-1).numpy(), logits.argmax(1).reshape(-1).numpy(), labels=range(4), normalize="pred"
    )
    seeds = (old + 0.01 * torch.from_numpy(seed_batch)) / 1.01
    ours = confusion_ema_update(old, logits, targets, momentum=1 / 1.01, ignore_index=None)
    torch.testing.assert_close(ours[:, :3], seeds[:, :3])
    torch.testing.assert_close(ours[:, 3], old[:, 3])
    torch.testing.assert_close(seeds[:, 3], old[:, 3] / 1.01)
    assert build_loss("region_aware", num_classes=4).momentum == 0.99  # the default, not the seed's 0.990099


def test_validation():
    z, y = batch()
    with pytest.raises(ValueError, match="confusion shape"):
        region_aware_loss(z, y, torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="background_index=4"):
        region_aware_loss(z, y, torch.eye(4, dtype=torch.float64), background_index=4)
    assert torch.isnan(region_aware_loss(z, y, torch.full((4, 4), float("nan"), dtype=torch.float64)))
    with pytest.raises(ValueError, match="momentum"):
        build_loss("region_aware", num_classes=4, momentum=1.0)
    with pytest.raises(ValueError, match="num_classes"):
        build_loss("region_aware", num_classes=1)
    with pytest.raises(ValueError, match="real class"):
        build_loss("region_aware", num_classes=300)
    with pytest.raises(ValueError, match="background_index=4"):
        build_loss("region_aware", num_classes=4, background_index=4)
    with pytest.raises(ValueError, match="background_weight"):
        build_loss("region_aware", num_classes=4, background_weight=-0.1)


def test_confusion_counts_are_summed_across_processes(monkeypatch):
    """Simulates a second process: all_reduce adds that process's counts; both must then hold the update of
    the whole (two-image) batch."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 3, 5, generator=g)
    targets = torch.randint(0, 4, (2, 3, 5), generator=g)
    targets[1, 0] = 255
    other_valid = targets[1] != 255
    other_counts = torch.bincount(targets[1][other_valid] * 4 + logits[1].argmax(0)[other_valid], minlength=16)
    calls = []

    def fake_all_reduce(tensor):
        calls.append(tensor.dtype)
        tensor += other_counts

    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "all_reduce", fake_all_reduce)
    loss_fn = RegionAwareLoss(num_classes=4, momentum=0.5)
    loss_fn(logits[:1], targets[:1])
    assert calls == [torch.int64]
    monkeypatch.undo()
    expected = confusion_ema_update(torch.eye(4), logits, targets, momentum=0.5)  # whole batch, one process
    torch.testing.assert_close(loss_fn.confusion, expected)
    assert not torch.equal(expected, confusion_ema_update(torch.eye(4), logits[:1], targets[:1], momentum=0.5))
