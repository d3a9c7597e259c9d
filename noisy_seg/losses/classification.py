"""Noise-robust classification losses on logits: CE, RCE, SCE, MAE, NCE, NCE+RCE, GCE.

Logits are (N, C) with targets (N,), or dense (N, C, H, W) with targets (N, H, W): the class axis is 1.
Targets equal to `ignore_index` (None disables it) contribute 0 and no gradient. An optional `weight`
shaped like targets multiplies the per-element loss; "mean" divides by the number of non-ignored elements
(not by the sum of weights); an empty batch gives 0. Softmax runs in float32 for fp16/bf16 logits.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import (
    check_ignore_index,
    check_label_floor,
    check_logits_targets,
    check_non_negative,
    check_reduction,
    check_weight_shape,
    compute_dtype_logits,
    raise_if_any,
    reduce_loss,
    target_and_weight_checks,
    target_log_prob,
    valid_mask,
)
from .registry import register_loss


def _prepare(
    logits: torch.Tensor,
    targets: torch.Tensor,
    name: str,
    ignore_index: Optional[int],
    weight: Optional[torch.Tensor],
) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Validate, then return (log_softmax over axis 1, log p_y, valid mask or None)."""
    check_logits_targets(logits, targets, name, ignore_index=ignore_index)
    check_weight_shape(weight, targets, name)
    valid = valid_mask(targets, ignore_index)
    raise_if_any(target_and_weight_checks(targets, logits.shape[1], name, ignore_index=ignore_index, valid=valid,
                                          weight=weight))
    log_probs = F.log_softmax(compute_dtype_logits(logits), dim=1)
    return log_probs, target_log_prob(log_probs, targets, valid), valid


def _one_minus_exp(log_p: torch.Tensor) -> torch.Tensor:
    """1 - exp(log_p), exact near log_p = 0 (where 1 - p_y would cancel)."""
    return -torch.expm1(log_p)


def _check_common(name: str, reduction: str, ignore_index: Optional[int]) -> None:
    check_reduction(reduction, name)
    check_ignore_index(ignore_index, name)


def _check_sce(alpha: float, beta: float, label_floor: float, reduction: str, ignore_index: Optional[int]) -> None:
    name = "symmetric_cross_entropy"
    check_non_negative(alpha, "alpha", name)
    check_non_negative(beta, "beta", name)
    check_label_floor(label_floor, name)
    _check_common(name, reduction, ignore_index)


def _check_nce_rce(alpha: float, beta: float, label_floor: float, reduction: str, ignore_index: Optional[int]) -> None:
    name = "nce_rce"
    check_non_negative(alpha, "alpha", name)
    check_non_negative(beta, "beta", name)
    check_label_floor(label_floor, name)
    _check_common(name, reduction, ignore_index)


def _check_gce(q: float, reduction: str, ignore_index: Optional[int]) -> None:
    name = "generalized_cross_entropy"
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
        raise ValueError(f"{name}: q must lie in (0, 1] (q -> 0 is CE, q = 1 is MAE/2), got {q!r}")
    _check_common(name, reduction, ignore_index)


def cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Softmax cross entropy. Without `weight` this is `F.cross_entropy` itself (bit-identical), except that
    "mean" over zero valid targets returns 0 instead of nan."""
    name = "cross_entropy"
    _check_common(name, reduction, ignore_index)
    check_logits_targets(logits, targets, name, ignore_index=ignore_index)
    check_weight_shape(weight, targets, name)
    valid = valid_mask(targets, ignore_index)
    raise_if_any(target_and_weight_checks(targets, logits.shape[1], name, ignore_index=ignore_index, valid=valid,
                                          weight=weight))
    torch_ignore = -100 if ignore_index is None else ignore_index
    logits_c, targets_l = compute_dtype_logits(logits), targets.long()
    if weight is None:
        loss = F.cross_entropy(logits_c, targets_l, ignore_index=torch_ignore, reduction=reduction)
        if reduction != "mean":
            return loss
        if targets.numel() == 0:
            return logits_c.sum() * 0.0
        if valid is None:
            return loss
        return torch.where(valid.any(), loss, torch.zeros_like(loss))
    per_element = F.cross_entropy(logits_c, targets_l, ignore_index=torch_ignore, reduction="none")
    return reduce_loss(per_element, reduction, valid=valid, weight=weight)


def reverse_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    label_floor: float = 1e-4,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """RCE = -sum_k p_k log(clamp(onehot(y), label_floor, 1)_k) = -log(label_floor) * (1 - p_y)."""
    name = "reverse_cross_entropy"
    check_label_floor(label_floor, name)
    _check_common(name, reduction, ignore_index)
    _, log_p_y, valid = _prepare(logits, targets, name, ignore_index, weight)
    loss = -math.log(label_floor) * _one_minus_exp(log_p_y)
    return reduce_loss(loss, reduction, valid=valid, weight=weight)


def symmetric_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float,
    beta: float,
    label_floor: float = 1e-4,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """SCE (Wang et al. 2019) = alpha * CE + beta * RCE; CE from log_softmax, RCE against the floored one-hot."""
    _check_sce(alpha, beta, label_floor, reduction, ignore_index)
    _, log_p_y, valid = _prepare(logits, targets, "symmetric_cross_entropy", ignore_index, weight)
    loss = alpha * -log_p_y + beta * -math.log(label_floor) * _one_minus_exp(log_p_y)
    return reduce_loss(loss, reduction, valid=valid, weight=weight)


def mean_absolute_error(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """MAE = sum_k |p_k - onehot(y)_k| = 2 * (1 - p_y)."""
    name = "mean_absolute_error"
    _check_common(name, reduction, ignore_index)
    _, log_p_y, valid = _prepare(logits, targets, name, ignore_index, weight)
    return reduce_loss(2.0 * _one_minus_exp(log_p_y), reduction, valid=valid, weight=weight)


def _normalized_ce_terms(log_probs: torch.Tensor, log_p_y: torch.Tensor) -> torch.Tensor:
    # CE(y) / sum_k CE(k); the denominator is >= C log C > 0, so this is always finite.
    return log_p_y / log_probs.sum(dim=1)


def normalized_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """NCE (Ma et al. 2020) = -log p_y / sum_k -log p_k, in (0, 1]."""
    name = "normalized_cross_entropy"
    _check_common(name, reduction, ignore_index)
    log_probs, log_p_y, valid = _prepare(logits, targets, name, ignore_index, weight)
    return reduce_loss(_normalized_ce_terms(log_probs, log_p_y), reduction, valid=valid, weight=weight)


def nce_rce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    label_floor: float = 1e-4,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Active-passive loss (Ma et al. 2020): alpha * NCE + beta * RCE."""
    _check_nce_rce(alpha, beta, label_floor, reduction, ignore_index)
    log_probs, log_p_y, valid = _prepare(logits, targets, "nce_rce", ignore_index, weight)
    loss = (alpha * _normalized_ce_terms(log_probs, log_p_y)
            + beta * -math.log(label_floor) * _one_minus_exp(log_p_y))
    return reduce_loss(loss, reduction, valid=valid, weight=weight)


def generalized_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    q: float,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """GCE (Zhang & Sabuncu 2018) = (1 - p_y^q) / q, q in (0, 1]; p_y^q = exp(q log p_y), via expm1 so that
    small q stays accurate (q -> 0 is CE)."""
    _check_gce(q, reduction, ignore_index)
    _, log_p_y, valid = _prepare(logits, targets, "generalized_cross_entropy", ignore_index, weight)
    return reduce_loss(_one_minus_exp(q * log_p_y) / q, reduction, valid=valid, weight=weight)


# ----------------------------------------------------------------------------------------------- modules
@register_loss("ce")
class CrossEntropy(nn.Module):
    """Module form of `cross_entropy`; forward(logits, targets, weight=None)."""

    def __init__(self, *, ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        _check_common("CrossEntropy", reduction, ignore_index)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logits, targets, weight=None):
        return cross_entropy(logits, targets, ignore_index=self.ignore_index, reduction=self.reduction, weight=weight)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


@register_loss("rce")
class ReverseCrossEntropy(nn.Module):
    """Module form of `reverse_cross_entropy`; forward(logits, targets, weight=None)."""

    def __init__(self, *, label_floor: float = 1e-4, ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        check_label_floor(label_floor, "ReverseCrossEntropy")
        _check_common("ReverseCrossEntropy", reduction, ignore_index)
        self.label_floor, self.ignore_index, self.reduction = label_floor, ignore_index, reduction

    def forward(self, logits, targets, weight=None):
        return reverse_cross_entropy(logits, targets, label_floor=self.label_floor, ignore_index=self.ignore_index,
                                     reduction=self.reduction, weight=weight)

    def extra_repr(self) -> str:
        return f"label_floor={self.label_floor}, ignore_index={self.ignore_index}, reduction={self.reduction!r}"


@register_loss("sce")
class SymmetricCrossEntropy(nn.Module):
    """Module form of `symmetric_cross_entropy`; forward(logits, targets, weight=None)."""

    def __init__(self, *, alpha: float, beta: float, label_floor: float = 1e-4,
                 ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        _check_sce(alpha, beta, label_floor, reduction, ignore_index)
        self.alpha, self.beta, self.label_floor = alpha, beta, label_floor
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logits, targets, weight=None):
        return symmetric_cross_entropy(logits, targets, alpha=self.alpha, beta=self.beta,
                                       label_floor=self.label_floor, ignore_index=self.ignore_index,
                                       reduction=self.reduction, weight=weight)

    def extra_repr(self) -> str:
        return (f"alpha={self.alpha}, beta={self.beta}, label_floor={self.label_floor}, "
                f"ignore_index={self.ignore_index}, reduction={self.reduction!r}")


@register_loss("mae")
class MeanAbsoluteError(nn.Module):
    """Module form of `mean_absolute_error`; forward(logits, targets, weight=None)."""

    def __init__(self, *, ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        _check_common("MeanAbsoluteError", reduction, ignore_index)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logits, targets, weight=None):
        return mean_absolute_error(logits, targets, ignore_index=self.ignore_index, reduction=self.reduction,
                                   weight=weight)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


@register_loss("nce")
class NormalizedCrossEntropy(nn.Module):
    """Module form of `normalized_cross_entropy`; forward(logits, targets, weight=None)."""

    def __init__(self, *, ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        _check_common("NormalizedCrossEntropy", reduction, ignore_index)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logits, targets, weight=None):
        return normalized_cross_entropy(logits, targets, ignore_index=self.ignore_index, reduction=self.reduction,
                                        weight=weight)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


@register_loss("nce_rce")
class NCEandRCE(nn.Module):
    """Module form of `nce_rce`; forward(logits, targets, weight=None)."""

    def __init__(self, *, alpha: float = 1.0, beta: float = 1.0, label_floor: float = 1e-4,
                 ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        _check_nce_rce(alpha, beta, label_floor, reduction, ignore_index)
        self.alpha, self.beta, self.label_floor = alpha, beta, label_floor
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logits, targets, weight=None):
        return nce_rce(logits, targets, alpha=self.alpha, beta=self.beta, label_floor=self.label_floor,
                       ignore_index=self.ignore_index, reduction=self.reduction, weight=weight)

    def extra_repr(self) -> str:
        return (f"alpha={self.alpha}, beta={self.beta}, label_floor={self.label_floor}, "
                f"ignore_index={self.ignore_index}, reduction={self.reduction!r}")


@register_loss("gce")
class GeneralizedCrossEntropy(nn.Module):
    """Module form of `generalized_cross_entropy`; forward(logits, targets, weight=None)."""

    def __init__(self, *, q: float, ignore_index: Optional[int] = 255, reduction: str = "mean"):
        super().__init__()
        _check_gce(q, reduction, ignore_index)
        self.q, self.ignore_index, self.reduction = q, ignore_index, reduction

    def forward(self, logits, targets, weight=None):
        return generalized_cross_entropy(logits, targets, q=self.q, ignore_index=self.ignore_index,
                                         reduction=self.reduction, weight=weight)

    def extra_repr(self) -> str:
        return f"q={self.q}, ignore_index={self.ignore_index}, reduction={self.reduction!r}"
