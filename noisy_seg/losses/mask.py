"""Losses of the ROI mask head: per-RoI binary mask logits (R, M, M) against the cropped ground-truth masks (R, M, M),
float in [0, 1] or bool, as detectron2's `mask_rcnn_loss` sees them (the logit of each RoI's ground-truth class, or
the one class-agnostic channel).

Conventions: "mean" averages over all R * M * M pixels (detectron2's mask BCE), an empty batch (R = 0) gives 0 with
a graph, `weight` (R, M, M) multiplies the per-pixel loss, fp16/bf16 logits are upcast, and non-finite logits give
a NaN loss. No loss reads a tensor value back to the host.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ._validate import check_mask_inputs, compute_dtype_logits, nan_if_nonfinite, reduce_loss
from .options import boolean, in_range, non_negative, one_of, positive
from .registry import MASK, register_loss

__all__ = [
    "binary_cross_entropy",
    "boundary_preserving_bce",
    "boundary_tolerant_bce",
    "dice_bce",
    "hard_bootstrapped_bce",
    "pixel_generalized_cross_entropy",
    "soft_bootstrapped_bce",
    "symmetric_binary_cross_entropy",
]

_label_floor = in_range(0, 1, low_open=True, high_open=True)


def _prepared(logits, targets, name, weight=None, roi_sizes=None):
    check_mask_inputs(logits, targets, name, weight=weight, roi_sizes=roi_sizes)
    x = compute_dtype_logits(logits)
    return x, targets.to(x.dtype)


def _bce(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(x, t, reduction="none")


# ---------------------------------------------------------------------------------------------------------- BCE
def binary_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, *, reduction: str = "mean", weight: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Per-pixel BCE on the logits: detectron2's mask loss (`mask_rcnn_loss`'s value for the same logits)."""
    x, t = _prepared(logits, targets, "binary_cross_entropy", weight)
    return nan_if_nonfinite(reduce_loss(_bce(x, t), reduction, weight=weight), logits)


register_loss("bce", binary_cross_entropy, kind=MASK)


def symmetric_binary_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float,
    beta: float,
    label_floor: float = 1e-4,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """SCE (Wang et al. 2019) on each pixel's two classes: alpha * BCE + beta * reverse BCE, the reverse term against
    the target clamped to [label_floor, 1]: -[p log t~ + (1 - p) log (1 - t)~] = -log(label_floor) * |p - t| for a
    binary target (p = sigmoid(logit))."""
    x, t = _prepared(logits, targets, "symmetric_binary_cross_entropy", weight)
    p = torch.sigmoid(x)
    reverse = -(p * t.clamp(label_floor, 1.0).log() + (1 - p) * (1 - t).clamp(label_floor, 1.0).log())
    loss = alpha * _bce(x, t) + beta * reverse
    return nan_if_nonfinite(reduce_loss(loss, reduction, weight=weight), logits)


register_loss(
    "sbce",
    symmetric_binary_cross_entropy,
    kind=MASK,
    alpha=non_negative,
    beta=non_negative,
    label_floor=_label_floor,
    required_note="SCE's published alpha / beta differ by dataset (0.1 / 1.0 on CIFAR-10, 6.0 / 0.1 on CIFAR-100) and "
    "none were published for masks; the NoisyMasks toy config uses the box recipe's alpha=1.0, beta=0.1",
)


def pixel_generalized_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    q: float = 0.7,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """GCE (Zhang & Sabuncu 2018) per pixel, (1 - p_t^q) / q with p_t = t p + (1 - t)(1 - p) the probability of the
    target; q = 0.7 is the paper's recommended value (q -> 0 is BCE, q = 1 is MAE)."""
    x, t = _prepared(logits, targets, "pixel_generalized_cross_entropy", weight)
    # log p_t from log-sigmoids (log 0 = -inf drops a term): exact for soft targets, stable for large logits
    log_p_t = torch.logaddexp(t.log() + F.logsigmoid(x), (1 - t).log() + F.logsigmoid(-x))
    loss = -torch.expm1(q * log_p_t) / q
    return nan_if_nonfinite(reduce_loss(loss, reduction, weight=weight), logits)


register_loss("pixel_gce", pixel_generalized_cross_entropy, kind=MASK, q=in_range(0, 1, low_open=True))


# ---------------------------------------------------------------------------------------------------- bootstrap
def soft_bootstrapped_bce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    beta: float = 0.95,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Soft bootstrapping (Reed et al. 2015): BCE against beta * t + (1 - beta) * p with p = sigmoid(logit) not
    detached, which is beta * BCE(t) + (1 - beta) * H(p) (the paper's entropy-regularized form); beta = 0.95 is the
    paper's soft value."""
    x, t = _prepared(logits, targets, "soft_bootstrapped_bce", weight)
    entropy = F.softplus(x) - x * torch.sigmoid(x)  # BCE(x, sigmoid(x)), written stably
    loss = beta * _bce(x, t) + (1 - beta) * entropy
    return nan_if_nonfinite(reduce_loss(loss, reduction, weight=weight), logits)


register_loss("bootstrap_soft", soft_bootstrapped_bce, kind=MASK, beta=in_range(0, 1))


def hard_bootstrapped_bce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    beta: float = 0.8,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Hard bootstrapping (Reed et al. 2015): BCE against beta * t + (1 - beta) * z, z = [logit > 0] the model's own
    binary prediction (no gradient through it); beta = 0.8 is the paper's hard value."""
    x, t = _prepared(logits, targets, "hard_bootstrapped_bce", weight)
    predicted = (x.detach() > 0).to(x.dtype)
    loss = _bce(x, beta * t + (1 - beta) * predicted)
    return nan_if_nonfinite(reduce_loss(loss, reduction, weight=weight), logits)


register_loss("bootstrap_hard", hard_bootstrapped_bce, kind=MASK, beta=in_range(0, 1))


# ----------------------------------------------------------------------------------------------- boundary band
def boundary_band(targets: torch.Tensor, band_width: float, roi_sizes: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(R, M, M) bool: the pixels within `band_width` of the target's boundary (target > 0.5), in mask pixels, or in
    image pixels when `roi_sizes` (R,) gives each RoI's size in image pixels (sqrt of its box area): its width in
    mask pixels is band_width * M / roi_size. Within: the Chebyshev distance to the nearest pixel of the other label
    (1 for the pixels that touch the boundary, 8-connected) is at most the width; the RoI's edge is no boundary."""
    binary = targets > 0.5
    if targets.numel() == 0:
        return binary
    if roi_sizes is None:
        widths = torch.full(binary.shape[:1], float(band_width), device=binary.device)
    else:
        widths = band_width * targets.shape[-1] / roi_sizes.to(torch.float32).clamp_min(1.0)
    # the distance is a whole number of pixels: within w <=> within floor(w) <=> the (2 floor(w) + 1) box holds both
    radius = widths.clamp(max=max(binary.shape[1:])).floor().to(torch.int64)
    return _box_holds_both(binary, radius)


def _box_holds_both(binary: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """(R, H, W) bool: whether the box of `radius` (R,) pixels around each pixel, clipped to the RoI, holds pixels of
    both labels. From one summed-area table per RoI and one gather of each box's four corners: O(R H W) whatever
    the radius, a radius per RoI without a host sync, and few ops (on small heads their count is the cost)."""
    count, height, width = binary.shape
    table = F.pad(binary.to(torch.int32).cumsum(1).cumsum(2), (1, 0, 1, 0)).flatten(1)  # (R, (H+1) (W+1))
    # per RoI, the box's [end, start) along each axis: y + r + 1 and y - r, clipped to the RoI
    shift = torch.stack([radius + 1, -radius], dim=1).unsqueeze(2)  # (R, 2, 1)
    rows = (torch.arange(height, device=binary.device) + shift).clamp_(0, height)  # (R, 2, H)
    cols = (torch.arange(width, device=binary.device) + shift).clamp_(0, width)  # (R, 2, W)
    corners = rows[:, :, None, :, None] * (width + 1) + cols[:, None, :, None, :]  # (R, 2, 2, H, W)
    at = table.gather(1, corners.view(count, -1)).view(count, 2, 2, height, width)
    ones = at[:, 0, 0] - at[:, 0, 1] - at[:, 1, 0] + at[:, 1, 1]
    area = (rows[:, 0] - rows[:, 1]).unsqueeze(2) * (cols[:, 0] - cols[:, 1]).unsqueeze(1)
    return (ones > 0) & (ones < area)  # the pixel itself is one of the labels: both <=> neither count is 0


def boundary_tolerant_bce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    roi_sizes: Optional[torch.Tensor] = None,
    *,
    band_width: float = 2.0,
    band_unit: str = "mask",
    band_weight: float = 0.0,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """BCE that trusts the annotated boundary less: pixels within `band_width` of it (Chebyshev distance, see
    `boundary_band`) are ignored (band_weight 0: "mean" averages over the other pixels) or weighted by band_weight.
    band_unit "mask": the width in pixels of the RoI mask (M x M); "image": in pixels of the input image, turned
    into mask pixels per RoI from `roi_sizes` (R,), which the mask head passes (sqrt of each proposal box's area).
    Width 0 is plain BCE."""
    name = "boundary_tolerant_bce"
    x, t = _prepared(logits, targets, name, weight, roi_sizes)
    if band_unit == "image" and roi_sizes is None:
        raise ValueError(f"{name}: band_unit='image' needs roi_sizes (R,), each RoI's size in image pixels")
    band = boundary_band(t, band_width, roi_sizes if band_unit == "image" else None)
    loss = _bce(x, t)
    if band_weight == 0:
        loss = reduce_loss(loss, reduction, valid=~band, weight=weight)
    else:
        band_weights = torch.where(band, torch.full_like(loss, band_weight), torch.ones_like(loss))
        loss = reduce_loss(loss, reduction, weight=band_weights if weight is None else band_weights * weight)
    return nan_if_nonfinite(loss, logits)


register_loss(
    "boundary_bce",
    boundary_tolerant_bce,
    kind=MASK,
    needs_roi_sizes=True,
    band_width=non_negative,
    band_unit=one_of("mask", "image"),
    band_weight=in_range(0, 1),
)


# ---------------------------------------------------------------------------------------------------- Dice + BCE
def dice_bce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    smooth: float = 1.0,
    bce_weight: float = 1.0,
    dice_weight: float = 1.0,
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """bce_weight * BCE (mean over pixels; `weight` applies here only) + dice_weight * Dice, the Dice per RoI,
    1 - (2 sum p t + smooth) / (sum p + sum t + smooth), averaged over the RoIs (a region loss: a few wrong pixels at
    a large object's boundary move it little)."""
    x, t = _prepared(logits, targets, "dice_bce", weight)
    bce = reduce_loss(_bce(x, t), "mean", weight=weight)
    p = torch.sigmoid(x).flatten(1)
    flat = t.flatten(1)
    dice = 1 - (2 * (p * flat).sum(1) + smooth) / (p.sum(1) + flat.sum(1) + smooth)
    dice = dice.sum() / max(dice.numel(), 1)  # R = 0: 0, not the NaN of an empty mean
    return nan_if_nonfinite(bce_weight * bce + dice_weight * dice, logits)


register_loss("dice_bce", dice_bce, kind=MASK, smooth=positive, bce_weight=non_negative, dice_weight=non_negative)


# ---------------------------------------------------------------------------------------------- Noisy Boundaries
_LAPLACIAN = ((-1.0, -1.0, -1.0), (-1.0, 8.0, -1.0), (-1.0, -1.0, -1.0))


def boundary_preserving_bce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    as_released: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """The boundary-preserving map (BPM) BCE of Noisy Boundaries (Wang et al., CVPR 2022; zhenyuw16/noisyboundaries,
    `mask_cross_entropy_bpm`): each pixel's BCE weighted by |Laplacian| (3x3, 8 at the centre) of the predicted
    probabilities, normalised to a mean of 3 per RoI and detached, so the loss looks at the edges the model itself
    predicts rather than at the annotated ones.

    as_released: reduce as the released code does: its BCE is averaged before the map multiplies it, so its value is
    mean(BCE) * mean(map) = 3 * BCE (the map then changes nothing but the scale). The default weights each pixel, as
    the paper describes it. A RoI whose map is 0 everywhere gets weight 0 (the released code divides 0 by 0)."""
    x, t = _prepared(logits, targets, "boundary_preserving_bce")
    kernel = torch.tensor(_LAPLACIAN, dtype=x.dtype, device=x.device).view(1, 1, 3, 3)
    with torch.no_grad():
        edges = F.conv2d(torch.sigmoid(x).unsqueeze(1), kernel, padding=1).squeeze(1).abs()
        per_roi_mean = edges.mean(dim=(1, 2), keepdim=True) if edges.numel() else edges.sum(dim=(1, 2), keepdim=True)
        bpm = edges / per_roi_mean.clamp_min(1e-12) * 3
    bce = _bce(x, t)
    loss = bce.mean() * bpm if as_released and bce.numel() else bce * bpm
    return nan_if_nonfinite(reduce_loss(loss, reduction), logits)


register_loss("bpm_bce", boundary_preserving_bce, kind=MASK, as_released=boolean)
