"""Dense (semantic segmentation) losses: class-aware CE, focal, soft Dice, CE + Dice.

Logits (N, C, H, W), targets (N, H, W) with `ignore_index` (default 255, None disables). Focal also takes
classification logits (N, C). Ignored pixels contribute nothing to values or gradients; "mean" averages over
non-ignored pixels; softmax runs in float32 for fp16/bf16 logits.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ._validate import (
    check_input_tensor,
    check_loss_inputs,
    compute_dtype_logits,
    nan_if_nonfinite,
    reduce_loss,
    safe_targets,
    target_log_prob,
)
from .classification import cross_entropy
from .options import boolean, either, non_negative, optional, positive, sequence_of
from .registry import CLASSIFICATION_OR_DENSE, DENSE, register_loss

FocalAlpha = Union[None, float, Sequence[float], torch.Tensor]


# ------------------------------------------------------------------------------------ class-aware CE
def present_classes(targets: torch.Tensor, num_classes: int, *, ignore_index: Optional[int] = 255) -> torch.Tensor:
    """(N, num_classes) bool image-level tags: the classes that occur in each image's non-ignored targets
    (values outside [0, num_classes), the ignore label among them, tag nothing)."""
    if not isinstance(targets, torch.Tensor) or targets.dim() < 1 or targets.is_floating_point():
        raise ValueError("present_classes: targets must be an integer tensor (N, H, W)")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"present_classes: num_classes must be a positive int, got {num_classes!r}")
    flat = targets.reshape(targets.shape[0], math.prod(targets.shape[1:])).long()  # not -1: N may be 0
    valid = (flat >= 0) & (flat < num_classes)
    # Ignored pixels are scattered into an extra column that is dropped afterwards.
    index = torch.where(valid, flat, torch.full_like(flat, num_classes))
    tags = torch.zeros(flat.shape[0], num_classes + 1, dtype=torch.bool, device=flat.device)
    tags.scatter_(1, index, True)
    return tags[:, :num_classes]


def class_aware_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    present: Optional[torch.Tensor] = None,
    *,
    released_epsilons: bool = False,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """CCE (Wang et al. 2022): cross entropy with the softmax restricted to each image's present classes,
    log_softmax(z.masked_fill(~present[:, :, None, None], -inf)). present (N, C) bool; None: the classes that occur
    in each image's targets (`present_classes`, the strongly labelled case).
    A non-ignored pixel whose class is not tagged present gets an infinite loss, which detectron2's finite-loss
    check stops on (a tag/label mismatch must not pass silently). An image with no present class (all of it
    ignored) contributes nothing; an empty batch gives 0.

    released_epsilons: the form of the authors' released code (github.com/YudeWang/Learning-Pseudo-Label,
    lib/net/loss.py: ClassLogSoftMax, then nll_loss), with its two epsilons:
    p_k = exp(z_k) / (sum_{j present} exp(z_j) + 1e-5), loss = -log(p_y + 1e-5). So a pixel's loss is capped at
    -log(1e-5) = 11.5 (an untagged class too: finite, where the default stops the run), and p shrinks where every
    present logit is below about -11. The default is the paper's formula, the exact masked log-softmax: the two
    forms' mean losses differ by about 3e-2 at logit scale 3 (z = 3 N(0, 1), 5 classes) and 4.3 at scale 10, where
    confidently wrong pixels pass the cap (tested). Computed in log space here: the released exp(z) overflows
    float32 above z = 88."""
    name = "class_aware_cross_entropy"
    valid = check_loss_inputs(logits, targets, name, ignore_index=ignore_index, weight=weight, kind=DENSE)
    num_images, num_classes = logits.shape[:2]
    if present is None:
        present = present_classes(targets, num_classes, ignore_index=ignore_index)
    check_input_tensor(
        present,
        "present",
        name,
        floating=False,
        shape=(num_images, num_classes),
        shape_words="(N, C)",
        device=logits.device,
    )

    spatial = (1,) * (logits.dim() - 2)
    # An image without any tag keeps all classes: masking every logit would give NaN (and NaN gradients
    # through the ignored pixels) where a zero contribution is meant.
    softmax_over = present | ~present.any(dim=1, keepdim=True)
    full = compute_dtype_logits(logits)
    masked = full.masked_fill(~softmax_over.view(num_images, num_classes, *spatial), float("-inf"))
    if released_epsilons:
        loss = _released_class_aware_nll(full, masked, targets, valid)
    else:
        loss = -target_log_prob(F.log_softmax(masked, dim=1), targets, valid)
    return nan_if_nonfinite(reduce_loss(loss, reduction, valid=valid, weight=weight), logits)


_RELEASED_EPSILON = 1e-5  # both of Wang et al.'s released epsilons


def _released_class_aware_nll(
    logits: torch.Tensor, masked: torch.Tensor, targets: torch.Tensor, valid: Optional[torch.Tensor]
) -> torch.Tensor:
    """-log(exp(z_y) / (sum_present exp(z) + eps) + eps) per pixel, as logaddexps (no overflow). z_y is the
    unmasked logit: the released code normalizes every class, an untagged one too."""
    log_epsilon = torch.full((), math.log(_RELEASED_EPSILON), dtype=masked.dtype, device=masked.device)
    log_p_y = target_log_prob(logits, targets, valid) - torch.logaddexp(torch.logsumexp(masked, dim=1), log_epsilon)
    return -torch.logaddexp(log_p_y, log_epsilon)


register_loss("cce", class_aware_cross_entropy, kind=DENSE, needs_image_tags=True, released_epsilons=boolean)


# ------------------------------------------------------------------------------------------- focal
def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: FocalAlpha = None,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Softmax focal loss (Lin et al. 2017): alpha_y * (1 - p_y)^gamma * CE, for (N, C) or (N, C, H, W).
    alpha: None (1), a scalar, or C per-class weights indexed by the target."""
    name = "focal_loss"
    valid = check_loss_inputs(logits, targets, name, ignore_index=ignore_index, weight=weight)
    num_classes = logits.shape[1]
    log_p_y = target_log_prob(F.log_softmax(compute_dtype_logits(logits), dim=1), targets, valid)
    # Clamped so that gamma < 1 has a finite gradient where p_y == 1 (the true derivative there is 0).
    modulating = (-torch.expm1(log_p_y)).clamp_min(torch.finfo(log_p_y.dtype).tiny).pow(gamma)
    loss = modulating * -log_p_y
    if alpha is not None:
        if isinstance(alpha, numbers.Real):
            loss = loss * alpha
        else:
            class_alpha = torch.as_tensor(alpha, dtype=loss.dtype, device=loss.device).reshape(-1)
            if class_alpha.numel() != num_classes:
                raise ValueError(
                    f"{name}: alpha has {class_alpha.numel()} per-class weights but logits have {num_classes} classes"
                )
            loss = loss * class_alpha[safe_targets(targets, valid)]
    return nan_if_nonfinite(reduce_loss(loss, reduction, valid=valid, weight=weight), logits)


register_loss(
    "focal",
    focal_loss,
    kind=CLASSIFICATION_OR_DENSE,
    gamma=non_negative,
    alpha=optional(either(non_negative, sequence_of(non_negative))),
)


# -------------------------------------------------------------------------------------------- dice
def dice_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    smooth: float = 1.0,
    pooled: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Soft multi-class Dice on softmax probabilities, per class over the whole batch:
    loss_c = 1 - (2 sum p_c [y=c] + smooth) / (sum p_c + sum [y=c] + smooth), sums over non-ignored pixels.
    "none" gives the (C,) per-class losses, "mean"/"sum" reduce over classes (absent classes count,
    with a loss near 0 when they are also not predicted).

    pooled: one Dice over all classes at once, as carpartssegment's DiceLoss computes it (probabilities and one-hot
    targets flattened together; github.com/derby-ding/carpartssegment, utils/losses.py). A pixel's probabilities sum
    to 1, so over the N non-ignored pixels that is (N - sum p_y) / (N + smooth / 2): mean(1 - p_y), half of MAE, a
    bounded loss that, unlike the per-class form (the usual multi-class Dice, the default), does not weight small
    classes up. One value for every reduction. (The seed counts its ignored pixels as the batch's lowest label.)"""
    name = "dice_loss"
    valid = check_loss_inputs(logits, targets, name, ignore_index=ignore_index, kind=DENSE)
    num_classes = logits.shape[1]
    probs = F.softmax(compute_dtype_logits(logits), dim=1)
    kept_targets = safe_targets(targets, valid)
    counted = torch.ones_like(kept_targets, dtype=probs.dtype)
    if valid is not None:
        # Ignored pixels get all-zero probabilities, so they add to neither the intersection nor the sums.
        probs = torch.where(valid.unsqueeze(1), probs, torch.zeros((), dtype=probs.dtype, device=probs.device))
        counted = valid.to(probs.dtype)
    # scatter_add, not bincount or boolean indexing: both read sizes back from the device (a host sync)
    target_counts = torch.zeros(num_classes, dtype=probs.dtype, device=probs.device).scatter_add(
        0, kept_targets.reshape(-1), counted.reshape(-1)
    )
    p_y = probs.gather(1, kept_targets.unsqueeze(1)).reshape(-1)
    intersection = torch.zeros(num_classes, dtype=probs.dtype, device=probs.device).scatter_add(
        0, kept_targets.reshape(-1), p_y
    )
    prob_sums = probs.sum(dim=[d for d in range(probs.dim()) if d != 1])
    if pooled:
        pooled_loss = 1.0 - (2.0 * intersection.sum() + smooth) / (prob_sums.sum() + target_counts.sum() + smooth)
        return nan_if_nonfinite(pooled_loss, logits)
    per_class = 1.0 - (2.0 * intersection + smooth) / (prob_sums + target_counts + smooth)
    if reduction != "none":
        per_class = per_class.mean() if reduction == "mean" else per_class.sum()
    return nan_if_nonfinite(per_class, logits)


register_loss("dice", dice_loss, kind=DENSE, smooth=positive, pooled=boolean)


def ce_dice_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    smooth: float = 1.0,
    pooled: bool = False,
    ce_weight: float = 1.0,
    dice_weight: float = 1.0,
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Scalar ce_weight * CE (mean over non-ignored pixels, `weight` (N, H, W) applies here only)
    + dice_weight * dice_loss (mean over classes; pooled: the Dice of carpartssegment's CE_DiceLoss, see dice_loss)."""
    ce = cross_entropy(logits, targets, ignore_index=ignore_index, weight=weight)
    dice = dice_loss(logits, targets, ignore_index=ignore_index, smooth=smooth, pooled=pooled)
    return ce_weight * ce + dice_weight * dice


register_loss(
    "ce_dice",
    ce_dice_loss,
    kind=DENSE,
    smooth=positive,
    pooled=boolean,
    ce_weight=non_negative,
    dice_weight=non_negative,
)
