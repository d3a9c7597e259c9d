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

from ._validate import check_loss_inputs, compute_dtype_logits, nan_if_nonfinite, reduce_loss, target_log_prob
from .options import boolean, in_range, non_negative
from .registry import CLASSIFICATION_OR_DENSE, register_loss

# The floor of RCE's one-hot: log(label_floor) must be finite and negative (e.g. 1e-4).
label_floor_range = in_range(0, 1, low_open=True, high_open=True)


def _prepare(
    logits: torch.Tensor,
    targets: torch.Tensor,
    name: str,
    ignore_index: Optional[int],
    weight: Optional[torch.Tensor],
) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Validate, then return (log_softmax over axis 1, log p_y, valid mask or None)."""
    valid = check_loss_inputs(logits, targets, name, ignore_index=ignore_index, weight=weight)
    log_probs = F.log_softmax(compute_dtype_logits(logits), dim=1)
    return log_probs, target_log_prob(log_probs, targets, valid), valid


def _one_minus_exp(log_p: torch.Tensor) -> torch.Tensor:
    """1 - exp(log_p), exact near log_p = 0 (where 1 - p_y would cancel)."""
    return -torch.expm1(log_p)


def released_ce_rce(logits: torch.Tensor, targets: torch.Tensor, label_floor: float):
    """(CE, RCE) per sample exactly as Yang et al.'s released code computes them (logits (N, C), targets (N,)):
    p = clamp(softmax(z), 1e-7, 1), q = clamp(onehot(y), label_floor, 1), CE = -sum_k q_k log p_k,
    RCE = -sum_k p_k log q_k. The CE carries a small label smoothing: label_floor * sum_{k != y} -log p_k."""
    probs = F.softmax(compute_dtype_logits(logits), dim=1).clamp(min=1e-7, max=1.0)
    floored_onehot = torch.full_like(probs, label_floor).scatter_(1, targets.long().unsqueeze(1), 1.0)
    ce = -(floored_onehot * probs.log()).sum(dim=1)
    rce = -(probs * floored_onehot.log()).sum(dim=1)
    return ce, rce


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
    valid = check_loss_inputs(logits, targets, "cross_entropy", ignore_index=ignore_index, weight=weight)
    torch_ignore = -100 if ignore_index is None else ignore_index
    logits_c, targets_l = compute_dtype_logits(logits), targets.long()
    if weight is None:
        loss = F.cross_entropy(logits_c, targets_l, ignore_index=torch_ignore, reduction=reduction)
        if reduction == "mean" and targets.numel() == 0:
            loss = logits_c.sum() * 0.0
        elif reduction == "mean" and valid is not None:
            loss = torch.where(valid.any(), loss, torch.zeros_like(loss))
    else:
        per_element = F.cross_entropy(logits_c, targets_l, ignore_index=torch_ignore, reduction="none")
        loss = reduce_loss(per_element, reduction, valid=valid, weight=weight)
    return nan_if_nonfinite(loss, logits)


register_loss("ce", cross_entropy, kind=CLASSIFICATION_OR_DENSE)


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
    _, log_p_y, valid = _prepare(logits, targets, "reverse_cross_entropy", ignore_index, weight)
    loss = -math.log(label_floor) * _one_minus_exp(log_p_y)
    return nan_if_nonfinite(reduce_loss(loss, reduction, valid=valid, weight=weight), logits)


register_loss("rce", reverse_cross_entropy, kind=CLASSIFICATION_OR_DENSE, label_floor=label_floor_range)


def symmetric_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float,
    beta: float,
    label_floor: float = 1e-4,
    floored_ce: bool = False,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """SCE (Wang et al. 2019) = alpha * CE + beta * RCE; CE from log_softmax, RCE against the floored one-hot.
    floored_ce: both terms exactly as Yang et al.'s released code computes them (`released_ce_rce`: CE
    against the floored one-hot, probabilities clamped at 1e-7); classification logits (N, C) only."""
    name = "symmetric_cross_entropy"
    _, log_p_y, valid = _prepare(logits, targets, name, ignore_index, weight)
    if floored_ce:
        if logits.dim() != 2:
            raise ValueError(f"{name}: floored_ce takes classification logits (N, C), got {tuple(logits.shape)}")
        ce, rce = released_ce_rce(logits, targets.masked_fill(~valid, 0) if valid is not None else targets, label_floor)
        loss = alpha * ce + beta * rce
    else:
        loss = alpha * -log_p_y + beta * -math.log(label_floor) * _one_minus_exp(log_p_y)
    return nan_if_nonfinite(reduce_loss(loss, reduction, valid=valid, weight=weight), logits)


# No default alpha, beta: the published values differ by task, so none would be right for both heads.
register_loss(
    "sce",
    symmetric_cross_entropy,
    kind=CLASSIFICATION_OR_DENSE,
    alpha=non_negative,
    beta=non_negative,
    label_floor=label_floor_range,
    floored_ce=boolean,
    required_note="the published values differ by task: Yang et al.'s box classifier uses alpha=1.0, "
    "beta=0.1 (with floored_ce=True), the carpartssegment pixel recipe alpha=0.8, beta=0.2, "
    "Wang et al. tune them per dataset; give them in cls_loss_kwargs / loss_kwargs",
)


def mean_absolute_error(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """MAE = sum_k |p_k - onehot(y)_k| = 2 * (1 - p_y)."""
    _, log_p_y, valid = _prepare(logits, targets, "mean_absolute_error", ignore_index, weight)
    return nan_if_nonfinite(reduce_loss(2.0 * _one_minus_exp(log_p_y), reduction, valid=valid, weight=weight), logits)


register_loss("mae", mean_absolute_error, kind=CLASSIFICATION_OR_DENSE)


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
    log_probs, log_p_y, valid = _prepare(logits, targets, "normalized_cross_entropy", ignore_index, weight)
    loss = reduce_loss(_normalized_ce_terms(log_probs, log_p_y), reduction, valid=valid, weight=weight)
    return nan_if_nonfinite(loss, logits)


register_loss("nce", normalized_cross_entropy, kind=CLASSIFICATION_OR_DENSE)


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
    log_probs, log_p_y, valid = _prepare(logits, targets, "nce_rce", ignore_index, weight)
    loss = alpha * _normalized_ce_terms(log_probs, log_p_y) + beta * -math.log(label_floor) * _one_minus_exp(log_p_y)
    return nan_if_nonfinite(reduce_loss(loss, reduction, valid=valid, weight=weight), logits)


register_loss(
    "nce_rce",
    nce_rce,
    kind=CLASSIFICATION_OR_DENSE,
    alpha=non_negative,
    beta=non_negative,
    label_floor=label_floor_range,
)


def generalized_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    q: float,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """GCE (Zhang & Sabuncu 2018) = (1 - p_y^q) / q, q in (0, 1] (q -> 0 is CE, q = 1 is MAE/2);
    p_y^q = exp(q log p_y), via expm1 so that small q stays accurate."""
    _, log_p_y, valid = _prepare(logits, targets, "generalized_cross_entropy", ignore_index, weight)
    loss = reduce_loss(_one_minus_exp(q * log_p_y) / q, reduction, valid=valid, weight=weight)
    return nan_if_nonfinite(loss, logits)


# No default q: the published values differ by task, so none would be right for both heads.
register_loss(
    "gce",
    generalized_cross_entropy,
    kind=CLASSIFICATION_OR_DENSE,
    q=in_range(0, 1, low_open=True),
    required_note="the published values differ by task: Zhang & Sabuncu recommend q=0.7, Yang et al.'s "
    "box classifier uses q=0.3, the carpartssegment pixel recipe q=0.4; give it in "
    "cls_loss_kwargs / loss_kwargs",
)
