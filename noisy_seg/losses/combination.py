"""The combination loss of Yang et al. 2020 ("Learning with noisy class labels for instance segmentation")
for the ROI box classifier: CE for the foreground-background sub-task, RCE for the foreground-instance one.

The same split carried to pixels (dense logits, semantic heads): pixels labelled or predicted as a background
class (``bg_index``: one class or a set, e.g. background/void) get CE, pixels labelled and predicted as
foreground classes get RCE; ignored pixels (``ignore_index``) get nothing.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ._validate import (
    check_loss_inputs,
    compute_dtype_logits,
    nan_if_nonfinite,
    reduce_loss,
    safe_targets,
    target_log_prob,
)
from .classification import label_floor_range, released_ce_rce
from .options import boolean, either, integer, non_negative, optional, positive, sequence_of
from .registry import CLASSIFICATION_OR_DENSE, register_loss

_NAME = "combination_loss"


Background = Union[int, Sequence[int]]


def _backgrounds(bg_index: Background) -> tuple:
    return (bg_index,) if isinstance(bg_index, int) else tuple(bg_index)


def _predicted_background(logits: torch.Tensor, backgrounds: tuple) -> torch.Tensor:
    """argmax(logits, dim=1) in `backgrounds`, without the argmax on dense logits: on CPU an argmax across the
    class axis of (N, C, H, W) is ~70x slower than a max, and the same answer comes from maxima. argmax returns
    the first maximum, so class b is the prediction iff z_b is the maximum and every earlier class is below it."""
    if logits.dim() == 2:
        predicted = logits.argmax(dim=1)
        hit = predicted == backgrounds[0]
        for background in backgrounds[1:]:
            hit |= predicted == background
        return hit
    top = logits.amax(dim=1)
    hit = None
    for background in backgrounds:
        is_first_max = logits[:, background] >= top
        if background > 0:
            is_first_max &= logits[:, :background].amax(dim=1) < logits[:, background]
        hit = is_first_max if hit is None else hit | is_first_max
    return hit


def foreground_instance_mask(logits: torch.Tensor, targets: torch.Tensor, bg_index: Background) -> torch.Tensor:
    """Bool shaped like targets: RoIs / pixels labelled foreground AND predicted (argmax, no gradient) foreground.
    bg_index: the background class, or a set of them (compared one by one: no host-device copy)."""
    backgrounds = _backgrounds(bg_index)
    labelled_background = targets == backgrounds[0]
    for background in backgrounds[1:]:
        labelled_background |= targets == background
    return ~(labelled_background | _predicted_background(logits.detach(), backgrounds))


def combination_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    bg_index: Background,
    ce_weight: float = 1.0,
    rce_weight: float = 1.0,
    label_floor: float = 1e-4,
    floored_ce: bool = False,
    pon_threshold: Optional[float] = None,
    ignore_index: Optional[int] = 255,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """logits (N, C) with targets (N,), or dense (N, C, H, W) with targets (N, H, W). With pred = argmax(logits):
    group 1 (y == bg or pred == bg) gets CE, group 2 (y != bg and pred != bg) gets RCE only, and
    L = ce_weight * mean(g1 * CE) + rce_weight * mean(g2 * RCE), both means over ALL N RoIs (pixels: all
    non-ignored pixels). bg_index: the background class (detectron2's box head: num_classes, filled in) or a set.
    pon_threshold: zero the loss of group-2 RoIs whose CE exceeds it ("potential noisy" filter).
    weight (N,) multiplies the per-RoI loss; "mean" still divides by N. "none" gives the per-RoI loss (N,).
    With no RoI in group 2 this equals cross entropy.
    floored_ce: CE and RCE exactly as the released code computes them (against the floored one-hot, with
    probabilities clamped at 1e-7; see `released_ce_rce`), for a faithful reproduction; the default is the
    textbook CE."""
    valid = check_loss_inputs(logits, targets, _NAME, ignore_index=ignore_index, weight=weight)
    num_classes = logits.shape[1]
    if max(_backgrounds(bg_index)) >= num_classes:
        raise ValueError(f"{_NAME}: bg_index={bg_index} must lie in [0, {num_classes}) for {num_classes} logits")

    if floored_ce:
        ce, rce = released_ce_rce(logits, safe_targets(targets, valid), label_floor)
    else:
        log_p_y = target_log_prob(F.log_softmax(compute_dtype_logits(logits), dim=1), targets, valid)
        ce = -log_p_y
        rce = -math.log(label_floor) * -torch.expm1(log_p_y)
    in_instance_group = foreground_instance_mask(logits, targets, bg_index)
    if pon_threshold is not None:
        kept = ~(in_instance_group & (ce.detach() > pon_threshold))
    else:
        kept = torch.ones_like(in_instance_group)
    zero = torch.zeros((), dtype=ce.dtype, device=ce.device)
    per_roi = torch.where(in_instance_group, rce_weight * rce, ce_weight * ce)
    per_roi = torch.where(kept, per_roi, zero)
    return nan_if_nonfinite(reduce_loss(per_roi, reduction, valid=valid, weight=weight), logits)


# bg_index is detectron2's background logit, num_classes: the box head fills it in; semantic heads take a set.
register_loss(
    "combination",
    combination_loss,
    kind=CLASSIFICATION_OR_DENSE,
    needs_bg_index=True,
    bg_index=either(integer(0), sequence_of(integer(0))),
    ce_weight=non_negative,
    rce_weight=non_negative,
    label_floor=label_floor_range,
    floored_ce=boolean,
    pon_threshold=optional(positive),
    required_note="the background logit (noisy_seg's box predictor fills in num_classes) or, for a "
    "semantic head, the background class(es), e.g. bg_index=[0]",
)
