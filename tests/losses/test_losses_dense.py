"""Class-aware CE, focal, Dice and CE+Dice against direct formulas; ignore-index handling of every dense loss."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisy_seg.losses import (
    LossModule,
    build_loss,
    ce_dice_loss,
    class_aware_cross_entropy,
    cross_entropy,
    dice_loss,
    focal_loss,
    present_classes,
)


def dense_batch(n=2, c=5, h=4, w=6, seed=0, dtype=torch.float64, void_fraction=0.2):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, h, w, generator=g, dtype=dtype) * 2
    y = torch.randint(0, c, (n, h, w), generator=g)
    y[torch.rand(n, h, w, generator=g) < void_fraction] = 255
    return z, y


def np_softmax_axis1(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------- class-aware CE
def tagged_batch():
    """Image 0 uses classes {0, 1, 2}, image 1 classes {2, 3, 4}, so each image has absent classes."""
    z, y = dense_batch()
    y[0] = torch.where(y[0] != 255, y[0] % 3, y[0])
    y[1] = torch.where(y[1] != 255, 2 + y[1] % 3, y[1])
    return z, y


def test_class_aware_ce_matches_loop_reference():
    z, y = tagged_batch()
    present = present_classes(y, 5)
    assert not present[0, 4]
    present[0, 4] = True  # a tag without pixels is allowed
    got = class_aware_cross_entropy(z, y, present, reduction="none").numpy()
    zn, yn, pn = z.numpy(), y.numpy(), present.numpy()
    for n in range(2):
        classes = np.flatnonzero(pn[n])
        for i in range(4):
            for j in range(6):
                if yn[n, i, j] == 255:
                    assert got[n, i, j] == 0
                    continue
                logits = zn[n, classes, i, j]
                log_norm = np.log(np.sum(np.exp(logits - logits.max()))) + logits.max()
                np.testing.assert_allclose(got[n, i, j], log_norm - zn[n, yn[n, i, j], i, j], rtol=1e-12)


def test_class_aware_ce_with_all_classes_present_is_ce():
    z, y = dense_batch()
    present = torch.ones(2, 5, dtype=torch.bool)
    torch.testing.assert_close(class_aware_cross_entropy(z, y, present), F.cross_entropy(z, y, ignore_index=255))


def test_class_aware_ce_masked_classes_get_no_gradient_and_gradcheck():
    z, y = tagged_batch()
    present = present_classes(y, 5)
    absent = ~present
    assert absent.any()
    t = z.clone().requires_grad_(True)
    class_aware_cross_entropy(t, y, present).backward()
    assert torch.all(t.grad[absent.nonzero(as_tuple=True)] == 0)
    small_z, small_y = dense_batch(n=1, c=3, h=2, w=3, seed=1)
    small_present = present_classes(small_y, 3)
    assert torch.autograd.gradcheck(
        lambda q: class_aware_cross_entropy(q, small_y, small_present), (small_z.requires_grad_(True),)
    )


def test_present_classes_and_module_default():
    y = torch.tensor([[[0, 2], [255, 2]], [[1, 1], [1, 255]]])
    assert present_classes(y, 3).tolist() == [[True, False, True], [False, True, False]]
    z, yy = dense_batch()
    module = build_loss("cce")
    assert isinstance(module, LossModule) and module.loss_fn is class_aware_cross_entropy
    torch.testing.assert_close(module(z, yy), class_aware_cross_entropy(z, yy, present_classes(yy, 5)))


def test_class_aware_ce_untagged_pixels_give_an_infinite_loss():
    z, y = dense_batch()
    present = present_classes(y, 5)
    cls = int(y[0][y[0] != 255][0])
    present[0, cls] = False
    assert torch.isinf(class_aware_cross_entropy(z, y, present))  # detectron2's trainer stops on it


def test_class_aware_ce_is_zero_on_empty_batches_and_all_ignored_images():
    z, y = dense_batch()
    y_void = y.clone()
    y_void[1] = 255  # image 1: every pixel ignored, no tag
    tags = present_classes(y_void, 5)
    assert not tags[1].any()
    z1 = z.clone().requires_grad_(True)
    loss = class_aware_cross_entropy(z1, y_void, tags)
    torch.testing.assert_close(loss, class_aware_cross_entropy(z[:1], y_void[:1], tags[:1]))
    loss.backward()
    assert torch.isfinite(z1.grad).all() and not z1.grad[1].any()
    all_void = torch.full_like(y, 255)
    assert class_aware_cross_entropy(z, all_void, present_classes(all_void, 5)).item() == 0.0
    empty = class_aware_cross_entropy(z[:0], y[:0], tags[:0])
    assert empty.item() == 0.0
    assert build_loss("cce")(z, all_void).item() == 0.0


def test_class_aware_ce_argument_checks():
    z, y = dense_batch()
    present = present_classes(y, 5)
    with pytest.raises(ValueError, match="bool"):
        class_aware_cross_entropy(z, y, present.float())
    with pytest.raises(ValueError, match=r"must be \(N, C\)"):
        class_aware_cross_entropy(z, y, present[:, :4])


def released_class_aware_ce(z, y, present):
    """Wang et al.'s released form, transcribed: github.com/YudeWang/Learning-Pseudo-Label, lib/net/loss.py
    (ClassLogSoftMax with T=1, then SegLoss = F.nll_loss with ignore_index 255)."""
    exp = torch.exp(z)
    category = present[:, :, None, None].to(z.dtype)
    exp_sum = torch.sum(exp * category, dim=1, keepdim=True) + 1e-5
    return F.nll_loss(torch.log(exp / exp_sum + 1e-5), y, ignore_index=255, reduction="none")


@pytest.mark.parametrize("scale", [1.0, 3.0, 10.0, 20.0])
def test_class_aware_ce_released_epsilons_is_the_released_code(scale):
    z, y = tagged_batch()
    z = z * scale / 2  # dense_batch draws 2 N(0, 1)
    present = present_classes(y, 5)
    present[0, 4] = True  # a tag without pixels
    y = y.clone()
    y[1, 0, 0] = 0  # a pixel of an untagged class: finite in the released form
    assert not present[1, 0]
    released = released_class_aware_ce(z, y, present)
    ours = class_aware_cross_entropy(z, y, present, released_epsilons=True, reduction="none")
    torch.testing.assert_close(ours, released)
    assert torch.isfinite(ours).all() and ours.max() <= -np.log(1e-5) + 1e-9  # capped at -log(1e-5)
    module = build_loss("cce", released_epsilons=True)
    torch.testing.assert_close(module(z, y, present=present), released.sum() / (y != 255).sum())


def test_class_aware_ce_forms_differ_as_documented():
    """The docstring's numbers: mean losses of the paper's form and the released one, 5 classes, z = s N(0, 1)."""
    gaps = {}
    for scale in (3.0, 10.0):
        g = torch.Generator().manual_seed(0)
        z = scale * torch.randn(4, 5, 32, 32, generator=g, dtype=torch.float64)
        y = torch.randint(0, 5, (4, 32, 32), generator=g)
        gaps[scale] = (class_aware_cross_entropy(z, y) - class_aware_cross_entropy(z, y, released_epsilons=True)).item()
    assert 0.02 < gaps[3.0] < 0.05 and 3.5 < gaps[10.0] < 5.5  # measured 0.038 and 4.4


def test_class_aware_ce_released_epsilons_without_overflow_and_gradcheck():
    z, y = tagged_batch()
    present = present_classes(y, 5)
    huge = (z * 1000).float().requires_grad_(True)  # exp(z) of the released code is inf here
    loss = class_aware_cross_entropy(huge, y, present, released_epsilons=True)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(huge.grad).all()
    assert not torch.isfinite(released_class_aware_ce(huge.detach(), y, present)).all()
    small_z, small_y = dense_batch(n=1, c=3, h=2, w=3, seed=1)
    tags = present_classes(small_y, 3)
    assert torch.autograd.gradcheck(
        lambda q: class_aware_cross_entropy(q, small_y, tags, released_epsilons=True), (small_z.requires_grad_(True),)
    )
    with pytest.raises(ValueError, match="released_epsilons must be True or False"):
        build_loss("cce", released_epsilons=1)


# ---------------------------------------------------------------------------------------- focal
def test_focal_matches_formula_and_seed_form():
    z, y = dense_batch()
    valid = y != 255
    ce = F.cross_entropy(z, y, ignore_index=255, reduction="none")
    p_t = torch.exp(-ce)
    expected = (1 - p_t) ** 2 * ce
    got = focal_loss(z, y, reduction="none")
    torch.testing.assert_close(got[valid], expected[valid])
    seed_form = (1 - torch.exp(-ce)) ** 2.0 * ce  # seed 004
    torch.testing.assert_close(focal_loss(z, y), seed_form[valid].mean())
    torch.testing.assert_close(focal_loss(z, y, gamma=0.0), F.cross_entropy(z, y, ignore_index=255))


def test_focal_classification_alpha_and_gradcheck():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(7, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (7,), generator=g)
    alpha = [0.25, 1.0, 2.0, 0.5]
    ce = F.cross_entropy(z, y, reduction="none")
    expected = torch.tensor(alpha, dtype=torch.float64)[y] * (1 - torch.exp(-ce)) ** 1.5 * ce
    torch.testing.assert_close(focal_loss(z, y, gamma=1.5, alpha=alpha, reduction="none"), expected)
    torch.testing.assert_close(focal_loss(z, y, alpha=0.5, reduction="sum"), 0.5 * focal_loss(z, y, reduction="sum"))
    assert torch.autograd.gradcheck(lambda t: focal_loss(t, y, gamma=1.5, alpha=alpha), (z.requires_grad_(True),))
    with pytest.raises(ValueError, match="3 per-class weights"):
        focal_loss(z, y, alpha=[1.0, 1.0, 1.0])


def test_focal_gamma_below_one_has_finite_gradient_at_certainty():
    z = torch.tensor([[50.0, -50.0]], requires_grad=True)
    loss = focal_loss(z, torch.tensor([0]), gamma=0.5)
    loss.backward()
    assert torch.isfinite(loss) and torch.all(torch.isfinite(z.grad))


# ----------------------------------------------------------------------------------------- dice
def numpy_dice(z, y, smooth, ignore=255):
    p = np_softmax_axis1(z)
    valid = y != ignore
    losses = []
    for c in range(z.shape[1]):
        pc = p[:, c][valid]
        tc = (y[valid] == c).astype(np.float64)
        losses.append(1 - (2 * np.sum(pc * tc) + smooth) / (np.sum(pc) + np.sum(tc) + smooth))
    return np.array(losses)


def test_dice_matches_numpy_reference():
    z, y = dense_batch()
    expected = numpy_dice(z.numpy(), y.numpy(), 1.0)
    np.testing.assert_allclose(dice_loss(z, y, reduction="none").numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(dice_loss(z, y).item(), expected.mean(), rtol=1e-12)
    np.testing.assert_allclose(
        dice_loss(z, y, smooth=0.1, reduction="sum").item(), numpy_dice(z.numpy(), y.numpy(), 0.1).sum(), rtol=1e-12
    )
    assert torch.autograd.gradcheck(lambda t: dice_loss(t, y), (z.clone().requires_grad_(True),))


def carpartssegment_dice(z, y, smooth=1.0):
    """github.com/derby-ding/carpartssegment, utils/losses.py, DiceLoss.forward (no backlabel, no ignored pixel)."""
    target = torch.zeros_like(z).scatter_(1, y.unsqueeze(1), 1.0)
    output = F.softmax(z, dim=1)
    intersection = (output.reshape(-1) * target.reshape(-1)).sum()
    return 1 - ((2.0 * intersection + smooth) / (output.reshape(-1).sum() + target.reshape(-1).sum() + smooth))


def test_dice_pooled_is_carpartssegments_dice_and_half_mae():
    z, y = dense_batch(void_fraction=0.0)
    pooled = dice_loss(z, y, pooled=True)
    torch.testing.assert_close(pooled, carpartssegment_dice(z, y))
    # a small class the model misses: the per-class form (the default) weighs it up, the pooled one hardly sees it
    y_small = torch.zeros(1, 8, 8, dtype=torch.long)
    y_small[0, :2, :2] = 4
    z_small = F.one_hot(torch.zeros_like(y_small), 5).permute(0, 3, 1, 2).double() * 10
    assert dice_loss(z_small, y_small, pooled=True) < 0.07 and dice_loss(z_small, y_small) > 0.15
    torch.testing.assert_close(build_loss("ce_dice", pooled=True)(z, y), cross_entropy(z, y) + pooled)
    # with ignored pixels: (N - sum p_y) / (N + smooth / 2) over the N kept ones, i.e. MAE / 2 up to smooth
    z, y = dense_batch()
    kept = y != 255
    p_y = F.softmax(z, dim=1).gather(1, y.clamp(max=4).unsqueeze(1)).squeeze(1)[kept]
    expected = (kept.sum() - p_y.sum()) / (kept.sum() + 0.5 * 0.3)
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(dice_loss(z, y, smooth=0.3, pooled=True, reduction=reduction), expected)
    assert torch.autograd.gradcheck(lambda t: dice_loss(t, y, pooled=True), (z.clone().requires_grad_(True),))
    with pytest.raises(ValueError, match="pooled must be True or False"):
        build_loss("dice", pooled="yes")


def test_dice_perfect_prediction_is_near_zero():
    y = torch.randint(0, 3, (2, 5, 5))
    z = F.one_hot(y, 3).permute(0, 3, 1, 2).float() * 40
    assert dice_loss(z, y, smooth=1e-6).item() < 1e-5


def test_ce_dice_is_the_sum():
    z, y = dense_batch()
    w = torch.rand(y.shape, dtype=torch.float64)
    expected = 0.3 * cross_entropy(z, y, weight=w) + 2.0 * dice_loss(z, y, smooth=0.5)
    torch.testing.assert_close(ce_dice_loss(z, y, smooth=0.5, ce_weight=0.3, dice_weight=2.0, weight=w), expected)
    module = build_loss("ce_dice", smooth=0.5, ce_weight=0.3, dice_weight=2.0)
    torch.testing.assert_close(module(z, y, w), expected)


def test_dice_and_lovasz_modules_reject_pixel_weights():
    z, y = dense_batch()
    for name in ("dice", "lovasz"):
        with pytest.raises(ValueError, match="weight"):
            build_loss(name)(z, y, torch.ones(y.shape, dtype=z.dtype))


# ------------------------------------------------------------------- ignore-index, every dense loss
DENSE_LOSSES = [
    ("ce", {}),
    ("cce", {}),
    ("focal", {"gamma": 2.0}),
    ("dice", {}),
    ("ce_dice", {}),
    ("lovasz", {}),
    ("lovasz", {"per_image": True, "classes": "all"}),
    ("region_aware", {"num_classes": 5}),
    ("sce", {"alpha": 0.8, "beta": 0.2}),
    ("gce", {"q": 0.4}),
    ("nce_rce", {}),
]


@pytest.mark.parametrize("name, kwargs", DENSE_LOSSES)
def test_ignored_pixels_change_nothing_and_get_zero_gradient(name, kwargs):
    z, y = dense_batch(dtype=torch.float32, void_fraction=0.3)
    ignored = (y == 255).unsqueeze(1).expand_as(z)
    assert ignored.any()
    loss_fn = build_loss(name, **kwargs)
    t = z.clone().requires_grad_(True)
    loss = loss_fn(t, y)
    loss.backward()
    assert torch.all(t.grad[ignored] == 0)
    assert torch.any(t.grad[~ignored] != 0)
    z_changed = z.clone()
    z_changed[ignored] = torch.randn(int(ignored.sum())) * 100
    torch.testing.assert_close(build_loss(name, **kwargs)(z_changed, y), loss.detach())


@pytest.mark.parametrize("name, kwargs", DENSE_LOSSES)
def test_dense_losses_gradcheck_float64(name, kwargs):
    z, y = dense_batch(n=2, c=5, h=2, w=3, seed=7, void_fraction=0.2)
    loss_fn = build_loss(name, **kwargs)
    loss_fn.eval()  # region-aware: keep its matrix fixed across gradcheck evaluations
    assert torch.autograd.gradcheck(lambda t: loss_fn(t, y), (z.requires_grad_(True),))


def test_dense_validation_messages():
    z, y = dense_batch()
    with pytest.raises(ValueError, match=r"expects dense logits"):
        dice_loss(z[:, :, 0, 0], y[:, 0, 0])
    with pytest.raises(ValueError, match="smooth"):
        build_loss("dice", smooth=0.0)
    with pytest.raises(ValueError, match="gamma"):
        build_loss("focal", gamma=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        build_loss("focal", alpha=[1.0, -1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="weight shape"):
        focal_loss(z, y, weight=torch.ones(2, 4, dtype=z.dtype))
