"""Per-step input checks and the shared reduction used by every loss in this package.

Options are checked once, by `build_loss` (see registry.py). Per step only shapes, dtypes and devices are
checked, which never reads tensor values: no loss forces a device-to-host sync. Target values are the data's
business (an out-of-range target fails in the gather); non-finite logits give a NaN loss, which detectron2's
trainer stops on.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch

from .registry import CLASSIFICATION, CLASSIFICATION_OR_DENSE, DENSE

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def compute_dtype_logits(logits: torch.Tensor) -> torch.Tensor:
    """fp16/bf16 logits are upcast to float32 (softmax needs the range); float32/float64 pass unchanged."""
    return logits.float() if logits.dtype in _LOW_PRECISION else logits


def check_input_tensor(
    value: Any, arg: str, name: str, *, floating: bool, shape: Tuple[int, ...], shape_words: str, device: torch.device
) -> None:
    """A per-step tensor input besides logits and targets (weight, image tags, confusion matrix): its dtype (floating
    or bool), shape (`shape_words` names it: "(N, C)") and device."""
    is_tensor = isinstance(value, torch.Tensor)
    if not (is_tensor and (value.is_floating_point() if floating else value.dtype == torch.bool)):
        raise ValueError(
            f"{name}: {arg} must be a {'floating' if floating else 'bool'} tensor, got "
            f"{getattr(value, 'dtype', type(value).__name__)}"
        )
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name}: {arg} shape {tuple(value.shape)} must be {shape_words} = {tuple(shape)}")
    if value.device != device:
        raise ValueError(f"{name}: {arg} on {value.device} but logits on {device}; move them together")


def check_loss_inputs(
    logits: torch.Tensor,
    targets: torch.Tensor,
    name: str,
    *,
    ignore_index: Optional[int] = None,
    weight: Optional[torch.Tensor] = None,
    kind: str = CLASSIFICATION_OR_DENSE,
) -> Optional[torch.Tensor]:
    """The per-step input checks of every loss: shapes, dtypes and devices (never tensor values: no host sync).
    logits (N, C) or (N, C, *spatial) floating as `kind` allows, targets (N, *spatial) integer, weight shaped like
    targets. Returns the mask of non-ignored targets (None when nothing can be ignored)."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise ValueError(
            f"{name}: logits and targets must be torch.Tensor, got {type(logits).__name__} and {type(targets).__name__}"
        )
    if not logits.is_floating_point():
        raise ValueError(f"{name}: logits must be a floating tensor, got dtype {logits.dtype}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise ValueError(f"{name}: targets must be an integer tensor of class indices, got dtype {targets.dtype}")
    if kind == DENSE and logits.dim() < 3:
        raise ValueError(f"{name}: expects dense logits (N, C, H, W), got shape {tuple(logits.shape)}")
    if kind == CLASSIFICATION and logits.dim() != 2:
        raise ValueError(f"{name}: expects classification logits (N, C), got shape {tuple(logits.shape)}")
    if logits.dim() < 2:
        raise ValueError(f"{name}: logits must be (N, C) or (N, C, H, W), got shape {tuple(logits.shape)}")
    expected = (logits.shape[0],) + tuple(logits.shape[2:])
    if tuple(targets.shape) != expected:
        raise ValueError(
            f"{name}: targets shape {tuple(targets.shape)} does not match logits "
            f"{tuple(logits.shape)}; expected {expected} (logits with the class axis removed)"
        )
    num_classes = logits.shape[1]
    if num_classes < 2:
        raise ValueError(f"{name}: need at least 2 classes on logits axis 1, got {num_classes}")
    if targets.device != logits.device:
        raise ValueError(f"{name}: targets on {targets.device} but logits on {logits.device}; move them together")
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise ValueError(
            f"{name}: ignore_index={ignore_index} is a real class index for {num_classes} classes; "
            f"pass ignore_index=None (no ignored targets) or a negative value"
        )
    if weight is not None:
        check_input_tensor(
            weight,
            "weight",
            name,
            floating=True,
            shape=targets.shape,
            shape_words="the targets' shape",
            device=logits.device,
        )
    return None if ignore_index is None else targets != ignore_index


def check_mask_inputs(
    logits: torch.Tensor,
    targets: torch.Tensor,
    name: str,
    *,
    weight: Optional[torch.Tensor] = None,
    roi_sizes: Optional[torch.Tensor] = None,
) -> None:
    """The per-step checks of a mask loss (metadata only, no host sync): logits (R, M, M) floating, targets of the
    same shape, floating or bool (values in [0, 1]: the cropped ground-truth masks), weight shaped like them,
    roi_sizes (R,) floating; all on the logits' device."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise ValueError(
            f"{name}: logits and targets must be torch.Tensor, got {type(logits).__name__} and {type(targets).__name__}"
        )
    if not logits.is_floating_point():
        raise ValueError(f"{name}: logits must be a floating tensor, got dtype {logits.dtype}")
    if logits.dim() != 3:
        raise ValueError(f"{name}: expects per-RoI mask logits (R, M, M), got shape {tuple(logits.shape)}")
    if not (targets.is_floating_point() or targets.dtype == torch.bool):
        raise ValueError(f"{name}: targets must be float masks in [0, 1] or bool masks, got dtype {targets.dtype}")
    if tuple(targets.shape) != tuple(logits.shape):
        raise ValueError(f"{name}: targets shape {tuple(targets.shape)} must equal the logits' {tuple(logits.shape)}")
    if targets.device != logits.device:
        raise ValueError(f"{name}: targets on {targets.device} but logits on {logits.device}; move them together")
    if weight is not None:
        check_input_tensor(
            weight,
            "weight",
            name,
            floating=True,
            shape=targets.shape,
            shape_words="the targets' shape",
            device=logits.device,
        )
    if roi_sizes is not None:
        check_input_tensor(
            roi_sizes,
            "roi_sizes",
            name,
            floating=True,
            shape=targets.shape[:1],
            shape_words="(R,)",
            device=logits.device,
        )


def nan_if_nonfinite(loss: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """`loss`, or NaN where any logit is NaN or +-inf. Some losses (Lovasz's sort, a clamp, a masked softmax, or
    CE whose non-finite logit sits on an ignored pixel) would otherwise return a finite value and slip past
    detectron2's finite-loss check; this keeps every loss alike without a host sync. One sum (float32 at least)
    tells it: NaN and +-inf carry through a sum, and a pass over the logits that builds no bool tensor costs a
    few percent of a softmax loss (`torch.isfinite(logits).all()` cost a third)."""
    total = logits.detach().sum(dtype=torch.float64 if logits.dtype == torch.float64 else torch.float32)
    return torch.where(torch.isfinite(total), loss, torch.full((), float("nan"), dtype=loss.dtype, device=loss.device))


def safe_targets(targets: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """int64 targets with ignored entries set to class 0, safe to index with (their loss is masked later)."""
    return targets.long() if valid is None else targets.long().masked_fill(~valid, 0)


def target_log_prob(log_probs: torch.Tensor, targets: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """log p_y per sample/pixel from log_probs (N, C, ...); ignored targets read class 0 (masked later)."""
    return log_probs.gather(1, safe_targets(targets, valid).unsqueeze(1)).squeeze(1)


def reduce_loss(
    loss: torch.Tensor,
    reduction: str,
    *,
    valid: Optional[torch.Tensor] = None,
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Per-element loss -> reduced loss. weight multiplies; ignored elements are 0; "mean" divides by the
    number of non-ignored elements (NOT the sum of weights); an empty batch gives 0 with a graph."""
    if weight is not None:
        loss = loss * weight.to(loss.dtype)
    if valid is not None:
        loss = torch.where(valid, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    count = loss.numel() if valid is None else valid.sum()
    if isinstance(count, int):
        return total / max(count, 1)
    return total / count.clamp_min(1).to(total.dtype)
