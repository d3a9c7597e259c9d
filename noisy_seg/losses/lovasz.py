"""Lovasz-softmax loss (Berman et al., CVPR 2018), a convex surrogate of mean IoU, vectorized over classes."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ._validate import check_loss_inputs, compute_dtype_logits, nan_if_nonfinite
from .options import boolean, either, integer, one_of, sequence_of
from .registry import DENSE, register_loss

LovaszClasses = Union[str, Sequence[int]]
_NAME = "lovasz_softmax"


def _lovasz_per_class(probs: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor):
    """probs (G, C, P), targets (G, P) (ignored entries arbitrary), valid (G, P) ->
    ((G, C) per-class losses, (G, C) foreground pixel counts). Sorting runs along the contiguous last axis."""
    num_classes = probs.shape[1]
    classes = torch.arange(num_classes, device=targets.device).view(1, -1, 1)
    foreground = ((targets.unsqueeze(1) == classes) & valid.unsqueeze(1)).to(probs.dtype)
    errors = (foreground - probs).abs()
    # Ignored pixels get error -1 so the descending sort puts them last, where they change no earlier Jaccard
    # term; their contribution is then masked to 0.
    errors = torch.where(valid.unsqueeze(1), errors, torch.full((), -1.0, dtype=errors.dtype, device=errors.device))
    errors_sorted, order = torch.sort(errors, dim=-1, descending=True)
    foreground_sorted = foreground.gather(-1, order)
    foreground_total = foreground_sorted.sum(dim=-1, keepdim=True)
    intersection = foreground_total - foreground_sorted.cumsum(dim=-1)
    union = foreground_total + (1.0 - foreground_sorted).cumsum(dim=-1)  # >= 1 everywhere
    jaccard = 1.0 - intersection / union
    lovasz_gradient = torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], dim=-1)
    kept_errors = torch.where(
        errors_sorted >= 0, errors_sorted, torch.zeros((), dtype=errors.dtype, device=errors.device)
    )
    return (kept_errors * lovasz_gradient).sum(dim=-1), foreground_total.squeeze(-1)


def lovasz_softmax(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    classes: LovaszClasses = "present",
    ignore_index: Optional[int] = 255,
    per_image: bool = False,
) -> torch.Tensor:
    """Scalar Lovasz-softmax loss for logits (N, C, H, W) and targets (N, H, W).
    classes: "present" (classes in the non-ignored targets), "all", or a list of class indices; the loss is
    the mean over those classes of the Lovasz extension of the per-class Jaccard loss.
    per_image: compute it per image and average over the images that have non-ignored pixels (Berman's code
    also averages in all-ignored images as 0); otherwise over the whole batch as one image."""
    valid = check_loss_inputs(logits, targets, _NAME, ignore_index=ignore_index, kind=DENSE)
    if valid is None:
        valid = torch.ones_like(targets, dtype=torch.bool)
    num_classes = logits.shape[1]
    if not isinstance(classes, str) and max(classes) >= num_classes:
        raise ValueError(f"{_NAME}: classes {list(classes)} contains an index >= C={num_classes}")

    probs = F.softmax(compute_dtype_logits(logits), dim=1)
    if per_image:  # flatten, not reshape(N, C, -1): an empty batch (N = 0) leaves -1 undefined
        probs, valid, flat_targets = probs.flatten(2), valid.flatten(1), targets.flatten(1)  # views
    else:
        probs = probs.transpose(0, 1).reshape(1, num_classes, -1)
        valid, flat_targets = valid.reshape(1, -1), targets.reshape(1, -1)
    flat_targets = flat_targets.masked_fill(~valid, 0)
    losses, foreground_counts = _lovasz_per_class(probs, flat_targets, valid)

    if classes == "present":
        selected = foreground_counts > 0
    elif classes == "all":
        selected = torch.ones_like(losses, dtype=torch.bool)
    else:
        selected = torch.zeros_like(losses, dtype=torch.bool)
        selected[:, list(classes)] = True
    selected_counts = selected.sum(dim=1)
    zero = torch.zeros((), dtype=losses.dtype, device=losses.device)
    per_group = torch.where(selected, losses, zero).sum(dim=1) / selected_counts.clamp_min(1).to(losses.dtype)
    if not per_image:
        return nan_if_nonfinite(per_group[0], logits)
    image_has_pixels = valid.any(dim=1)
    loss = torch.where(image_has_pixels, per_group, zero).sum() / image_has_pixels.sum().clamp_min(1).to(losses.dtype)
    return nan_if_nonfinite(loss, logits)


register_loss(
    "lovasz",
    lovasz_softmax,
    kind=DENSE,
    classes=either(one_of("present", "all"), sequence_of(integer(0))),
    per_image=boolean,
)
