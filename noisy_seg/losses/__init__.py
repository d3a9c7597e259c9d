"""Noise-robust losses on logits (plain torch, any device, autocast-safe).

Conventions shared by every loss here:
- logits (N, C) with integer targets (N,) (ROI box classifier: background is the LAST index, as in
  detectron2), or dense logits (N, C, H, W) with targets (N, H, W); the class axis is always 1.
- `ignore_index` (default 255, None disables; the combination loss has none) marks targets that contribute
  0 and get no gradient. An ignore_index that is a real class index (0 <= ignore_index < C) is an error.
- `weight` shaped like targets multiplies the per-element loss. reduction "mean" divides by the number of
  non-ignored elements, NOT by the sum of weights; "sum" sums; "none" returns the per-element loss with 0 at
  ignored elements. An empty batch (or all targets ignored) gives 0, not nan.
- fp16/bf16 logits are upcast to float32 before the softmax; float64 stays float64.
- mask losses (`kind=MASK`, `mask.py`) take the ROI mask head's per-RoI logits (R, M, M) and the cropped
  ground-truth masks (R, M, M), float in [0, 1] or bool; "mean" averages over all pixels, as detectron2's mask BCE.

Registration: each loss is one function with its options as keyword-only parameters, and one line below it,
`register_loss("gce", generalized_cross_entropy, kind=CLASSIFICATION_OR_DENSE, q=in_range(0, 1, low_open=True))`,
that names it, says what logits it takes and constrains its options (`options.py`); defaults come from the
signature. `build_loss(name, **options)` checks the options once and returns an nn.Module called as
`loss(logits, targets, weight=None)`; `loss_spec(name)` gives its kind and needs (bg_index, image tags).
"""

from .classification import (
    cross_entropy,
    generalized_cross_entropy,
    mean_absolute_error,
    nce_rce,
    normalized_cross_entropy,
    reverse_cross_entropy,
    symmetric_cross_entropy,
)
from .combination import combination_loss, foreground_instance_mask
from .dense import ce_dice_loss, class_aware_cross_entropy, dice_loss, focal_loss, present_classes
from .lovasz import lovasz_softmax
from .mask import (
    binary_cross_entropy,
    boundary_band,
    boundary_preserving_bce,
    boundary_tolerant_bce,
    dice_bce,
    hard_bootstrapped_bce,
    pixel_generalized_cross_entropy,
    soft_bootstrapped_bce,
    symmetric_binary_cross_entropy,
)
from .region_aware import RegionAwareLoss, confusion_ema_update, region_aware_loss
from .registry import (
    CLASSIFICATION,
    CLASSIFICATION_OR_DENSE,
    DENSE,
    LOSS_REGISTRY,
    MASK,
    LossModule,
    LossSpec,
    available_losses,
    build_loss,
    loss_spec,
    loss_spec_for,
    register_loss,
)

__all__ = [
    "LOSS_REGISTRY",
    "LossModule",
    "LossSpec",
    "CLASSIFICATION",
    "DENSE",
    "CLASSIFICATION_OR_DENSE",
    "MASK",
    "available_losses",
    "build_loss",
    "loss_spec",
    "loss_spec_for",
    "register_loss",
    # classification (also dense: class axis 1)
    "cross_entropy",
    "reverse_cross_entropy",
    "symmetric_cross_entropy",
    "mean_absolute_error",
    "normalized_cross_entropy",
    "nce_rce",
    "generalized_cross_entropy",
    # ROI box classifier
    "combination_loss",
    "foreground_instance_mask",
    # dense
    "class_aware_cross_entropy",
    "present_classes",
    "focal_loss",
    "dice_loss",
    "ce_dice_loss",
    "lovasz_softmax",
    "region_aware_loss",
    "confusion_ema_update",
    "RegionAwareLoss",
    # ROI mask head: (R, M, M) logits against the cropped ground-truth masks
    "binary_cross_entropy",
    "symmetric_binary_cross_entropy",
    "pixel_generalized_cross_entropy",
    "soft_bootstrapped_bce",
    "hard_bootstrapped_bce",
    "boundary_band",
    "boundary_tolerant_bce",
    "dice_bce",
    "boundary_preserving_bce",
]
