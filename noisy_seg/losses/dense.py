"""Dense (semantic segmentation) losses: class-aware CE, focal, soft Dice, CE + Dice.

Logits (N, C, H, W), targets (N, H, W) with `ignore_index` (default 255, None disables). Focal also takes
classification logits (N, C). Ignored pixels contribute nothing to values or gradients; "mean" averages over
non-ignored pixels; softmax runs in float32 for fp16/bf16 logits.
"""
from __future__ import annotations

import numbers
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import (
    check_ignore_index,
    check_logits_targets,
    check_non_negative,
    check_positive,
    check_reduction,
    check_weight_shape,
    compute_dtype_logits,
    raise_if_any,
    reduce_loss,
    target_and_weight_checks,
    target_log_prob,
    valid_mask,
)
from .classification import cross_entropy
from .registry import register_loss

FocalAlpha = Union[None, float, Sequence[float], torch.Tensor]


def _check_common(name: str, reduction: str, ignore_index: Optional[int]) -> None:
    check_reduction(reduction, name)
    check_ignore_index(ignore_index, name)


# ------------------------------------------------------------------------------------ class-aware CE
def present_classes(targets: torch.Tensor, num_classes: int, *, ignore_index: Optional[int] = 255) -> torch.Tensor:
    """(N, num_classes) bool image-level tags: the classes that occur in each image's non-ignored targets."""
    if not isinstance(targets, torch.Tensor) or targets.dim() < 1 or targets.is_floating_point():
        raise ValueError("present_classes: targets must be an integer tensor (N, H, W)")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"present_classes: num_classes must be a positive int, got {num_classes!r}")
    flat = targets.reshape(targets.shape[0], -1).long()
    valid = (flat >= 0) & (flat < num_classes)
    unexpected = ~valid if ignore_index is None else ~valid & (flat != ignore_index)
    raise_if_any([(unexpected.any(), f"present_classes: targets must lie in [0, {num_classes}) or equal "
                                     f"ignore_index={ignore_index}")])
    # Ignored pixels are scattered into an extra column that is dropped afterwards.
    index = torch.where(valid, flat, torch.full_like(flat, num_classes))
    tags = torch.zeros(flat.shape[0], num_classes + 1, dtype=torch.bool, device=flat.device)
    tags.scatter_(1, index, True)
    return tags[:, :num_classes]


def class_aware_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    present: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """CCE (Wang et al. 2022): cross entropy with the softmax restricted to each image's present classes,
    log_softmax(z.masked_fill(~present[:, :, None, None], -inf)). present (N, C) bool.
    A non-ignored pixel whose class is not tagged present raises ValueError (its loss would be +inf; silently
    ignoring it would hide a tag/label mismatch), as does an image with no present class."""
    name = "class_aware_cross_entropy"
    _check_common(name, reduction, ignore_index)
    check_logits_targets(logits, targets, name, ignore_index=ignore_index, dense_only=True)
    check_weight_shape(weight, targets, name)
    num_images, num_classes = logits.shape[:2]
    if not isinstance(present, torch.Tensor) or present.dtype != torch.bool:
        raise ValueError(f"{name}: present must be a bool tensor (N, C) of image-level tags, got "
                         f"{getattr(present, 'dtype', type(present).__name__)}")
    if tuple(present.shape) != (num_images, num_classes):
        raise ValueError(f"{name}: present shape {tuple(present.shape)} must be (N, C) = {(num_images, num_classes)}")
    if present.device != logits.device:
        raise ValueError(f"{name}: present on {present.device} but logits on {logits.device}; move them together")

    valid = valid_mask(targets, ignore_index)
    # Range first: the tag lookup below indexes with the targets.
    raise_if_any(target_and_weight_checks(targets, num_classes, name, ignore_index=ignore_index, valid=valid,
                                          weight=weight))
    safe_targets = targets.long() if valid is None else targets.long().masked_fill(~valid, 0)
    target_present = present.gather(1, safe_targets.reshape(num_images, -1)).view_as(targets)
    untagged = ~target_present if valid is None else valid & ~target_present
    raise_if_any([
        ((~present.any(dim=1)).any(), f"{name}: every image needs at least one present class; found an all-False "
                                      f"row in present"),
        (untagged.any(), f"{name}: some non-ignored pixels have a class that present marks absent; fix the tags "
                         f"or set those pixels to ignore_index"),
    ])
    spatial = (1,) * (logits.dim() - 2)
    masked = compute_dtype_logits(logits).masked_fill(~present.view(num_images, num_classes, *spatial),
                                                      float("-inf"))
    loss = -target_log_prob(F.log_softmax(masked, dim=1), targets, valid)
    return reduce_loss(loss, reduction, valid=valid, weight=weight)


# ------------------------------------------------------------------------------------------- focal
def _check_focal(gamma: float, alpha: FocalAlpha, reduction: str, ignore_index: Optional[int]) -> None:
    name = "focal_loss"
    check_non_negative(gamma, "gamma", name)
    if alpha is not None and not isinstance(alpha, (int, float)):
        values = alpha.detach().cpu().reshape(-1).tolist() if isinstance(alpha, torch.Tensor) else list(alpha)
        if not values or not all(isinstance(v, numbers.Real) and v >= 0 for v in values):
            raise ValueError(f"{name}: alpha must be None, a number >= 0 or a sequence of per-class weights >= 0, "
                             f"got {alpha!r}")
    elif alpha is not None:
        check_non_negative(alpha, "alpha", name)
    _check_common(name, reduction, ignore_index)


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
    _check_focal(gamma, alpha, reduction, ignore_index)
    check_logits_targets(logits, targets, name, ignore_index=ignore_index)
    check_weight_shape(weight, targets, name)
    num_classes = logits.shape[1]
    valid = valid_mask(targets, ignore_index)
    raise_if_any(target_and_weight_checks(targets, num_classes, name, ignore_index=ignore_index, valid=valid,
                                          weight=weight))
    log_p_y = target_log_prob(F.log_softmax(compute_dtype_logits(logits), dim=1), targets, valid)
    # Clamped so that gamma < 1 has a finite gradient where p_y == 1 (the true derivative there is 0).
    modulating = (-torch.expm1(log_p_y)).clamp_min(torch.finfo(log_p_y.dtype).tiny).pow(gamma)
    loss = modulating * -log_p_y
    if alpha is not None:
        if isinstance(alpha, (int, float)):
            loss = loss * alpha
        else:
            class_alpha = torch.as_tensor(alpha, dtype=loss.dtype, device=loss.device).reshape(-1)
            if class_alpha.numel() != num_classes:
                raise ValueError(f"{name}: alpha has {class_alpha.numel()} per-class weights but logits have "
                                 f"{num_classes} classes")
            safe_targets = targets.long() if valid is None else targets.long().masked_fill(~valid, 0)
            loss = loss * class_alpha[safe_targets]
    return reduce_loss(loss, reduction, valid=valid, weight=weight)


# -------------------------------------------------------------------------------------------- dice
def _check_dice(smooth: float, reduction: str, ignore_index: Optional[int]) -> None:
    check_positive(smooth, "smooth", "dice_loss")
    _check_common("dice_loss", reduction, ignore_index)


def dice_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    smooth: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Soft multi-class Dice on softmax probabilities, per class over the whole batch:
    loss_c = 1 - (2 sum p_c [y=c] + smooth) / (sum p_c + sum [y=c] + smooth), sums over non-ignored pixels.
    "none" gives the (C,) per-class losses, "mean"/"sum" reduce over classes (absent classes count,
    with a loss near 0 when they are also not predicted)."""
    name = "dice_loss"
    _check_dice(smooth, reduction, ignore_index)
    check_logits_targets(logits, targets, name, ignore_index=ignore_index, dense_only=True)
    num_classes = logits.shape[1]
    valid = valid_mask(targets, ignore_index)
    raise_if_any(target_and_weight_checks(targets, num_classes, name, ignore_index=ignore_index, valid=valid))
    probs = F.softmax(compute_dtype_logits(logits), dim=1)
    safe_targets = targets.long()
    if valid is not None:
        # Ignored pixels get all-zero probabilities, so they add to neither the intersection nor the sums.
        probs = torch.where(valid.unsqueeze(1), probs, torch.zeros((), dtype=probs.dtype, device=probs.device))
        safe_targets = safe_targets.masked_fill(~valid, 0)
        target_counts = torch.bincount(safe_targets[valid], minlength=num_classes)
    else:
        target_counts = torch.bincount(safe_targets.reshape(-1), minlength=num_classes)
    p_y = probs.gather(1, safe_targets.unsqueeze(1)).reshape(-1)
    intersection = torch.zeros(num_classes, dtype=probs.dtype, device=probs.device).scatter_add(
        0, safe_targets.reshape(-1), p_y)
    prob_sums = probs.sum(dim=[d for d in range(probs.dim()) if d != 1])
    target_counts = target_counts.to(probs.dtype)
    per_class = 1.0 - (2.0 * intersection + smooth) / (prob_sums + target_counts + smooth)
    if reduction == "none":
        return per_class
    return per_class.mean() if reduction == "mean" else per_class.sum()


def ce_dice_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    smooth: float = 1.0,
    ce_weight: float = 1.0,
    dice_weight: float = 1.0,
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Scalar ce_weight * CE (mean over non-ignored pixels, `weight` (N, H, W) applies here only)
    + dice_weight * dice_loss (mean over classes)."""
    check_non_negative(ce_weight, "ce_weight", "ce_dice_loss")
    check_non_negative(dice_weight, "dice_weight", "ce_dice_loss")
    ce = cross_entropy(logits, targets, ignore_index=ignore_index, weight=weight)
    return ce_weight * ce + dice_weight * dice_loss(logits, targets, ignore_index=ignore_index, smooth=smooth)


# ----------------------------------------------------------------------------------------- modules
def _reject_weight(weight: Optional[torch.Tensor], name: str) -> None:
    if weight is not None:
        raise ValueError(f"{name}: per-pixel weight is not supported (the loss is not a sum over pixels); "
                         f"pass weight=None")


@register_loss("cce")
class ClassAwareCrossEntropy(nn.Module):
    """forward(logits, targets, weight=None, present=None): without `present` the tags are the classes that
    occur in each image's targets (the strongly labelled case of Wang et al. 2022)."""

    def __init__(self, *, ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        _check_common("ClassAwareCrossEntropy", reduction, ignore_index)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logits, targets, weight=None, present=None):
        if present is None:
            present = present_classes(targets, logits.shape[1], ignore_index=self.ignore_index)
        return class_aware_cross_entropy(logits, targets, present, ignore_index=self.ignore_index,
                                         reduction=self.reduction, weight=weight)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


@register_loss("focal")
class FocalLoss(nn.Module):
    """Module form of `focal_loss`; forward(logits, targets, weight=None)."""

    def __init__(self, *, gamma: float = 2.0, alpha: FocalAlpha = None, ignore_index: Optional[int] = 255,
                 reduction: str = "mean"):
        super().__init__()
        _check_focal(gamma, alpha, reduction, ignore_index)
        if alpha is not None and not isinstance(alpha, (int, float)):
            alpha = tuple(float(a) for a in (alpha.reshape(-1).tolist() if isinstance(alpha, torch.Tensor)
                                             else alpha))
        self.gamma, self.alpha, self.ignore_index, self.reduction = gamma, alpha, ignore_index, reduction

    def forward(self, logits, targets, weight=None):
        return focal_loss(logits, targets, gamma=self.gamma, alpha=self.alpha, ignore_index=self.ignore_index,
                          reduction=self.reduction, weight=weight)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, ignore_index={self.ignore_index}, reduction={self.reduction!r}"


@register_loss("dice")
class DiceLoss(nn.Module):
    """Module form of `dice_loss`; forward(logits, targets, weight=None), weight must stay None."""

    def __init__(self, *, ignore_index: Optional[int] = 255, smooth: float = 1.0, reduction: str = "mean"):
        super().__init__()
        _check_dice(smooth, reduction, ignore_index)
        self.ignore_index, self.smooth, self.reduction = ignore_index, smooth, reduction

    def forward(self, logits, targets, weight=None):
        _reject_weight(weight, "DiceLoss")
        return dice_loss(logits, targets, ignore_index=self.ignore_index, smooth=self.smooth,
                         reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, smooth={self.smooth}, reduction={self.reduction!r}"


@register_loss("ce_dice")
class CrossEntropyDiceLoss(nn.Module):
    """Module form of `ce_dice_loss`; forward(logits, targets, weight=None)."""

    def __init__(self, *, ignore_index: Optional[int] = 255, smooth: float = 1.0, ce_weight: float = 1.0,
                 dice_weight: float = 1.0):
        super().__init__()
        _check_dice(smooth, "mean", ignore_index)
        check_non_negative(ce_weight, "ce_weight", "CrossEntropyDiceLoss")
        check_non_negative(dice_weight, "dice_weight", "CrossEntropyDiceLoss")
        self.ignore_index, self.smooth = ignore_index, smooth
        self.ce_weight, self.dice_weight = ce_weight, dice_weight

    def forward(self, logits, targets, weight=None):
        return ce_dice_loss(logits, targets, ignore_index=self.ignore_index, smooth=self.smooth,
                            ce_weight=self.ce_weight, dice_weight=self.dice_weight, weight=weight)

    def extra_repr(self) -> str:
        return (f"ignore_index={self.ignore_index}, smooth={self.smooth}, ce_weight={self.ce_weight}, "
                f"dice_weight={self.dice_weight}")
