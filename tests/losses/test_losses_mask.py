"""The mask losses (noisy_seg/losses/mask.py) against their formulas written out, and their option errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from noisy_seg.losses import (
    MASK,
    available_losses,
    boundary_band,
    build_loss,
    loss_spec,
)

MASK_LOSSES = ["bce", "bootstrap_hard", "bootstrap_soft", "boundary_bce", "bpm_bce", "dice_bce", "pixel_gce", "sbce"]


def _inputs(seed=0, rois=5, side=12):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(rois, side, side, generator=g, dtype=torch.float64) * 2
    targets = torch.zeros(rois, side, side, dtype=torch.float64)
    targets[:, 3:9, 2:8] = 1  # a block per RoI: a boundary to speak of
    return logits, targets


def _bce(logits, targets):
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none")


def test_the_mask_losses_are_registered_as_mask_losses():
    assert [n for n in available_losses() if loss_spec(n).kind == MASK] == MASK_LOSSES
    assert loss_spec("boundary_bce").needs_roi_sizes
    assert not any(loss_spec(n).takes_classification_logits or loss_spec(n).takes_dense_logits for n in MASK_LOSSES)


def test_bce_is_detectron2s_mask_loss_value():
    logits, targets = _inputs()
    assert torch.allclose(build_loss("bce")(logits, targets), _bce(logits, targets).mean())
    assert torch.allclose(build_loss("bce")(logits, targets.bool()), _bce(logits, targets).mean())  # bool masks too


def test_symmetric_bce_is_bce_plus_the_floored_reverse_term():
    logits, targets = _inputs()
    p = torch.sigmoid(logits)
    expected = 1.0 * _bce(logits, targets) + 0.1 * -math.log(1e-4) * (p - targets).abs()  # binary targets
    assert torch.allclose(build_loss("sbce", alpha=1.0, beta=0.1)(logits, targets), expected.mean())


def test_pixel_gce_at_its_limits_and_for_soft_targets():
    logits, targets = _inputs()
    p_t = torch.where(targets > 0, torch.sigmoid(logits), 1 - torch.sigmoid(logits))
    assert torch.allclose(build_loss("pixel_gce", q=1.0)(logits, targets), (1 - p_t).mean())  # MAE
    near_bce = build_loss("pixel_gce", q=1e-6)(logits, targets)
    assert torch.allclose(near_bce, _bce(logits, targets).mean(), rtol=1e-4)
    soft = torch.full_like(targets, 0.3)
    p_soft = 0.3 * torch.sigmoid(logits) + 0.7 * (1 - torch.sigmoid(logits))
    assert torch.allclose(build_loss("pixel_gce", q=0.7)(logits, soft), ((1 - p_soft**0.7) / 0.7).mean())


def test_soft_bootstrap_is_bce_against_the_mixed_target_with_its_gradient():
    logits, targets = _inputs()
    x1 = logits.clone().requires_grad_(True)
    x2 = logits.clone().requires_grad_(True)
    ours = build_loss("bootstrap_soft", beta=0.95)(x1, targets)
    p = torch.sigmoid(x2)  # not detached, as in Reed et al.'s entropy form
    mixed = 0.95 * targets + 0.05 * p
    expected = -(mixed * torch.log(p) + (1 - mixed) * torch.log(1 - p)).mean()
    assert torch.allclose(ours, expected)
    ours.backward()
    expected.backward()
    assert torch.allclose(x1.grad, x2.grad)
    assert torch.allclose(build_loss("bootstrap_soft", beta=1.0)(logits, targets), _bce(logits, targets).mean())


def test_hard_bootstrap_mixes_in_the_models_own_binary_mask():
    logits, targets = _inputs()
    mixed = 0.8 * targets + 0.2 * (logits > 0).double()
    assert torch.allclose(build_loss("bootstrap_hard")(logits, targets), _bce(logits, mixed).mean())


def test_the_boundary_band_is_the_ring_within_its_width():
    target = torch.zeros(1, 10, 10)
    target[0, 3:7, 3:7] = 1
    band = boundary_band(target, 1)[0]
    ring = torch.zeros(10, 10, dtype=torch.bool)
    ring[2:8, 2:8] = True
    ring[4:6, 4:6] = False  # the 2x2 core is 2 px from the outside
    assert torch.equal(band, ring)
    assert not boundary_band(target, 0).any()
    # in image pixels: a RoI 20 image px wide drawn on a 10 px mask halves the width
    assert torch.equal(boundary_band(target, 2.0, torch.tensor([20.0]))[0], ring)
    edge = torch.zeros(1, 6, 6)
    edge[0, :, :3] = 1  # an object cut by the RoI's edge: that edge is no boundary
    assert not boundary_band(edge, 1)[0][:, 0].any()


def _distance_by_growing(binary, steps):
    """The reference: i 3x3 dilations and erosions reach the pixels at Chebyshev distance i from the other label."""
    dilated = eroded = binary.float().unsqueeze(1)
    distance = torch.full(binary.shape, float("inf"))
    for step in range(1, steps + 1):
        dilated = F.max_pool2d(dilated, 3, stride=1, padding=1)
        eroded = -F.max_pool2d(-eroded, 3, stride=1, padding=1)
        reached = (dilated != eroded).squeeze(1) & torch.isinf(distance)
        distance = torch.where(reached, torch.full_like(distance, float(step)), distance)
    return distance


def test_the_band_is_the_pixels_the_grown_boundary_reaches_within_each_rois_width():
    g = torch.Generator().manual_seed(0)
    for trial in range(20):
        masks = torch.rand(6, 28, 28, generator=g) > torch.rand(1, generator=g).item()  # scattered pixels
        masks[0] = False  # no boundary at all: no band at any width
        masks[1] = True
        masks[2] = False
        masks[2, 4:20, 9:26] = True  # a block
        distance = _distance_by_growing(masks, 40)
        for width in (0, 1, 2, 5, 30):
            assert torch.equal(boundary_band(masks.float(), width), distance <= width), (trial, width)
        # in image pixels: each RoI its own width in mask pixels, fractional, below 1 and beyond the mask
        sizes = torch.tensor([0.5, 7.0, 13.3, 28.0, 61.0, 300.0])
        widths = 3.0 * 28 / sizes.clamp_min(1.0)
        expected = distance <= widths[:, None, None]
        assert torch.equal(boundary_band(masks.float(), 3.0, sizes), expected), trial


def test_boundary_bce_ignores_or_weights_the_band():
    logits, targets = _inputs()
    band = boundary_band(targets, 2)
    per_pixel = _bce(logits, targets)
    ignored = build_loss("boundary_bce", band_width=2)(logits, targets)
    assert torch.allclose(ignored, per_pixel[~band].mean())
    weighted = build_loss("boundary_bce", band_width=2, band_weight=0.25)(logits, targets)
    assert torch.allclose(weighted, torch.where(band, 0.25 * per_pixel, per_pixel).mean())
    assert torch.allclose(build_loss("boundary_bce", band_width=0)(logits, targets), per_pixel.mean())
    image_unit = build_loss("boundary_bce", band_width=2.0, band_unit="image")
    sizes = torch.full((logits.shape[0],), float(logits.shape[-1]), dtype=torch.float64)  # RoI as wide as its mask
    assert torch.allclose(image_unit(logits, targets, roi_sizes=sizes), ignored)
    with pytest.raises(ValueError, match="band_unit='image' needs roi_sizes"):
        image_unit(logits, targets)


def test_dice_bce_adds_the_per_roi_dice():
    logits, targets = _inputs()
    p = torch.sigmoid(logits).flatten(1)
    t = targets.flatten(1)
    dice = (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()
    expected = 0.5 * _bce(logits, targets).mean() + 2.0 * dice
    assert torch.allclose(build_loss("dice_bce", bce_weight=0.5, dice_weight=2.0)(logits, targets), expected)


def test_bpm_bce_weights_pixels_by_the_laplacian_of_the_prediction():
    logits, targets = _inputs()
    p = torch.sigmoid(logits).unsqueeze(1)
    kernel = -torch.ones(1, 1, 3, 3, dtype=p.dtype)
    kernel[0, 0, 1, 1] = 8
    edges = F.conv2d(p, kernel, padding=1).squeeze(1).abs()
    bpm = edges / edges.mean(dim=(1, 2), keepdim=True) * 3
    per_pixel = _bce(logits, targets)
    assert torch.allclose(build_loss("bpm_bce")(logits, targets), (per_pixel * bpm).mean())
    # the authors' released reduction: BCE averaged first, so the map's mean (3) is all that is left of it
    assert torch.allclose(build_loss("bpm_bce", as_released=True)(logits, targets), 3 * per_pixel.mean())
    x = logits.clone().requires_grad_(True)
    build_loss("bpm_bce")(x, targets).backward()  # the map is detached: the gradient is the weighted BCE's
    assert torch.allclose(x.grad, (torch.sigmoid(logits) - targets) * bpm / targets.numel())


@pytest.mark.parametrize(
    "name,options,message",
    [
        ("boundary_bce", {"band_width": -1}, "band_width must be a finite number >= 0"),
        ("boundary_bce", {"band_unit": "roi"}, "band_unit must be one of 'mask', 'image'"),
        ("boundary_bce", {"band_weight": 2.0}, r"band_weight must be a number in \[0, 1\]"),
        ("sbce", {"alpha": 1.0}, "missing a required argument: 'beta'"),
        ("pixel_gce", {"q": 0}, r"q must be a number in \(0, 1\]"),
        ("bootstrap_soft", {"beta": 1.5}, r"beta must be a number in \[0, 1\]"),
        ("bce", {"ignore_index": 255}, "unexpected keyword argument 'ignore_index'"),
    ],
)
def test_bad_options_are_one_line_at_build(name, options, message):
    with pytest.raises(ValueError, match=message) as err:
        build_loss(name, **options)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "logits,targets,message",
    [
        (torch.randn(2, 3, 6, 6), torch.zeros(2, 3, 6, 6), r"expects per-RoI mask logits \(R, M, M\)"),
        (torch.randn(2, 6, 6), torch.zeros(2, 6, 6, dtype=torch.long), "targets must be float masks"),
        (torch.randn(2, 6, 6), torch.zeros(2, 5, 6), "targets shape"),
    ],
)
def test_bad_inputs_are_one_line_per_call(logits, targets, message):
    with pytest.raises(ValueError, match=message):
        build_loss("bce")(logits, targets)
