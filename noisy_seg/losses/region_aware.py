"""Region-aware loss of the carpartssegment seed: a confusion-matrix-corrected MAE-like term plus a damped CE,
weighted up on the foreground. The confusion matrix is an EMA kept (without gradient) by `RegionAwareLoss`.

Fixes over the seed: the ignore label is honoured, the matrix starts at the identity and is updated only in
training mode, after the loss of the batch is computed (the batch's own labels do not reweight it).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ._validate import (
    check_ignore_index,
    check_logits_targets,
    check_loss_inputs,
    check_non_negative,
    check_reduction_and_ignore_index,
    check_weight_shape,
    compute_dtype_logits,
    nan_if_nonfinite,
    options_checked_by,
    reduce_loss,
    safe_targets,
    target_log_prob,
    valid_mask,
)
from .registry import register_loss

_NAME = "region_aware_loss"


def _check_region_aware(name: str, background_index: int, foreground_weight: float, background_weight: float,
                        ce_factor: float, reduction: str, ignore_index: Optional[int]) -> None:
    if isinstance(background_index, bool) or not isinstance(background_index, int) or background_index < 0:
        raise ValueError(f"{name}: background_index must be an int >= 0, got {background_index!r}")
    check_non_negative(foreground_weight, "foreground_weight", name)
    check_non_negative(background_weight, "background_weight", name)
    check_non_negative(ce_factor, "ce_factor", name)
    check_reduction_and_ignore_index(name, reduction, ignore_index)


def _check_momentum(momentum: float, name: str) -> None:
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
        raise ValueError(f"{name}: momentum (weight of the old matrix) must lie in [0, 1), got {momentum!r}")


@options_checked_by(_check_region_aware)
def region_aware_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    confusion: torch.Tensor,
    *,
    background_index: int = 0,
    foreground_weight: float = 1.0,
    background_weight: float = 0.4,
    ce_factor: float = 0.7,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Per pixel: omega * max(0, 1 - sum_j p_j W[j, y]) / C + ce_factor * omega * CE, with W = confusion
    (C, C), W[j, i] = P(true = j | pred = i) (no gradient), omega = foreground_weight where
    y != background_index, background_weight elsewhere. logits (N, C, H, W), targets (N, H, W).
    A non-finite confusion matrix gives a NaN loss (it is the module's own state: checked without a sync)."""
    check_logits_targets(logits, targets, _NAME, ignore_index=ignore_index, dense_only=True)
    check_weight_shape(weight, targets, _NAME)
    num_classes = logits.shape[1]
    if background_index >= num_classes:
        raise ValueError(f"{_NAME}: background_index={background_index} must be < C={num_classes}")
    if not isinstance(confusion, torch.Tensor) or not confusion.is_floating_point():
        raise ValueError(f"{_NAME}: confusion must be a floating (C, C) tensor, got {type(confusion).__name__}")
    if tuple(confusion.shape) != (num_classes, num_classes):
        raise ValueError(f"{_NAME}: confusion shape {tuple(confusion.shape)} must be (C, C) = "
                         f"{(num_classes, num_classes)}")
    if confusion.device != logits.device:
        raise ValueError(f"{_NAME}: confusion on {confusion.device} but logits on {logits.device}; move them together")
    valid = valid_mask(targets, ignore_index)

    log_probs = F.log_softmax(compute_dtype_logits(logits), dim=1)
    log_p_y = target_log_prob(log_probs, targets, valid)
    # column_y[n, ..., j] = W[j, y[n, ...]]: gathered per pixel, no per-pixel matmul (which autocast would
    # also run in bf16).
    column_y = confusion.detach().to(log_probs.dtype).t()[safe_targets(targets, valid)]
    corrected_agreement = (log_probs.exp().movedim(1, -1) * column_y).sum(dim=-1)
    omega = torch.where(targets != background_index,
                        torch.full((), foreground_weight, dtype=log_p_y.dtype, device=log_p_y.device),
                        torch.full((), background_weight, dtype=log_p_y.dtype, device=log_p_y.device))
    loss = omega * ((1.0 - corrected_agreement).clamp_min(0.0) / num_classes + ce_factor * -log_p_y)
    loss = nan_if_nonfinite(reduce_loss(loss, reduction, valid=valid, weight=weight), confusion)
    return nan_if_nonfinite(loss, logits)


@torch.no_grad()
def confusion_ema_update(
    confusion: torch.Tensor,
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    momentum: float,
    ignore_index: Optional[int] = 255,
    all_reduce: bool = False,
) -> torch.Tensor:
    """New (C, C) matrix: for each predicted class i seen in the batch (argmax over non-ignored pixels),
    column i becomes momentum * W[:, i] + (1 - momentum) * P_batch(label = j | pred = i); unseen columns keep
    their value. all_reduce: sum the counts over torch.distributed processes first (when initialized)."""
    name = "confusion_ema_update"
    _check_momentum(momentum, name)
    check_ignore_index(ignore_index, name)
    valid = check_loss_inputs(logits, targets, name, ignore_index=ignore_index)
    num_classes = logits.shape[1]
    if not isinstance(confusion, torch.Tensor) or not confusion.is_floating_point():
        raise ValueError(f"{name}: confusion must be a floating (C, C) tensor, got {type(confusion).__name__}")
    if tuple(confusion.shape) != (num_classes, num_classes):
        raise ValueError(f"{name}: confusion shape {tuple(confusion.shape)} must be (C, C) = "
                         f"{(num_classes, num_classes)}")
    predicted = logits.max(dim=1).indices  # same first-max ties as argmax, ~4x faster on CPU over axis 1
    labels = safe_targets(targets, valid)
    counted = torch.ones_like(labels) if valid is None else valid.long()
    # counts[j, i] = #pixels with label j predicted as i; scatter_add, not bincount or boolean indexing,
    # which read sizes back from the device (a host sync per step)
    counts = torch.zeros(num_classes ** 2, dtype=torch.long, device=labels.device).scatter_add_(
        0, (labels * num_classes + predicted).reshape(-1), counted.reshape(-1))
    if all_reduce and dist.is_available() and dist.is_initialized():
        dist.all_reduce(counts)  # int64 counts: exact, and supported by every backend
    # float32 at least (a half-precision buffer would overflow the counts); not float64, which MPS lacks.
    compute_dtype = torch.float64 if confusion.dtype == torch.float64 else torch.float32
    counts = counts.view(num_classes, num_classes).to(compute_dtype)
    old_matrix = confusion.to(compute_dtype)
    predicted_totals = counts.sum(dim=0, keepdim=True)
    batch_estimate = counts / predicted_totals.clamp_min(1.0)
    blended = momentum * old_matrix + (1.0 - momentum) * batch_estimate
    return torch.where(predicted_totals > 0, blended, old_matrix).to(confusion.dtype)


@register_loss("region_aware")
class RegionAwareLoss(nn.Module):
    """Holds the confusion EMA as buffer `confusion` (C x C, starts at the identity, saved in checkpoints).
    forward computes `region_aware_loss` with the current matrix, then, in training mode only, updates it
    (counts summed over processes under torch.distributed)."""

    def __init__(self, *, num_classes: int, background_index: int = 0, momentum: float = 0.99,
                 foreground_weight: float = 1.0, background_weight: float = 0.4, ce_factor: float = 0.7,
                 ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"RegionAwareLoss: num_classes must be an int >= 2, got {num_classes!r}")
        _check_region_aware("RegionAwareLoss", background_index, foreground_weight, background_weight, ce_factor,
                            reduction, ignore_index)
        if background_index >= num_classes:
            raise ValueError(f"RegionAwareLoss: background_index={background_index} must be < num_classes="
                             f"{num_classes}")
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError(f"RegionAwareLoss: ignore_index={ignore_index} is a real class for {num_classes} "
                             f"classes; pass None or a negative value")
        _check_momentum(momentum, "RegionAwareLoss")
        self.num_classes, self.background_index, self.momentum = num_classes, background_index, momentum
        self.foreground_weight, self.background_weight = foreground_weight, background_weight
        self.ce_factor, self.ignore_index, self.reduction = ce_factor, ignore_index, reduction
        self.register_buffer("confusion", torch.eye(num_classes))

    def forward(self, logits, targets, weight=None):
        loss = region_aware_loss.__wrapped__(logits, targets, self.confusion, background_index=self.background_index,
                                 foreground_weight=self.foreground_weight,
                                 background_weight=self.background_weight, ce_factor=self.ce_factor,
                                 ignore_index=self.ignore_index, reduction=self.reduction, weight=weight)
        if self.training:
            self.confusion.copy_(confusion_ema_update(self.confusion, logits.detach(), targets,
                                                      momentum=self.momentum, ignore_index=self.ignore_index,
                                                      all_reduce=True))
        return loss

    def extra_repr(self) -> str:
        return (f"num_classes={self.num_classes}, background_index={self.background_index}, "
                f"momentum={self.momentum}, foreground_weight={self.foreground_weight}, "
                f"background_weight={self.background_weight}, ce_factor={self.ce_factor}, "
                f"ignore_index={self.ignore_index}, reduction={self.reduction!r}")
